from __future__ import annotations

from tests.factories import LabReportFactory, PaperFactory
from tracker.papers.duplicates import duplicate_candidate_propose, normalize_title
from tracker.papers.models import CandidateStatus, DuplicateCandidate


def test_titles_fold_case_accents_and_punctuation() -> None:
    assert normalize_title("Qwen2.5-VL: Técnical  Report!") == normalize_title(
        "qwen2 5 vl tecnical report"
    )


def test_rejected_pair_is_not_proposed_again(db: None) -> None:
    paper, post = PaperFactory(), LabReportFactory()
    candidate = duplicate_candidate_propose(post, paper, reason="title")
    assert candidate is not None and candidate.paper_a_id < candidate.paper_b_id
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(status=CandidateStatus.REJECTED)

    again = duplicate_candidate_propose(paper, post, reason="title")
    assert again is not None and again.pk == candidate.pk
    assert again.status == CandidateStatus.REJECTED
    assert DuplicateCandidate.objects.count() == 1
