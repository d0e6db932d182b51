"""Forms of the papers pages."""

from __future__ import annotations

from django import forms


class AddPaperForm(forms.Form):
    id_or_url = forms.CharField(
        label="arXiv id or URL, or a lab report's URL",
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "2401.01234 or https://…", "size": 50}),
    )
