"""The layering of docs/architecture.md: the import contracts hold, and the pages that moved
to the top layer kept their URLs and names."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import resolve, reverse
from importlinter.cli import lint_imports

from tracker.portal import views as portal_views

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    # `make lint` runs it from the checkout's root, where the packages are found.
    monkeypatch.chdir(ROOT)
    assert (
        lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
    )


@pytest.mark.parametrize(
    ("name", "args", "path", "view"),
    [
        ("home", [], "/", portal_views.home),
        ("progress", [], "/progress/", portal_views.progress),
        ("papers:detail", [7], "/papers/7/", portal_views.paper_detail),
        ("papers:sources", [], "/sources/", portal_views.sources),
        ("topics:detail", [3], "/topics/3/", portal_views.topic_detail),
    ],
)
def test_portal_pages_keep_their_urls_and_names(
    name: str, args: list[int], path: str, view: object
) -> None:
    assert reverse(name, args=args) == path
    assert resolve(path).func is view


def test_papers_and_topics_pages_left_in_their_apps_still_resolve() -> None:
    assert reverse("papers:bibtex", args=[7]) == "/papers/7/bibtex/"
    assert reverse("papers:add") == "/papers/add/"
    assert reverse("topics:index") == "/topics/"
    assert reverse("topics:map") == "/topics/map/"
