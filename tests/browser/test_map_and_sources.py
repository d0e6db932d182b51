"""The topics map and the Sources page as people see them in Chromium: labels that never
overlap, more of them as one zooms in, highlighted search hits and followed topics, and a
Sources table that stays inside the page however long its errors are."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.browser.conftest import log_in, shot
from tests.factories import PaperFactory, SourceFactory
from tracker.papers.models import HarvestRun, RunErrorKind, RunStatus
from tracker.topics.models import PaperTopic, Topic, TopicFollow

pytestmark = pytest.mark.browser

WORDS = ["retrieval", "diffusion", "speech", "graphs", "robots", "agents", "vision", "proofs"]


def _crowded_map() -> list[Topic]:
    """40 topics packed into a small part of the map, so most labels would collide."""
    rng = np.random.default_rng(0)
    topics = []
    for i in range(40):
        x, y = 0.4 + 0.2 * rng.random(), 0.4 + 0.2 * rng.random()
        topic = Topic.objects.create(
            label=f"{WORDS[i % 8]} {i} / long phrase / more", size=40 - i, map_x=x, map_y=y
        )
        topics.append(topic)
        for n in range(3):
            paper = PaperFactory(title=f"{WORDS[i % 8]} paper {i}-{n}")
            PaperTopic.objects.create(
                paper=paper,
                topic=topic,
                similarity=0.9 - 0.1 * n,
                map_x=x + 0.01 * n,
                map_y=y,
            )
    return topics


def _labels(page) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
    return json.loads(page.locator("#paper-map").get_attribute("data-labels") or "[]")


def _overlapping(boxes: list[dict[str, float]]) -> list[tuple[str, str]]:
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] < b["y1"] and b["y0"] < a["y1"]:
                pairs.append((a["text"], b["text"]))
    return pairs


def test_map_labels_never_overlap_and_more_show_as_one_zooms(
    cast, live_server, browser_page
) -> None:  # type: ignore[no-untyped-def]
    topics = _crowded_map()
    TopicFollow.objects.create(user=cast.ben, topic=topics[5])
    page = browser_page
    log_in(page, live_server, "ben", "/topics/map/?q=speech")
    page.wait_for_selector("#paper-map[data-ready='1']")
    first = _labels(page)
    assert first and not _overlapping(first)
    assert len(first) < len(topics)  # the crowd does not all fit at this zoom
    # The largest topic always gets its label.
    assert first[0]["text"].startswith("retrieval 0")
    legend = page.locator("#map-legend").inner_text()
    assert "15 matching papers outlined" in legend and "papers of the topic you follow" in legend
    shot(page, "map_overview")

    for _ in range(4):
        page.click("button[aria-label='Zoom in']")
    zoomed = _labels(page)
    assert not _overlapping(zoomed)
    assert len(zoomed) > len(first)
    shot(page, "map_zoomed")


def test_map_before_clustering_says_why_it_is_empty(cast, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    PaperFactory.create_batch(12)
    page = browser_page
    log_in(page, live_server, "ben", "/topics/map/")
    text = page.locator("#map-empty").inner_text()
    assert "Embedding papers: 0 of 12" in text
    assert page.locator("#paper-map").count() == 0


@pytest.mark.parametrize("width", [1360, 390])
def test_sources_table_stays_inside_the_page(cast, live_server, browser_page, width) -> None:  # type: ignore[no-untyped-def]
    long_url = "https://example.org/" + "very-long-path-segment/" * 12 + "feed.xml"
    for n in range(3):
        source = SourceFactory(name=f"Lab feed {n}", kind="feed", url=long_url, query="")
        HarvestRun.objects.create(
            source=source,
            status=RunStatus.FAILED,
            error_kind=RunErrorKind.NETWORK,
            error="temporary failure (a scheduled harvest retries it): could not fetch that URL: "
            + "HTTPSConnectionPool(host='example.org', port=443): Max retries exceeded " * 4,
        )
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "ben", "/sources/")
    assert page.locator("#offline-banner").is_visible()
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
    summary = page.locator(".run-error summary").first
    assert summary.inner_text().startswith("Could not reach the server")
    assert not page.locator(".run-error pre.detail").first.is_visible()
    summary.click()
    assert page.locator(".run-error pre.detail").first.is_visible()
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
    shot(page, f"sources_offline_{width}")
