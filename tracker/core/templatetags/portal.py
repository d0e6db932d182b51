"""Template filters for showing untrusted paper data, and a select's options."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def safe_href(url: object) -> str:
    """The URL if it is http(s), else "": a `javascript:` link from a feed never becomes a link."""
    text = str(url or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    return text if scheme in ("http", "https") else ""


@register.filter
def num(value: object) -> str:
    """A measured number as people write it: 71.3, not 71.300; up to six significant digits."""
    if value is None or value == "":
        return ""
    try:
        # A template may pass anything; what float() refuses is caught below.
        return f"{float(value):.6g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


@register.filter
def seed_count(results: Iterable[object]) -> int:
    """How many runs the logged results stand for: a result logged with its seeds counts
    each seed (three seeds logged at once are n=3, not n=1); one without counts once."""
    return sum(max(len(getattr(r, "seeds", None) or []), 1) for r in results)


@register.filter
def pdf_href(paper: object) -> str:
    """The stored PDF link, or arXiv's for an arXiv paper that has none stored."""
    stored = safe_href(getattr(paper, "pdf_url", ""))
    arxiv_id = getattr(paper, "arxiv_id", None)
    if stored or not arxiv_id:
        return stored
    return f"https://arxiv.org/pdf/{arxiv_id}"


@register.inclusion_tag("core/_options.html")
def select_options(
    choices: Iterable[tuple[object, object]], selected: object
) -> dict[str, list[tuple[str, str, bool]]]:
    """A select's options, the one whose value reads as `selected` marked. A loop of its
    own rather than Django's widget templates, which render each option through an
    include: forty topics were a few milliseconds of every page that lists them."""
    chosen = "" if selected is None else str(selected)
    options = []
    for value, label in choices:
        text = "" if value is None else str(value)
        options.append((text, str(label), text == chosen))
    return {"options": options}


@register.filter
def eta(seconds: float | None) -> str:
    """A time left in words, rounded as people say it: "about 3 min", "under a minute"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {round(minutes / 60, 1):g} h"
