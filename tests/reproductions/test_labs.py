"""Labs for arXiv papers from the best evidence, the author table's suggestions, and stats
by lab that cover arXiv papers."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.conftest import client_for
from tests.factories import LabReportFactory, PaperFactory
from tests.portal.helpers import reproduction_underway
from tracker.papers.labs import (
    NO_LAB,
    Evidence,
    LabAttribution,
    author_labs_suggest,
    papers_labs,
)
from tracker.papers.models import AuthorLab
from tracker.reproductions.models import Claim, ResultLog
from tracker.reproductions.stats import team_stats


def test_each_paper_gets_its_lab_from_the_best_evidence(db: None) -> None:
    posted = PaperFactory(arxiv_id="2601.00001", lab="DeepMind")
    LabReportFactory(lab="DeepMind", merged_into=posted)
    recorded = PaperFactory(arxiv_id="2601.00002", lab="FAIR")
    by_table = PaperFactory(arxiv_id="2601.00003", authors=["Nobody", "Grace Hopper", "Ken Ito"])
    unknown = PaperFactory(arxiv_id="2601.00004", authors=["Nobody"])
    AuthorLab.objects.create(author="Grace Hopper", lab="Navy Lab", confirmed=True)
    AuthorLab.objects.create(author="Ken Ito", lab="Other Lab", confirmed=False)
    labs = papers_labs([posted, recorded, by_table, unknown])
    assert (labs[posted.pk].lab, labs[posted.pk].evidence) == ("DeepMind", Evidence.LAB_POST)
    assert labs[recorded.pk].evidence == Evidence.RECORD
    assert labs[by_table.pk].lab == "Navy Lab" and labs[by_table.pk].author == "Grace Hopper"
    assert labs[by_table.pk].evidence == Evidence.AUTHOR_TABLE
    assert (labs[unknown.pk].lab, labs[unknown.pk].evidence) == (NO_LAB, Evidence.NONE)


def test_suggestions_from_lab_posts_wait_for_a_curator(db: None) -> None:
    for n in range(3):
        LabReportFactory(lab="Allen AI", authors=["Iz Beltagy", f"Someone {n}"])
    LabReportFactory(lab="Meta", authors=["Iz Beltagy"])  # 3 of 4 posts: still Allen AI's
    confirmed = AuthorLab.objects.create(author="Someone 0", lab="Kept", confirmed=True)
    call_command("suggest_author_labs")
    row = AuthorLab.objects.get(author="Iz Beltagy")
    assert (row.lab, row.confirmed, row.posts_with_lab, row.posts_total) == (
        "Allen AI",
        False,
        3,
        4,
    )
    # One post is not enough, and a confirmed row is the curator's.
    assert not AuthorLab.objects.filter(author="Someone 1").exists()
    confirmed.refresh_from_db()
    assert confirmed.lab == "Kept"
    assert author_labs_suggest() == 1  # safe to run again


def test_stats_by_lab_cover_arxiv_papers(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast, paper__authors=["Grace Hopper"], paper__lab="")
    AuthorLab.objects.create(author="Grace Hopper", lab="Navy Lab", confirmed=True)
    claim = Claim.objects.get(paper=repro.paper)
    ResultLog.objects.create(reproduction=repro, claim=claim, reproduced_value=71.3)
    stats = team_stats(cast.vision)
    assert [g.label for g in stats.by_lab] == ["Navy Lab"]
    assert stats.claims[0].lab_evidence == Evidence.AUTHOR_TABLE
    page = client_for(cast.ben).get("/stats/").content.decode()
    assert "Navy Lab" in page and "(by author table)" in page
    admin = client_for(cast.ada)
    cast.ada.is_staff = cast.ada.is_superuser = True
    cast.ada.save()
    listing = admin.get("/admin/papers/authorlab/")
    assert listing.status_code == 200 and "Grace Hopper" in listing.content.decode()


def test_the_paper_page_says_which_evidence_gave_its_lab(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(arxiv_id="2601.00009", authors=["Grace Hopper"], lab="")
    AuthorLab.objects.create(author="Grace Hopper", lab="Navy Lab", confirmed=True)
    page = client_for(cast.ben).get(f"/papers/{paper.pk}/").content.decode()
    assert "Navy Lab" in page and "by author table" in page


def test_arxiv_affiliations_give_a_lab_between_the_record_and_the_author_table(
    db: None,
) -> None:
    authors = ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi"]
    affiliations = [["CfA"], ["Ohio State"], ["Ohio State", "CfA", "Ohio State"]]
    affiliated = PaperFactory(arxiv_id="2601.00011", authors=authors, affiliations=affiliations)
    # A lab the source record carried comes first; the curators' table after the entry's own.
    recorded = PaperFactory(
        arxiv_id="2601.00012", lab="FAIR", authors=authors, affiliations=affiliations
    )
    over_table = PaperFactory(
        arxiv_id="2601.00013", authors=["Grace Hopper"], affiliations=[["Harvard"]]
    )
    tie = PaperFactory(arxiv_id="2601.00014", authors=["A", "B"], affiliations=[["X"], ["Y"]])
    AuthorLab.objects.create(author="Grace Hopper", lab="Navy Lab", confirmed=True)
    labs = papers_labs([affiliated, recorded, over_table, tie])
    # Ohio State and CfA have two authors each (the third author's repeat counts once):
    # the tie goes to the one named first, with the first author who named it.
    assert labs[affiliated.pk] == LabAttribution("CfA", Evidence.AFFILIATION, "Andrew Gould")
    assert labs[recorded.pk].evidence == Evidence.RECORD
    assert labs[over_table.pk] == LabAttribution("Harvard", Evidence.AFFILIATION, "Grace Hopper")
    assert labs[tie.pk].lab == "X"


def test_the_affiliation_most_authors_share_is_the_lab(db: None) -> None:
    paper = PaperFactory(
        arxiv_id="2601.00015",
        authors=["A", "B", "C"],
        affiliations=[[], ["Mila"], ["  MILA ", "McGill"]],
    )
    assert papers_labs([paper])[paper.pk] == LabAttribution("Mila", Evidence.AFFILIATION, "B")


@pytest.mark.parametrize(
    "affiliations",
    [
        [],
        [[], []],
        # Lists that no longer line up with the authors (a curator edited the names).
        [["Mila"]],
        # Not lists at all (a hand-edited row): ignored, not a crash.
        [None, "Mila"],
    ],
)
def test_missing_or_broken_affiliations_give_no_lab(db: None, affiliations: list) -> None:  # type: ignore[type-arg]
    paper = PaperFactory(arxiv_id="2601.00016", authors=["A", "B"], affiliations=affiliations)
    assert papers_labs([paper])[paper.pk] == LabAttribution(NO_LAB, Evidence.NONE)


def test_stats_by_lab_count_papers_by_affiliation(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(
        cast,
        paper__authors=["Marie-Claude Gaudel", "Pascale Le Gall"],
        paper__affiliations=[["LRI"], ["IBISC"]],
        paper__lab="",
    )
    claim = Claim.objects.get(paper=repro.paper)
    ResultLog.objects.create(reproduction=repro, claim=claim, reproduced_value=71.3)
    stats = team_stats(cast.vision)
    assert [g.label for g in stats.by_lab] == ["LRI"]
    assert stats.claims[0].lab_evidence == Evidence.AFFILIATION
    page = client_for(cast.ben).get("/stats/").content.decode()
    assert "LRI" in page and "(by arXiv affiliation)" in page
    detail = client_for(cast.ben).get(f"/papers/{repro.paper.pk}/").content.decode()
    assert 'title="Lab from the arXiv affiliation (Marie-Claude Gaudel)">LRI<' in detail
