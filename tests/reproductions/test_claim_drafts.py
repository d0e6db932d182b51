"""Drafted claims: made for every new paper after its upsert commits, shown on the paper
page to each team, and accepted (as drafted or edited) or rejected by one of its members."""

from __future__ import annotations

from unittest import mock

import pytest

from pipeline.records import PaperRecord
from tests.conftest import Cast, client_for
from tests.factories import LabReportFactory, PaperFactory
from tracker.papers.services import CLAIM_DRAFT_BATCH, lab_report_upsert, papers_upsert
from tracker.reproductions import services
from tracker.reproductions.models import Claim, ClaimDraft, ClaimDraftDecision, DraftDecision
from tracker.reproductions.selectors import paper_claim_drafts
from tracker.reproductions.services import claim_drafts_create
from workers.tasks import draft_claims_task

ABSTRACT = (
    "We present Foo, trained on 12 datasets. Foo achieves 84.2% accuracy on ImageNet. "
    "It decodes 3.1x faster than the baseline."
)


def _accept_data(**overrides: object) -> dict[str, object]:
    data = {
        "metric": "accuracy",
        "dataset": "ImageNet",
        "claimed_value": "84.2",
        "higher_is_better": "1",
        "tolerance": "0.5",
        "setting": "",
    }
    return {**data, **overrides}


@pytest.fixture
def drafted(db: None):  # type: ignore[no-untyped-def]
    paper = PaperFactory(abstract=ABSTRACT, comment="Accepted at a 2025 venue, 9 pages")
    assert claim_drafts_create([paper.pk]) == 2
    return paper


def test_drafts_are_stored_in_text_order_with_their_fields(drafted) -> None:  # type: ignore[no-untyped-def]
    drafts = list(drafted.claim_drafts.order_by("position"))
    assert [(d.value, d.unit, d.metric, d.dataset, d.kind) for d in drafts] == [
        (84.2, "%", "accuracy", "ImageNet", "absolute"),
        (3.1, "x", "speedup", "", "ratio"),
    ]
    assert drafts[0].quote == "Foo achieves 84.2% accuracy on ImageNet."
    assert {d.backend for d in drafts} == {"rules"}


def test_drafting_twice_adds_nothing(drafted) -> None:  # type: ignore[no-untyped-def]
    assert draft_claims_task([drafted.pk]) == 0
    assert ClaimDraft.objects.filter(paper=drafted).count() == 2


