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
