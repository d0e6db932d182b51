"""How verdicts read on every page and in the digest: one unit for gaps, one form for a
result with its spread."""

from __future__ import annotations

from django import template

from tracker.reproductions.verdicts import Estimate

register = template.Library()


@register.filter
def gap(pct: float | None) -> str:
    """A gap (positive = worse than claimed) in percent of the claim, as it reads against
    the claim: "-2.1%" (a true minus sign) short of it, "+0.4%" beyond it. The same unit
    on the reproduction's page, the paper's page, the stats and the digest."""
    if pct is None:
        return "—"
    shown = -pct
    if abs(shown) < 0.05:
        return "0.0%"
    return f"{shown:+.1f}%".replace("-", "\u2212")


@register.filter
def estimate(value: Estimate | None) -> str:
    """ "58.9 ± 0.4 (n=3)": the mean, the standard deviation when known, and the runs."""
    if value is None:
        return "—"
    text = f"{value.mean:.6g}"
    if value.std is not None:
        text += f" ± {value.std:.3g}"
    return f"{text} (n={value.n})"
