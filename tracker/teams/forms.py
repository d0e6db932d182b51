"""Forms of the team pages."""

from __future__ import annotations

from django import forms

from tracker.teams.models import Role


class ApiTokenForm(forms.Form):
    # A CharField refuses NUL characters, which PostgreSQL cannot store in text.
    name = forms.CharField(
        max_length=100,
        error_messages={"required": "Give the token a name, e.g. the machine or script using it."},
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Give the email of the person to invite.",
            "invalid": "That is not an email address.",
        },
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
