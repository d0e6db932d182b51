"""Authors' affiliations from arXiv entries (<arxiv:affiliation> under <author>): the recorded
responses that carry them, and the messy variants a harvest must store sensibly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import arxiv
from pipeline.records import AFFILIATION_MAX_CHARS, AFFILIATIONS_PER_AUTHOR, affiliations_clean

RECORDED = Path("arxiv_api") / "lukasschwab_arxiv.py" / "fixtures_2026"


def _recorded_page(shared_data: Path, prefix: str) -> arxiv.ArxivPage:
    path = next((shared_data / RECORDED).glob(f"{prefix}*.json"))
    return arxiv.page_parse(json.loads(path.read_text(encoding="utf-8"))["body"].encode())


def test_recorded_entries_give_each_author_their_affiliations(shared_data: Path) -> None:
    (paper,) = _recorded_page(shared_data, "id_astro-ph_0601001_").records
    assert paper.authors == [
        "Andrew Gould",
        "Susan Dorsher",
        "B. Scott Gaudi",
        "Andrzej Udalski",
    ]
    assert paper.affiliations == [
        ["Ohio State"],
        ["Ohio State"],
        ["CfA"],
        ["Warsaw University Observatory"],
    ]
    (collaboration,) = _recorded_page(shared_data, "id_hep-ex_0406020v1_").records
    assert collaboration.affiliations == [["for the ATLAS and CMS Collaborations"]]


def test_a_listing_keeps_affiliations_only_where_arxiv_gave_some(shared_data: Path) -> None:
    records = _recorded_page(shared_data, "q_testing_s0_m100_").records
    with_some = {r.arxiv_id: r.affiliations for r in records if r.affiliations}
    assert with_some == {"0804.0970": [["LRI"], ["IBISC"]]}
    # The other 99 store nothing, not a list of empty lists.
    assert sum(1 for r in records if r.affiliations == []) == len(records) - 1


def _entry(*authors: str) -> bytes:
    return (
        '<entry xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        "<id>http://arxiv.org/abs/2601.00001v2</id><title>T</title><summary>S</summary>"
        "<published>2026-01-05T10:00:00Z</published><updated>2026-01-06T10:00:00Z</updated>"
        + "".join(authors)
        + "</entry>"
    ).encode()


def _author(name: str, *affiliations: str) -> str:
    inner = "".join(f"<arxiv:affiliation>{a}</arxiv:affiliation>" for a in affiliations)
    return f"<author><name>{name}</name>{inner}</author>"


def _parsed(*authors: str) -> list[list[str]]:
    from pipeline.xml import xml_parse

    return arxiv.entry_record(xml_parse(_entry(*authors))).affiliations


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        # Empty and blank elements are no affiliation; nobody has one, so nothing is stored.
        ((_author("A", ""), _author("B", "  \n ")), []),
        # Some authors have none: the lists stay aligned with the authors.
        ((_author("A"), _author("B", "MIT"), _author("C")), [[], ["MIT"], []]),
        # Repeated for one author (in any case, spacing or trailing comma): once.
        ((_author("A", "MIT", "mit", " MIT ,", "M I T"),), [["MIT", "M I T"]]),
        # Several per author, in their order; arXiv's hard wraps folded.
        (
            (_author("A", "Google DeepMind", "University\n   College London"),),
            [["Google DeepMind", "University College London"]],
        ),
        # Unicode as written.
        (
            (_author("Zoë", "École normale supérieure", "清华大学"),),
            [["École normale supérieure", "清华大学"]],
        ),
    ],
)
def test_messy_affiliations(authors: tuple[str, ...], expected: list[list[str]]) -> None:
    assert _parsed(*authors) == expected


def test_a_very_long_affiliation_is_cut_and_too_many_are_capped() -> None:
    long = "Department of " + "Very " * 200 + "Long Names"
    many = [f"Lab {n}" for n in range(AFFILIATIONS_PER_AUTHOR + 4)]
    ((cut,),), (capped,) = _parsed(_author("A", long)), _parsed(_author("B", *many))
    assert len(cut) == AFFILIATION_MAX_CHARS and cut.startswith("Department of Very")
    assert capped == many[:AFFILIATIONS_PER_AUTHOR]


def test_affiliations_clean_works_on_any_source_lists() -> None:
    assert affiliations_clean([]) == []
    assert affiliations_clean([[], []]) == []
    assert affiliations_clean([[" a ", "A", ";"], ["b"]]) == [["a"], ["b"]]
