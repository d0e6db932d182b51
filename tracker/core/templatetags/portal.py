"""Template filters for showing untrusted paper data."""

from __future__ import annotations

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
        return f"{float(value):.6g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


@register.filter
def pdf_href(paper: object) -> str:
    """The stored PDF link, or arXiv's for an arXiv paper that has none stored."""
    stored = safe_href(getattr(paper, "pdf_url", ""))
    arxiv_id = getattr(paper, "arxiv_id", None)
    if stored or not arxiv_id:
        return stored
    return f"https://arxiv.org/pdf/{arxiv_id}"
