"""Pure pieces that moved out of the database code: they take plain data and callables."""

from __future__ import annotations

from pipeline.embedding import paper_text, stored_model_name
from pipeline.feeds import FeedEntry, entry_keys_assign
from pipeline.records import PaperRecord, normalize_title


def _entry(link: str, guid: str, title: str) -> FeedEntry:
    return FeedEntry(record=PaperRecord(title=title, url=link), arxiv_ids=[], link=link, guid=guid)


def test_the_stored_model_name_is_the_model_and_any_backend_but_torch() -> None:
    assert stored_model_name("packaged:m", "torch") == "packaged:m"
    assert stored_model_name("packaged:m", "onnx") == "packaged:m#onnx"
    assert paper_text(" Title ", "") == "Title"
    assert paper_text("T", " An abstract. ") == "T. An abstract."


def test_entries_sharing_a_link_are_keyed_by_guid_unless_stored_under_the_link() -> None:
    page = "https://lab.example/releases"
    entries = [
        _entry(page, "https://lab.example/releases/v1", "Release one"),
        _entry(page, "https://lab.example/releases/v2", "Release two"),
        _entry("https://lab.example/post", "tag:lab,1", "A post"),
    ]
    asked: list[set[str]] = []

    def stored(urls: set[str]) -> dict[str, str]:
        asked.append(urls)
        # "Release two" was stored under the shared page when it was the only entry.
        return {page: normalize_title("Release two")}

    entry_keys_assign(entries, stored)

    assert [e.record.url for e in entries] == [
        "https://lab.example/releases/v1",
        page,
        "https://lab.example/post",
    ]
    assert asked == [{page, "https://lab.example/post#tag%3Alab%2C1"}]
