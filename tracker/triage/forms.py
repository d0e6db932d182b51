"""Validation of what the inbox and the rating widgets send."""

from __future__ import annotations

from django import forms

from tracker.triage.selectors import INBOX_SORTS, INBOX_VIEWS, SORT_LABELS, InboxFilters


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
    view = forms.ChoiceField(required=False, choices=[(v, v) for v in INBOX_VIEWS])

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
            view=data.get("view") or "",
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


class ReadersForm(forms.Form):
    """A team's readers per new paper: a number, or everyone."""

    readers = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=50,
        label="Readers per new paper",
        error_messages={
            "min_value": "Readers per paper is a number from 1 to 50, or everyone.",
            "max_value": "Readers per paper is a number from 1 to 50, or everyone.",
            "invalid": "Readers per paper is a number from 1 to 50, or everyone.",
        },
    )
    everyone = forms.BooleanField(required=False, label="Everyone reads every paper")

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if not cleaned.get("everyone") and not cleaned.get("readers") and not self.errors:
            raise forms.ValidationError("Give a number of readers, or choose everyone.")
        return cleaned


class DaysAwayForm(forms.Form):
    starts = forms.DateField(
        label="First day away",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Give the first day away.", "invalid": "That is not a date."},
    )
    ends = forms.DateField(
        label="Last day away",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Give the last day away.", "invalid": "That is not a date."},
    )
