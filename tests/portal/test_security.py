"""Team isolation, CSRF, escaping of untrusted paper text, and the CSP, across the portal."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import client_for
from tests.factories import CommentFactory, PaperFactory, RatingFactory
from tests.portal.helpers import reproduction_underway
from tracker.papers.models import PaperSource
from tracker.reproductions.models import Claim, ResultLog
from tracker.teams.services import api_token_create
from tracker.triage.models import Rating

XSS_TITLE = 'Attention <script>alert("t")</script> <img src=x onerror=alert(1)> $x^2$'
XSS_ABSTRACT = (
    'We show $\\alpha < \\beta$ and <a href="javascript:alert(2)">click</a> '
    '<img src=x onerror="alert(3)"> $\\href{javascript:alert(4)}{link}$ '
    "<script>alert(5)</script>"
)


def _team_urls(repro_pk: int, token_pk: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/reproductions/{repro_pk}/", {}),
        ("post", f"/reproductions/{repro_pk}/assign/", {"assignees": []}),
        ("post", f"/reproductions/{repro_pk}/status/", {"to_status": "abandoned", "reason": "x"}),
        ("post", f"/reproductions/{repro_pk}/plan/", {"due_date": "2030-01-01"}),
        (
            "post",
            f"/reproductions/{repro_pk}/claims/",
            {
                "metric": "m",
                "dataset": "d",
                "claimed_value": "1",
                "higher_is_better": "1",
                "tolerance": "0",
            },
        ),
        ("post", f"/reproductions/{repro_pk}/results/", {"claim": "1", "reproduced_value": "1"}),
        ("post", f"/tokens/{token_pk}/revoke/", {}),
    ]


def test_another_teams_member_gets_404_on_every_team_owned_url(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    token, _ = api_token_create(user=cast.ben, team=cast.vision, name="t")
    carol = client_for(cast.carol)
    for method, url, data in _team_urls(repro.pk, token.pk):
        response = getattr(carol, method)(url, data)
        assert response.status_code == 404, f"{method} {url} -> {response.status_code}"
    repro.refresh_from_db()
    assert repro.status == "in_progress" and repro.assignees.count() == 1
    assert not Claim.objects.filter(metric="m").exists()
    assert token.revoked_at is None


def test_guessed_ids_on_the_api_are_404(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    _, raw = api_token_create(user=cast.carol, team=cast.language, name="c")
    auth = {"Authorization": f"Bearer {raw}"}
    client = Client()
    for pk in (repro.pk, repro.pk + 1, 999999):
        assert client.get(f"/api/reproductions/{pk}/", headers=auth).status_code == 404
        assert (
            client.post(
                f"/api/reproductions/{pk}/status/",
                "{}",
                content_type="application/json",
                headers=auth,
            ).status_code
            == 404
        )


def test_paper_page_shows_only_the_current_teams_ratings_comments_and_claims(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    RatingFactory(
        team=cast.language, user=cast.carol, paper=paper, value=1, note="carol's secret note"
    )
    CommentFactory(team=cast.language, user=cast.carol, paper=paper, body="language team only")
    repro = reproduction_underway(cast)
    page = client_for(cast.carol).get(f"/papers/{paper.pk}/").content.decode()
    assert "carol&#x27;s secret note" in page and "language team only" in page
    ben_page = client_for(cast.ben).get(f"/papers/{paper.pk}/").content.decode()
    assert "secret note" not in ben_page and "language team only" not in ben_page
    carol_repro_paper = client_for(cast.carol).get(f"/papers/{repro.paper.pk}/").content.decode()
    assert f"/reproductions/{repro.pk}/" not in carol_repro_paper
    assert "MMLU" not in carol_repro_paper


def _csrf_posts(cast) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    from tracker.topics.models import Topic

    topic = Topic.objects.create(label="t")
    token, _ = api_token_create(user=cast.ben, team=cast.vision, name="t")
    comment = CommentFactory(team=cast.vision, user=cast.ben, paper=paper, body="b")
    return [
        (f"/inbox/papers/{paper.pk}/rate/", {"value": "3"}),
        (f"/comments/{comment.pk}/", {"body": "edited"}),
        (f"/comments/{comment.pk}/", {"delete": "1"}),
        (f"/inbox/papers/{paper.pk}/skip/", {}),
        (f"/inbox/papers/{paper.pk}/undo/", {}),
        (f"/inbox/papers/{paper.pk}/comment/", {"body": "hi"}),
        (f"/inbox/topics/{topic.pk}/follow/", {"follow": "1"}),
        (f"/papers/{paper.pk}/reproduce/", {}),
        (f"/reproductions/{repro.pk}/assign/", {"assignees": [cast.ben.pk]}),
        (f"/reproductions/{repro.pk}/status/", {"to_status": "abandoned", "reason": "x"}),
        (f"/reproductions/{repro.pk}/plan/", {}),
        (
            f"/reproductions/{repro.pk}/claims/",
            {"metric": "m", "dataset": "d", "claimed_value": "1"},
        ),
        (f"/reproductions/{repro.pk}/results/", {"claim": claim.pk, "reproduced_value": "1"}),
        ("/tokens/", {"name": "x"}),
        (f"/tokens/{token.pk}/revoke/", {}),
        ("/team/", {"team": cast.vision.pk}),
        ("/accounts/logout/", {}),
    ]


def test_every_form_write_needs_the_csrf_token(cast) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.ben)
    for url, data in _csrf_posts(cast):
        assert client.post(url, data).status_code == 403, url
    assert not Rating.objects.exists() and not ResultLog.objects.exists()


def test_htmx_writes_pass_with_the_csrf_header(cast) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.ben)
    page = client.get("/inbox/")
    token = page.cookies["csrftoken"].value
    paper = PaperFactory()
    response = client.post(
        f"/inbox/papers/{paper.pk}/rate/",
        {"value": "3"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url", ["/papers/{pk}/", "/inbox/", "/reproductions/", "/stats/", "/reproductions/{repro}/"]
)
def test_untrusted_paper_text_renders_as_text(cast, url: str) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(
        title=XSS_TITLE,
        abstract=XSS_ABSTRACT,
        comment='code: https://github.com/evil/repo" onmouseover="alert(6)',
        pdf_url="javascript:alert(7)",
        canonical_url="javascript:alert(8)",
        arxiv_id=None,
        kind="lab_report",
    )
    PaperSource.objects.create(paper=paper, url="javascript:alert(9)", title="<b>x</b>")
    repro = reproduction_underway(cast, paper=paper)
    claim = Claim.objects.get(paper=paper)
    ResultLog.objects.create(
        reproduction=repro, claim=claim, reproduced_value=1, run_url="javascript:alert(10)"
    )
    page = client_for(cast.ben).get(url.format(pk=paper.pk, repro=repro.pk)).content.decode()
    body = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<script>" not in body
    assert "<img" not in body
    # The text escaped, as Django spells a quote and as Jinja2 does (the inbox's rows).
    assert "onerror=" not in body.replace("onerror=alert(1)&gt;", "").replace(
        "onerror=&quot;alert(3)&quot;", ""
    ).replace("onerror=&#34;alert(3)&#34;", "")
    assert 'href="javascript:' not in body.lower()
    assert 'onmouseover="' not in body
    if url.startswith("/papers"):
        assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in body
        assert "$\\alpha &lt; \\beta$" in body
        assert "https://github.com/evil/repo" in body


def test_every_portal_page_carries_a_csp_without_inline_scripts(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    repro = reproduction_underway(cast)
    client = client_for(cast.ben)
    for url in (
        "/",
        "/inbox/",
        f"/papers/{paper.pk}/",
        "/reproductions/",
        f"/reproductions/{repro.pk}/",
        "/stats/",
        "/tokens/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        html = response.content.decode()
        assert "<script>" not in html and " onclick=" not in html and " onload=" not in html


def test_a_member_who_is_not_assigned_cannot_change_status_or_log_results(cast) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import MembershipFactory, UserFactory

    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    client = client_for(dan)
    assert (
        client.post(
            f"/reproductions/{repro.pk}/status/", {"to_status": "abandoned", "reason": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/reproductions/{repro.pk}/results/", {"claim": claim.pk, "reproduced_value": "1"}
        ).status_code
        == 403
    )
    assert (
        client.post(f"/reproductions/{repro.pk}/assign/", {"assignees": [dan.pk]}).status_code
        == 403
    )
    page = client.get(f"/reproductions/{repro.pk}/").content.decode()
    assert "Log result" not in page and "Save assignees" not in page
    repro.refresh_from_db()
    assert repro.status == "in_progress" and not ResultLog.objects.exists()


def test_switching_team_only_to_ones_own_teams(cast) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import MembershipFactory

    MembershipFactory(team=cast.language, user=cast.ada)
    ada, ben = client_for(cast.ada), client_for(cast.ben)
    assert ben.post("/team/", {"team": cast.language.pk}).status_code == 404
    ada.post("/team/", {"team": cast.language.pk})
    assert ada.get("/inbox/").context["current_team"] == cast.language
    assert b"Your teams" in ada.get("/").content


def test_select_options_escape_and_mark_the_chosen_value() -> None:
    """The options from their template, byte for byte what the tag wrote in Python."""
    from django.template import engines

    tag = engines["django"].from_string("{% load portal %}{% select_options choices chosen %}")

    def select_options(choices: list[tuple[object, str]], chosen: object) -> str:
        return tag.render({"choices": choices, "chosen": chosen})

    html = select_options([(1, "A <b>"), ("2", 'x" onclick="y'), (None, "none")], "2")
    assert html == (
        '<option value="1">A &lt;b&gt;</option>'
        '<option value="2" selected>x&quot; onclick=&quot;y</option>'
        '<option value="">none</option>'
    )
    assert select_options([("", "any")], None) == '<option value="" selected>any</option>'
    assert select_options([(3, "it's & <i>")], 3) == (
        '<option value="3" selected>it&#x27;s &amp; &lt;i&gt;</option>'
    )
