"""Helpers for the digest email templates: absolute links and compact paper metadata."""

from __future__ import annotations

from django import template

from tracker.digests.emails import absolute

register = template.Library()


@register.simple_tag
def abs_url(name: str, *args: object) -> str:
    return absolute(name, *args)


@register.filter
def authors_short(authors: list[str] | None) -> str:
    names = list(authors or [])
    if len(names) > 3:
        return f"{', '.join(names[:2])} et al."
    return ", ".join(names)


@register.filter
def signed(value: float) -> str:
    return f"{value:+.2f}".rstrip("0").rstrip(".")


@register.filter
def trim_number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
