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
