from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.conftest import client_for
from tests.portal.helpers import reproduction_underway
from tracker.reproductions.models import Claim, ResultLog, Status
from tracker.teams.models import ApiToken, hash_token
from tracker.teams.services import api_token_create, api_token_revoke


def post(client: Client, url: str, body: dict, token: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def setup(cast):  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    _, ben_token = api_token_create(user=cast.ben, team=cast.vision, name="cluster")
    _, carol_token = api_token_create(user=cast.carol, team=cast.language, name="carol")
    return repro, claim, ben_token, carol_token


def test_a_training_script_logs_a_result_with_its_token(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    Claim.objects.filter(pk=claim.pk).update(shots=0)
    response = post(
        Client(enforce_csrf_checks=True),
        f"/api/reproductions/{repro.pk}/results/",
        {
            "claim": claim.pk,
            "reproduced_value": 69.1,
            "seeds": [0, 1, 2],
            "spread": 0.2,
            "shots": 0,
            "compute_gpu_hours": 4.5,
            "run_url": "https://wandb.ai/team/run/1",
        },
        token,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reproduction"]["claims"][0]["verdict"] == Status.NOT_REPRODUCED
    result = ResultLog.objects.get()
    assert result.seeds == [0, 1, 2] and result.logged_by == cast.ben
    assert ApiToken.objects.get(user=cast.ben).last_used_at is not None


def test_status_changes_through_the_api(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    client = Client(enforce_csrf_checks=True)
    post(
        client,
        f"/api/reproductions/{repro.pk}/results/",
        {"claim": claim.pk, "reproduced_value": 71.2},
        token,
    )
    response = post(
        client, f"/api/reproductions/{repro.pk}/status/", {"status": "reproduced"}, token
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "reproduced"
    bad = post(client, f"/api/reproductions/{repro.pk}/status/", {"status": "accepted"}, token)
    assert bad.status_code == 400


def test_no_token_bad_token_or_revoked_token_is_401(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    client = Client()
    url = f"/api/reproductions/{repro.pk}/results/"
    body = {"claim": claim.pk, "reproduced_value": 1}
    assert post(client, url, body).status_code == 401
    assert post(client, url, body, "pt_wrong").status_code == 401
    api_token_revoke(ApiToken.objects.get(user=cast.ben))
    assert post(client, url, body, token).status_code == 401
    assert not ResultLog.objects.exists()


def test_a_session_cookie_is_not_enough_for_the_api(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, _, _ = setup
    client = client_for(cast.ben)
    response = post(
        client,
        f"/api/reproductions/{repro.pk}/results/",
        {"claim": claim.pk, "reproduced_value": 1},
    )
    assert response.status_code == 401


def test_another_teams_ids_are_404(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, _, carol_token = setup
    client = Client()
    assert (
        client.get(
            f"/api/reproductions/{repro.pk}/", headers={"Authorization": f"Bearer {carol_token}"}
        ).status_code
        == 404
    )
    assert (
        post(
            client,
            f"/api/reproductions/{repro.pk}/results/",
            {"claim": claim.pk, "reproduced_value": 1},
            carol_token,
        ).status_code
        == 404
    )
    assert (
        post(
            client,
            f"/api/reproductions/{repro.pk}/status/",
            {"status": "abandoned", "reason": "x"},
            carol_token,
        ).status_code
        == 404
    )


def test_a_member_who_is_not_assigned_gets_403(cast, setup) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import MembershipFactory, UserFactory

    repro, claim, _, _ = setup
    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    _, dan_token = api_token_create(user=dan, team=cast.vision, name="dan")
    response = post(
        Client(),
        f"/api/reproductions/{repro.pk}/results/",
        {"claim": claim.pk, "reproduced_value": 1},
        dan_token,
    )
    assert response.status_code == 403


def test_a_token_dies_with_its_membership(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, _, token, _ = setup
    cast.ben.memberships.all().delete()
    assert (
        Client()
        .get(f"/api/reproductions/{repro.pk}/", headers={"Authorization": f"Bearer {token}"})
        .status_code
        == 401
    )


def test_invalid_bodies_get_clear_errors(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, _, token, _ = setup
    client = Client()
    response = client.post(
        f"/api/reproductions/{repro.pk}/results/",
        "not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    response = post(
        client,
        f"/api/reproductions/{repro.pk}/results/",
        {"claim": 999999, "reproduced_value": "x"},
        token,
    )
    assert response.status_code == 400
    # The body's types are checked first; a well-typed body is then checked against the data.
    assert set(response.json()["fields"]) == {"reproduced_value"}
    response = post(
        client,
        f"/api/reproductions/{repro.pk}/results/",
        {"claim": 999999, "reproduced_value": 70},
        token,
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"claim"}


def test_openapi_document_is_served_to_members_and_token_holders(cast, setup) -> None:  # type: ignore[no-untyped-def]
    _, _, token, _ = setup
    assert Client().get("/api/openapi.json").status_code == 401
    doc = Client().get("/api/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    assert doc["openapi"].startswith("3.")
    assert "/reproductions/{id}/results/" in doc["paths"]
    assert client_for(cast.ben).get("/api/openapi.json").status_code == 200


def test_tokens_page_creates_shows_once_and_revokes(cast) -> None:  # type: ignore[no-untyped-def]
    client = client_for(cast.ben)
    page = client.post("/tokens/", {"name": "laptop"}).content.decode()
    token = ApiToken.objects.get(user=cast.ben)
    raw = re.search(r"pt_[\w-]{20,}", page).group(0)
    assert hash_token(raw) == token.key_hash and token.key_hash not in page
    assert raw not in client.get("/tokens/").content.decode()
    assert client_for(cast.carol).post(f"/tokens/{token.pk}/revoke/").status_code == 404
    client.post(f"/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert not token.is_active


def raw_post(client: Client, url: str, raw: str, token: str):  # type: ignore[no-untyped-def]
    return client.post(
        url, raw, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def assert_json_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    """A refused call answers JSON with one plain message, never an HTML page."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in body["error"]
    return body


@pytest.mark.parametrize("field", ["reproduced_value", "spread"])
def test_a_number_too_large_for_a_float_is_400_and_stores_nothing(cast, setup, field) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    huge = "1" + "0" * 400
    values = {"reproduced_value": "70", "spread": "0.1", field: huge}
    raw = (
        f'{{"claim": {claim.pk}, "reproduced_value": {values["reproduced_value"]}, '
        f'"spread": {values["spread"]}}}'
    )
    response = raw_post(Client(), f"/api/reproductions/{repro.pk}/results/", raw, token)
    body = assert_json_error(response, 400)
    assert field in body["fields"]
    assert not ResultLog.objects.exists()


@pytest.mark.parametrize("text", ["\\ud800", "fp16 \\u0000 run"])
def test_a_note_with_a_lone_surrogate_or_nul_is_400_and_stores_nothing(cast, setup, text) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    raw = f'{{"claim": {claim.pk}, "reproduced_value": 70, "note": "{text}"}}'
    response = raw_post(Client(), f"/api/reproductions/{repro.pk}/results/", raw, token)
    body = assert_json_error(response, 400)
    assert "note" in body["fields"]
    assert not ResultLog.objects.exists()


@pytest.mark.parametrize("endpoint", ["results", "status"])
def test_a_body_nested_100000_deep_is_400(cast, setup, endpoint) -> None:  # type: ignore[no-untyped-def]
    repro, _, token, _ = setup
    response = raw_post(
        Client(), f"/api/reproductions/{repro.pk}/{endpoint}/", "[" * 100_000, token
    )
    assert "JSON" in assert_json_error(response, 400)["error"]
    repro.refresh_from_db()
    assert repro.status == Status.IN_PROGRESS and not ResultLog.objects.exists()


def test_compute_past_the_columns_range_is_400_and_later_results_still_log(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    client = Client()
    url = f"/api/reproductions/{repro.pk}/results/"
    first = post(
        client, url, {"claim": claim.pk, "reproduced_value": 70, "compute_gpu_hours": 3}, token
    )
    assert first.status_code == 201, first.content
    response = post(
        client,
        url,
        {"claim": claim.pk, "reproduced_value": 70, "compute_gpu_hours": 99999999.99},
        token,
    )
    body = assert_json_error(response, 400)
    assert "compute_gpu_hours" in body["fields"]
    repro.refresh_from_db()
    assert repro.compute_spent_gpu_hours == 3 and ResultLog.objects.count() == 1
    later = post(
        client, url, {"claim": claim.pk, "reproduced_value": 71, "compute_gpu_hours": 2}, token
    )
    assert later.status_code == 201, later.content
    assert (
        client.get(
            f"/api/reproductions/{repro.pk}/", headers={"Authorization": f"Bearer {token}"}
        ).json()["compute_spent_gpu_hours"]
        == 5
    )


@pytest.mark.parametrize("reason", [5, ["not", "a", "string"], {"a": 1}])
def test_a_reason_that_is_not_a_string_is_400(cast, setup, reason) -> None:  # type: ignore[no-untyped-def]
    repro, _, token, _ = setup
    response = post(
        Client(),
        f"/api/reproductions/{repro.pk}/status/",
        {"status": "abandoned", "reason": reason},
        token,
    )
    assert "reason" in assert_json_error(response, 400)["fields"]
    repro.refresh_from_db()
    assert repro.status == Status.IN_PROGRESS


def test_unknown_paths_and_non_integer_ids_are_json_404(cast, setup) -> None:  # type: ignore[no-untyped-def]
    _, _, token, _ = setup
    auth = {"Authorization": f"Bearer {token}"}
    for url in ("/api/reproductions/abc/", "/api/reproductions/1.5/results/", "/api/nothing"):
        assert_json_error(Client().get(url, headers=auth), 404)
    assert_json_error(
        post(Client(), "/api/reproductions/abc/status/", {"status": "accepted"}, token), 404
    )


def test_wrong_methods_are_json_405(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, _, token, _ = setup
    auth = {"Authorization": f"Bearer {token}"}
    client = Client()
    assert_json_error(client.get(f"/api/reproductions/{repro.pk}/results/", headers=auth), 405)
    assert_json_error(client.delete(f"/api/reproductions/{repro.pk}/", headers=auth), 405)
    assert_json_error(client.put("/api/openapi.json", headers=auth), 405)


def test_post_to_the_openapi_document_is_json_405_not_a_csrf_page(cast, setup) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.ben)
    assert_json_error(client.post("/api/openapi.json", {}), 405)


def test_the_openapi_document_declares_the_limits_the_api_enforces(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    doc = Client().get("/api/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    schemas = doc["components"]["schemas"]
    note = schemas["ResultIn"]["properties"]["note"]
    assert note["maxLength"] == 5000
    reason = schemas["StatusIn"]["properties"]["reason"]
    assert reason["type"] == "string" and reason["maxLength"] == 2000
    # What the document declares is what the API refuses.
    too_long = post(
        Client(),
        f"/api/reproductions/{repro.pk}/results/",
        {"claim": claim.pk, "reproduced_value": 70, "note": "x" * 5001},
        token,
    )
    assert "note" in assert_json_error(too_long, 400)["fields"]


@pytest.mark.parametrize("raw", ["{}", "not json", "[" * 100_000, '{"status": 5}'])
def test_another_teams_id_is_404_whatever_the_body(cast, setup, raw) -> None:  # type: ignore[no-untyped-def]
    repro, _, _, carol_token = setup
    for endpoint in ("results", "status"):
        response = raw_post(
            Client(), f"/api/reproductions/{repro.pk}/{endpoint}/", raw, carol_token
        )
        assert_json_error(response, 404)


def test_an_empty_body_or_a_bad_link_gets_a_plain_message(cast, setup) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    url = f"/api/reproductions/{repro.pk}/results/"
    empty = assert_json_error(raw_post(Client(), url, "", token), 400)
    assert empty["error"] == "The body must be a JSON object."
    body = {"claim": claim.pk, "reproduced_value": 70, "run_url": "ftp://example.org/run"}
    link = assert_json_error(post(Client(), url, body, token), 400)
    assert link["fields"]["run_url"][0]["message"] == "A run link is an http(s) URL."
    assert not ResultLog.objects.exists()


def test_a_reproduction_at_the_compute_limit_still_takes_results_without_compute(
    cast, setup
) -> None:  # type: ignore[no-untyped-def]
    repro, claim, token, _ = setup
    client = Client()
    url = f"/api/reproductions/{repro.pk}/results/"
    full = post(
        client,
        url,
        {"claim": claim.pk, "reproduced_value": 70, "compute_gpu_hours": 99999999.99},
        token,
    )
    assert full.status_code == 201, full.content
    over = post(
        client, url, {"claim": claim.pk, "reproduced_value": 70, "compute_gpu_hours": 0.01}, token
    )
    assert "compute_gpu_hours" in assert_json_error(over, 400)["fields"]
    later = post(client, url, {"claim": claim.pk, "reproduced_value": 71.5}, token)
    assert later.status_code == 201, later.content
    assert ResultLog.objects.count() == 2


def test_an_unknown_api_path_without_a_token_is_json_401(cast) -> None:  # type: ignore[no-untyped-def]
    response = Client().get("/api/reproductions/abc/")
    assert_json_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
