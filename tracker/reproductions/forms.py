"""Validation of what the reproduction pages and the API send."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.auth.models import User

from tracker.reproductions.models import (
    GPU_HOURS_DECIMAL_PLACES,
    GPU_HOURS_MAX_DIGITS,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    RUN_URL_MAX_LENGTH,
    Claim,
    ClaimLocation,
    Reproduction,
    Status,
)


class PlanForm(forms.Form):
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    budget_gpu_hours = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=GPU_HOURS_MAX_DIGITS,
        decimal_places=GPU_HOURS_DECIMAL_PLACES,
        label="Budget",
    )


class ProposeForm(PlanForm):
    note = forms.CharField(required=False, max_length=2000)


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_username()


class AssignForm(forms.Form):
    assignees = MemberChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, reproduction: Reproduction, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(MemberChoiceField, self.fields["assignees"]).queryset = User.objects.filter(
            memberships__team_id=reproduction.team_id
        ).order_by("username")


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=Status.choices)
    reason = forms.CharField(required=False, max_length=REASON_MAX_LENGTH)


class ProtocolForm(forms.Form):
    """The protocol fields a claim states and a result ran with (models.Protocol)."""

    split = forms.CharField(required=False, max_length=60)
    metric_definition = forms.CharField(required=False, max_length=200)
    shots = forms.IntegerField(required=False, min_value=0, max_value=32767)
    decoding = forms.CharField(required=False, max_length=120)
    harness = forms.CharField(required=False, max_length=120)
    harness_version = forms.CharField(required=False, max_length=60)
    model_checkpoint = forms.CharField(required=False, max_length=200, label="Model/checkpoint")
    compute = forms.CharField(required=False, max_length=120)


PROTOCOL_FORM_FIELDS = tuple(ProtocolForm.base_fields)


class ClaimForm(ProtocolForm):
    location = forms.ChoiceField(
        required=False, choices=[("", "—"), *ClaimLocation.choices], label="Where"
    )
    location_ref = forms.CharField(required=False, max_length=100, label="Table/figure/page")
    quote = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea)
    metric = forms.CharField(max_length=120)
    dataset = forms.CharField(max_length=200)
    setting = forms.CharField(required=False, max_length=300)
    claimed_value = forms.FloatField()
    higher_is_better = forms.TypedChoiceField(
        choices=[("1", "higher is better"), ("0", "lower is better")],
        coerce=lambda v: v == "1",
        initial="1",
    )
    tolerance = forms.FloatField(min_value=0, initial=0.0)


class ClaimDraftForm(ClaimForm):
    """A drafted claim as accepted, with whatever the person changed; a draft often names
    no dataset, and the claim may stand without one until someone adds it."""

    dataset = forms.CharField(max_length=200, required=False)


class SeedsField(forms.CharField):
    """Seeds as "0, 1, 2" in a form; a JSON list is accepted too (the API)."""

    # A CharField for its handling of the raw input, whose cleaned value is the parsed list.
    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        if isinstance(value, list):
            items = value
        else:
            text = super().to_python(value) or ""
            items = [part for part in text.replace(";", ",").split(",") if part.strip()]
        try:
            return [int(str(item).strip()) for item in items]
        except ValueError as exc:
            raise forms.ValidationError("Seeds are whole numbers, e.g. 0, 1, 2.") from exc


class ResultForm(ProtocolForm):
    claim = forms.ModelChoiceField(queryset=Claim.objects.none())
    reproduced_value = forms.FloatField()
    seeds = SeedsField(required=False)
    spread = forms.FloatField(required=False, min_value=0)
    compute_gpu_hours = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=GPU_HOURS_MAX_DIGITS,
        decimal_places=GPU_HOURS_DECIMAL_PLACES,
    )
    dataset = forms.CharField(required=False, max_length=200)
    run_url = forms.URLField(required=False, max_length=RUN_URL_MAX_LENGTH, assume_scheme="https")
    note = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH)

    def __init__(self, *args: Any, reproduction: Reproduction, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this paper's claims in this team: a guessed claim id is simply invalid.
        cast(forms.ModelChoiceField, self.fields["claim"]).queryset = Claim.objects.for_team(
            reproduction.team
        ).filter(paper_id=reproduction.paper_id)

    def clean_compute_gpu_hours(self) -> Decimal:
        # Left empty means no compute was recorded for this run.
        return self.cleaned_data.get("compute_gpu_hours") or Decimal(0)

    def clean_run_url(self) -> str:
        url = self.cleaned_data.get("run_url") or ""
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("A run link is an http(s) URL.")
        return url
