"""Seed the Schemathesis run's own database: per team a curator assigned to a reproduction
in progress with three claims, and an API token for the first team's curator.

Prints, as JSON, the token and the ids the fuzzer should favour (the first team's, which the
token may write to, and the second team's, which it must never see).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from tracker.papers.models import Paper  # noqa: E402
from tracker.reproductions.services import (  # noqa: E402
    claim_create,
    reproduction_assign,
    reproduction_propose,
    reproduction_transition,
)
from tracker.teams.models import Membership, Role, Team  # noqa: E402
from tracker.teams.services import api_token_create  # noqa: E402


def team_with_reproduction(slug: str, n: int) -> tuple[Membership, dict[str, Any]]:
    team = Team.objects.create(name=slug.title(), slug=slug)
    user = get_user_model().objects.create_user(f"{slug}-curator", f"{slug}@example.org")
    membership = Membership.objects.create(team=team, user=user, role=Role.CURATOR)
    title = f"Scaling attention, part {n}"
    paper = Paper.objects.create(
        arxiv_id=f"2501.{n:05d}",
        canonical_url=f"https://arxiv.org/abs/2501.{n:05d}",
        title=title,
        normalized_title=title.lower(),
        abstract="We study attention and report results on standard benchmarks.",
        authors=["Ada Lovelace"],
        categories=["cs.CL"],
        primary_category="cs.CL",
        published_at=timezone.now(),
        updated_at_source=timezone.now(),
    )
    reproduction, _ = reproduction_propose(membership=membership, paper=paper)
    reproduction_assign(reproduction=reproduction, membership=membership, assignees=[user])
    for status in ("accepted", "in_progress"):
        reproduction_transition(reproduction=reproduction, membership=membership, to_status=status)
    claims = [
        claim_create(membership=membership, paper=paper, metric=metric, dataset=dataset, **extra)
        for metric, dataset, extra in (
            ("accuracy", "MMLU", {"claimed_value": 71.3, "tolerance": 0.5}),
            ("exact match", "GSM8K", {"claimed_value": 52.0}),
            ("perplexity", "WikiText-103", {"claimed_value": 18.4, "higher_is_better": False}),
        )
    ]
    return membership, {"reproduction": reproduction.pk, "claims": [c.pk for c in claims]}


def main() -> None:
    ours, our_ids = team_with_reproduction("fuzz", 1)
    _, their_ids = team_with_reproduction("elsewhere", 2)
    _, token = api_token_create(user=ours.user, team=ours.team, name="schemathesis")
    print(json.dumps({"token": token, "ours": our_ids, "theirs": their_ids}))


if __name__ == "__main__":
    main()