def test_one_paper_failing_to_draft_does_not_block_the_others(db: None) -> None:
    bad, good = PaperFactory(abstract=ABSTRACT), PaperFactory(abstract=ABSTRACT)
    real = services.draft_claims

    def flaky(title: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if title == bad.title:
            raise RuntimeError("boom")
        return real(title, *args, **kwargs)

    with mock.patch("tracker.reproductions.services.draft_claims", flaky):
        assert claim_drafts_create([bad.pk, good.pk]) == 2
    assert not ClaimDraft.objects.filter(paper=bad).exists()
    assert ClaimDraft.objects.filter(paper=good).count() == 2


def test_new_papers_from_an_upsert_are_queued_for_drafting_after_commit(
    db: None, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    record = PaperRecord(title="Foo", arxiv_id="2501.00042", version=1, abstract=ABSTRACT)
    with mock.patch.object(draft_claims_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            result = papers_upsert([record])
        delay.assert_called_once_with(result.paper_ids)
        with django_capture_on_commit_callbacks(execute=True):
            papers_upsert([record])  # nothing new: nothing queued
        assert delay.call_count == 1
    draft_claims_task(result.paper_ids)
    assert ClaimDraft.objects.filter(paper_id=result.paper_ids[0]).count() == 2


def test_a_new_lab_report_is_queued_for_drafting(
    db: None, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    record = PaperRecord(
        title="Qwen3 report", url="https://qwenlm.github.io/blog/q3/", abstract=ABSTRACT
    )
    with (
        mock.patch.object(draft_claims_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        paper, created = lab_report_upsert(record)
    assert created
    delay.assert_called_once_with([paper.pk])


def test_paper_page_shows_the_drafts_with_one_key_accept(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    response = client_for(cast.ben).get(f"/papers/{drafted.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="claim-draft"') == 2
    assert "Foo achieves 84.2% accuracy on ImageNet." in html
    assert html.count('data-page-key="a"') == 1  # the first draft; a focused one takes "a" too
    assert html.count('data-key="a"') == 2 and html.count('data-key="x"') == 2


def test_accepting_a_draft_makes_a_team_claim_and_hides_it_for_that_team_only(
    cast: Cast, drafted
) -> None:  # type: ignore[no-untyped-def]
    draft = drafted.claim_drafts.get(position=0)
    response = client_for(cast.ben).post(f"/claim-drafts/{draft.pk}/accept/", _accept_data())
    assert response.status_code == 302
    assert response["Location"] == f"/papers/{drafted.pk}/#claim-drafts"
    claim = Claim.objects.get()
    assert (claim.team, claim.paper, claim.metric, claim.dataset) == (
        cast.vision,
        drafted,
        "accuracy",
        "ImageNet",
    )
    assert (claim.claimed_value, claim.tolerance, claim.created_by) == (84.2, 0.5, cast.ben)
    decision = ClaimDraftDecision.objects.get()
    assert (decision.decision, decision.claim) == (DraftDecision.ACCEPTED, claim)
    assert [d.position for d in paper_claim_drafts(cast.vision, drafted)] == [1]
    # The other team still has it to decide, and sees nothing of Vision's claim.
    assert [d.position for d in paper_claim_drafts(cast.language, drafted)] == [0, 1]
    page = client_for(cast.carol).get(f"/papers/{drafted.pk}/").content.decode()
    assert page.count('class="claim-draft"') == 2
    assert Claim.objects.for_team(cast.language).count() == 0


def test_an_edited_draft_is_accepted_as_edited(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    draft = drafted.claim_drafts.get(position=1)
    data = _accept_data(metric="decoding speedup", dataset="WMT14", claimed_value="3.0")
    client_for(cast.ada).post(f"/claim-drafts/{draft.pk}/accept/", data)
    claim = Claim.objects.get()
    assert (claim.metric, claim.dataset, claim.claimed_value) == ("decoding speedup", "WMT14", 3.0)


def test_accepting_twice_makes_one_claim_and_says_so(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    draft = drafted.claim_drafts.get(position=0)
    client = client_for(cast.ben)
    client.post(f"/claim-drafts/{draft.pk}/accept/", _accept_data())
    response = client.post(f"/claim-drafts/{draft.pk}/accept/", _accept_data(), follow=True)
    assert Claim.objects.count() == 1
    assert "already decided" in response.content.decode()


def test_rejecting_a_draft_hides_it_and_makes_no_claim(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    draft = drafted.claim_drafts.get(position=1)
    response = client_for(cast.ben).post(f"/claim-drafts/{draft.pk}/reject/")
    assert response.status_code == 302
    assert not Claim.objects.exists()
    assert ClaimDraftDecision.objects.get().decision == DraftDecision.REJECTED
    assert [d.position for d in paper_claim_drafts(cast.vision, drafted)] == [0]


def test_a_draft_without_a_metric_asks_for_one(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    draft = drafted.claim_drafts.get(position=0)
    response = client_for(cast.ben).post(
        f"/claim-drafts/{draft.pk}/accept/", _accept_data(metric=" "), follow=True
    )
    assert not Claim.objects.exists()
    assert not ClaimDraftDecision.objects.exists()
    assert "metric" in response.content.decode()


def test_bad_value_is_a_message_not_a_claim(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    draft = drafted.claim_drafts.get(position=0)
    response = client_for(cast.ben).post(
        f"/claim-drafts/{draft.pk}/accept/", _accept_data(claimed_value="lots"), follow=True
    )
    assert response.status_code == 200
    assert not Claim.objects.exists()
    assert "claimed_value" in response.content.decode()


@pytest.mark.parametrize("action", ["accept", "reject"])
def test_draft_actions_need_post_a_login_and_a_csrf_token(cast: Cast, drafted, action: str) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    draft = drafted.claim_drafts.get(position=0)
    url = f"/claim-drafts/{draft.pk}/{action}/"
    assert client_for(cast.ben).get(url).status_code == 405
    anonymous = Client().post(url, _accept_data())
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.ben)
    assert strict.post(url, _accept_data()).status_code == 403
    assert not ClaimDraftDecision.objects.exists()


def test_unknown_draft_is_a_404(cast: Cast, db: None) -> None:
    assert client_for(cast.ben).post("/claim-drafts/999999/reject/").status_code == 404


def test_lab_report_drafts_come_from_its_post_text(db: None) -> None:
    report = LabReportFactory(abstract="Our model reaches 71.3% on MMLU, up 4.2 points.")
    claim_drafts_create([report.pk])
    assert [(d.value, d.dataset) for d in report.claim_drafts.order_by("position")] == [
        (71.3, "MMLU"),
        (4.2, "MMLU"),
    ]


def test_drafts_of_a_merged_paper_are_closed(cast: Cast, drafted) -> None:  # type: ignore[no-untyped-def]
    survivor = PaperFactory()
    type(drafted).objects.filter(pk=drafted.pk).update(merged_into=survivor)
    draft = drafted.claim_drafts.get(position=0)
    response = client_for(cast.ben).post(
        f"/claim-drafts/{draft.pk}/accept/", _accept_data(), follow=True
    )
    assert "merged into another" in response.content.decode()
    assert not Claim.objects.exists()


def test_a_large_upsert_is_drafted_in_batches(db: None, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    records = [
        PaperRecord(title=f"Paper {i}", arxiv_id=f"2501.{i:05d}", version=1, abstract=ABSTRACT)
        for i in range(CLAIM_DRAFT_BATCH * 2 + 1)
    ]
    with (
        mock.patch.object(draft_claims_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = papers_upsert(records)
    batches = [call.args[0] for call in delay.call_args_list]
    assert [len(batch) for batch in batches] == [CLAIM_DRAFT_BATCH, CLAIM_DRAFT_BATCH, 1]
    assert sorted(pk for batch in batches for pk in batch) == sorted(result.paper_ids)
