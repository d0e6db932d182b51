"""Validation of what the inbox and the rating widgets send."""

from __future__ import annotations

from django import forms

from tracker.triage.selectors import INBOX_SORTS, SORT_LABELS, InboxFilters


class InboxFilterForm(forms.Form):
    topic = forms.IntegerField(required=False, min_value=1)
    source = forms.ChoiceField(
        required=False, choices=[("", "All sources"), ("arxiv", "arXiv"), ("lab", "Lab reports")]
    )
    category = forms.CharField(required=False, max_length=32)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    has_code = forms.BooleanField(required=False)
    # ?order=, as the sort links write it (InboxFilters.as_query).
    order = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))

    def filters(self) -> InboxFilters:
        """The valid filters; a bad value is dropped rather than failing the whole page."""
        if not self.is_bound:
            return InboxFilters()
        self.is_valid()  # cleans; an invalid field is left out of cleaned_data
        data = self.cleaned_data
        return InboxFilters(
            topic=data.get("topic"),
            source=data.get("source") or "",
            category=(data.get("category") or "").strip(),
            since=data.get("since"),
            until=data.get("until"),
            has_code=bool(data.get("has_code")),
            sort=data.get("order") or INBOX_SORTS[0],
        )


class RatingForm(forms.Form):
    value = forms.IntegerField(min_value=1, max_value=5)
    note = forms.CharField(required=False, max_length=2000)


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "A comment for the team; $\\LaTeX$ renders",
                "data-page-key": "c",  # the paper page's c key opens it (app.js)
            }
        ),
    )
