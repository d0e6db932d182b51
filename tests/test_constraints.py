"""The database itself refuses duplicates and out-of-range values, not only the forms."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from tests.factories import (
    LabReportFactory,
    MembershipFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    TeamFactory,
    UserFactory,
)
from tracker.digests.models import DigestSend
from tracker.papers.models import DuplicateCandidate, Embedding, Paper, PaperKind, PaperVersion
from tracker.triage.models import Rating

pytestmark = pytest.mark.django_db(transaction=True)


def rejected(make) -> bool:  # type: ignore[no-untyped-def]
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


def test_second_paper_with_same_arxiv_id_is_rejected() -> None:
    PaperFactory(arxiv_id="2401.00001")
    assert rejected(lambda: PaperFactory(arxiv_id="2401.00001", canonical_url="https://x.org/1"))
    assert Paper.objects.filter(arxiv_id="2401.00001").count() == 1


def test_many_lab_reports_without_arxiv_id_are_allowed() -> None:
    LabReportFactory()
    LabReportFactory()
    assert Paper.objects.filter(arxiv_id__isnull=True).count() == 2


def test_canonical_url_is_unique() -> None:
    LabReportFactory(canonical_url="https://openai.com/research/x")
    assert rejected(lambda: LabReportFactory(canonical_url="https://openai.com/research/x"))


def test_arxiv_paper_needs_an_arxiv_id() -> None:
    assert rejected(
        lambda: Paper.objects.create(
            kind=PaperKind.ARXIV, arxiv_id=None, canonical_url="https://x.org/a", title="t"
        )
    )


def test_version_recorded_once() -> None:
    paper = PaperFactory()
    PaperVersion.objects.create(paper=paper, version=1, title="t")
    assert rejected(lambda: PaperVersion.objects.create(paper=paper, version=1, title="t"))


def test_one_rating_per_member_per_paper_and_value_in_range() -> None:
    team, user, paper = TeamFactory(), UserFactory(), PaperFactory()
    RatingFactory(team=team, user=user, paper=paper, value=3)
    assert rejected(lambda: RatingFactory(team=team, user=user, paper=paper, value=5))
    other = PaperFactory()
    assert rejected(lambda: RatingFactory(team=team, user=user, paper=other, value=6))
    assert rejected(lambda: RatingFactory(team=team, user=user, paper=other, value=0))
    assert Rating.objects.count() == 1


def test_one_membership_per_team_and_user() -> None:
    membership = MembershipFactory()
    assert rejected(lambda: MembershipFactory(team=membership.team, user=membership.user))


def test_one_embedding_per_paper_and_model() -> None:
    paper = PaperFactory()
    Embedding.objects.create(paper=paper, model_name="m", dimension=2, vector=b"\0" * 8)
    assert rejected(
        lambda: Embedding.objects.create(paper=paper, model_name="m", dimension=2, vector=b"\0" * 8)
    )


def test_one_digest_per_member_per_week() -> None:
    user = UserFactory()
    DigestSend.objects.create(user=user, week=date(2026, 11, 30))
    assert rejected(lambda: DigestSend.objects.create(user=user, week=date(2026, 11, 30)))


def test_duplicate_candidate_pairs_are_ordered_and_unique() -> None:
    a, b = PaperFactory(), PaperFactory()
    low, high = sorted([a, b], key=lambda p: p.pk)
    DuplicateCandidate.objects.create(paper_a=low, paper_b=high, reason="title")
    assert rejected(
        lambda: DuplicateCandidate.objects.create(paper_a=low, paper_b=high, reason="t")
    )
    assert rejected(
        lambda: DuplicateCandidate.objects.create(paper_a=high, paper_b=low, reason="t")
    )


def test_abandoned_reproduction_needs_a_reason() -> None:
    assert rejected(lambda: ReproductionFactory(status="abandoned", abandon_reason=""))
    assert ReproductionFactory(status="abandoned", abandon_reason="compute budget cut").pk
