"""Forms of the papers pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

# Papers are dated within these; a filter date outside them is a typo or a probe, and the
# day after 9999-12-31 does not exist, so the search could not even draw the line.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


class DayField(forms.DateField):
    """A date picked to filter papers by, between FIRST_DAY and LAST_DAY."""

    default_validators = [
        MinValueValidator(FIRST_DAY, message=f"Pick a day from {FIRST_DAY.year} on."),
        MaxValueValidator(LAST_DAY, message=f"Pick a day before {LAST_DAY.year + 1}."),
    ]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)


class AddPaperForm(forms.Form):
    id_or_url = forms.CharField(
        label="arXiv id or URL, or a lab report's URL",
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "2401.01234 or https://…", "size": 50}),
    )
