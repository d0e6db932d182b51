from __future__ import annotations

from django import forms

from tracker.follows.models import FollowKind

# What a person types in on the follows page; sources, topics and seed papers are followed
# from where they are shown.
TYPED_KINDS = [
    (FollowKind.AUTHOR, "Author"),
    (FollowKind.LAB, "Lab"),
    (FollowKind.KEYWORD, "Keyword or phrase"),
    (FollowKind.SEARCH, "Saved search"),
]


class FollowForm(forms.Form):
    kind = forms.ChoiceField(choices=FollowKind.choices)
    value = forms.CharField(max_length=300)
    channel = forms.BooleanField(required=False)


class WebhookForm(forms.Form):
    url = forms.CharField(max_length=1000, label="Webhook URL")
    channel = forms.BooleanField(required=False)
