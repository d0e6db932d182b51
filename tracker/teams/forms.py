"""Forms of the team pages."""

from __future__ import annotations

from django import forms


class ApiTokenForm(forms.Form):
    # A CharField refuses NUL characters, which PostgreSQL cannot store in text.
    name = forms.CharField(
        max_length=100,
        error_messages={"required": "Give the token a name, e.g. the machine or script using it."},
    )
