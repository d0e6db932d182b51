"""Pages a new user reads once, checked as they render in Chromium."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def test_tokens_page_shows_the_whole_curl_example(cast, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    log_in(page, live_server, "ada", "/tokens/")
    sample = page.locator("pre.code")
    # Nothing of the sample hides past its box: it wraps instead of scrolling sideways.
    widths = sample.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1]
    assert "run_url" in sample.inner_text()
    # It can still take focus, for keyboard users who scroll long samples.
    assert sample.get_attribute("tabindex") == "0"
    shot(page, "tokens")


def test_home_page_progress_updates_live_as_papers_are_embedded(
    cast, live_server, browser_page
) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from tests.factories import PaperFactory
    from tracker.papers.embeddings import embeddings_store, stored_model_name

    papers = PaperFactory.create_batch(12)
    vectors = np.random.default_rng(0).normal(size=(12, 4)).astype("<f4")
    embeddings_store(stored_model_name(), [p.pk for p in papers[:3]], vectors[:3])
    page = browser_page
    log_in(page, live_server, "ben", "/")
    panel = page.locator("#pipeline-progress")
    assert "3 of 12 papers" in panel.inner_text()
    shot(page, "home_progress")
    embeddings_store(stored_model_name(), [p.pk for p in papers[3:]], vectors[3:])
    # The panel polls while work goes on: no reload, the count moves on by itself.
    page.wait_for_function(
        "() => document.querySelector('#pipeline-progress').innerText.includes('12 of 12')",
        timeout=10_000,
    )
    assert "clustering is queued" in page.locator("#pipeline-progress").inner_text()
