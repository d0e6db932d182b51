from __future__ import annotations

from typing import Any, cast

from django import forms

from tracker.digests.models import Weekday
from tracker.digests.schedule import timezone_names


class DigestPreferenceForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Send me the weekly digest")
    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int, label="Day")
    hour = forms.TypedChoiceField(
        choices=[(h, f"{h:02d}:00") for h in range(24)], coerce=int, label="Time"
    )
    timezone = forms.ChoiceField(label="Time zone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timezone_field = cast(forms.ChoiceField, self.fields["timezone"])
        timezone_field.choices = [(name, name) for name in timezone_names()]
