"""A new version of a paper with claims flags each claim "re-check against vN" with what
the abstract changed, and tells the reproduction's assignees."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core import mail

from pipeline.records import PaperRecord
from tests.conftest import client_for
from tests.factories import ClaimFactory, ReproductionFactory
from tracker.papers.models import Paper
from tracker.papers.services import papers_upsert
from tracker.papers.versions import abstract_diff
from tracker.reproductions.models import Claim, EventKind
from tracker.reproductions.services import claim_recheck_done, claims_recheck_flag
from tracker.teams.models import Membership
from workers.celery import app

V1 = "We train a small model. It reaches 71.3% accuracy on MMLU with greedy decoding."
V2 = "We train a small model. It reaches 69.8% accuracy on MMLU with greedy decoding."


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def _record(version: int, abstract: str) -> PaperRecord:
    return PaperRecord(arxiv_id="2604.00001", version=version, title="A model", abstract=abstract)


def test_abstract_diff_marks_removed_and_added_words() -> None:
    assert abstract_diff(V1, V2) == (
        "We train a small model. It reaches [-71.3%-] {+69.8%+} accuracy on MMLU with greedy "
        "decoding."
    )
    # Long unchanged stretches are elided, keeping a few words around each change.
    assert abstract_diff(V1, V2, context=2) == "… It reaches [-71.3%-] {+69.8%+} accuracy on …"
    assert abstract_diff(V1, V1) == ""


def test_a_new_version_flags_claims_and_tells_the_assignees(
    cast,  # type: ignore[no-untyped-def]
    eager_tasks: None,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    papers_upsert([_record(1, V1)])
    paper = Paper.objects.get(arxiv_id="2604.00001")
    claim = ClaimFactory(team=cast.vision, paper=paper, paper_version=1)
    other_team = ClaimFactory(team=cast.language, paper=paper, paper_version=1)
    repro = ReproductionFactory(team=cast.vision, paper=paper, proposed_by=cast.ben)
    repro.assignees.add(cast.ben)
    cast.ben.email = "ben@example.org"
    cast.ben.save(update_fields=["email"])

    with django_capture_on_commit_callbacks(execute=True):
        papers_upsert([_record(2, V2)])

    claim.refresh_from_db()
    assert claim.recheck_version == 2 and claim.paper_version == 1
    assert "[-71.3%-] {+69.8%+}" in claim.recheck_diff
    other_team.refresh_from_db()
    assert other_team.recheck_version == 2
    event = repro.events.get(kind=EventKind.RECHECK)
    assert event.note == "v2 of the paper arrived: 1 claim(s) to re-check against v2"
    assert [m.to for m in mail.outbox] == [["ben@example.org"]]
    assert "re-check against v2" in mail.outbox[0].body

    # Safe twice: the flagged claims are not flagged, nor anyone notified, again.
    assert claims_recheck_flag([paper.pk]) == 0
    assert len(mail.outbox) == 1 and repro.events.filter(kind=EventKind.RECHECK).count() == 1

    page = client_for(cast.ben).get(f"/reproductions/{repro.pk}/").content.decode()
    assert "Re-check against v2" in page and "{+69.8%+}" in page

    checked = claim_recheck_done(
        membership=Membership.objects.get(user=cast.ben, team=cast.vision), claim=claim
    )
    assert (checked.paper_version, checked.recheck_version, checked.recheck_diff) == (2, None, "")


def test_a_claim_read_from_the_newest_version_is_not_flagged(cast) -> None:  # type: ignore[no-untyped-def]
    papers_upsert([_record(1, V1), _record(2, V2)])
    paper = Paper.objects.get(arxiv_id="2604.00001")
    ClaimFactory(team=cast.vision, paper=paper, paper_version=2)
    assert claims_recheck_flag([paper.pk]) == 0
    assert not Claim.objects.filter(recheck_version__isnull=False).exists()


def test_the_checked_button_clears_the_flag(cast) -> None:  # type: ignore[no-untyped-def]
    claim = ClaimFactory(team=cast.vision, paper_version=1, recheck_version=3, recheck_diff="x")
    response = client_for(cast.ben).post(f"/claims/{claim.pk}/rechecked/")
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.paper_version == 3 and claim.recheck_version is None
    # Another team's claim is a 404.
    foreign = ClaimFactory(team=cast.language, recheck_version=2)
    assert client_for(cast.ben).post(f"/claims/{foreign.pk}/rechecked/").status_code == 404
