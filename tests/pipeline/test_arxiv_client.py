"""The arXiv client's requests are described with the `arxiv` package's Search, and read the
same as before it was used (recorded responses and fake servers match on them)."""

from __future__ import annotations

import arxiv as arxiv_package

from pipeline import arxiv


def test_search_pages_ask_for_the_newest_updates_first() -> None:
    assert arxiv.search_params("cat:cs.CL", 200, 100) == {
        "search_query": "cat:cs.CL",
        "sortBy": "lastUpdatedDate",
        "sortOrder": "descending",
        "start": 200,
        "max_results": 100,
    }
    assert list(arxiv.search_params("q", 0, 1)) == [
        "search_query",
        "sortBy",
        "sortOrder",
        "start",
        "max_results",
    ]


def test_id_lookups_ask_for_every_id_in_one_page() -> None:
    assert arxiv.id_params(["2401.01234", "hep-th/9901001"]) == {
        "id_list": "2401.01234,hep-th/9901001",
        "start": 0,
        "max_results": 2,
    }


def test_any_package_search_becomes_parameters_with_our_paging() -> None:
    search = arxiv_package.Search(
        query="ti:transformer",
        id_list=["2401.01234"],
        sort_by=arxiv_package.SortCriterion.SubmittedDate,
        sort_order=arxiv_package.SortOrder.Ascending,
    )
    assert arxiv.request_params(search, 50, 25) == {
        "search_query": "ti:transformer",
        "sortBy": "submittedDate",
        "sortOrder": "ascending",
        "id_list": "2401.01234",
        "start": 50,
        "max_results": 25,
    }
