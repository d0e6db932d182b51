"""Reads for the inbox."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from tracker.papers.models import Paper
from tracker.teams.models import Membership
from tracker.triage.models import Rating, Skip


def inbox_papers(membership: Membership) -> QuerySet[Paper]:
    """Visible papers this member has neither rated nor skipped in this team, newest first."""
    rated = Rating.objects.filter(team=membership.team, user=membership.user, paper=OuterRef("pk"))
    skipped = Skip.objects.filter(team=membership.team, user=membership.user, paper=OuterRef("pk"))
    return (
        Paper.objects.visible()
        .filter(~Exists(rated), ~Exists(skipped))
        .order_by("-published_at", "-id")
    )
