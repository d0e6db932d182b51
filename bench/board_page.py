"""What the reproduction board costs to render: a team's board full of cards (every column
at its card limit) requested through Django's test client, and the cards on their own from
their template (jinja2/reproductions/_cards.html) against the card as it was built in
Python (tests/portal/board_reference.py), measured in the same run.

Prints the page's median time a request, the cards' time each way and their ratio, and
what the difference is as a share of the page. SQLite by default; BENCH_DATABASE_URL names
another (an existing, empty PostgreSQL database).

    python bench/board_page.py
"""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import (
    against_python,
    render_as_production,
    setup_django,
    template_against_python,
    timed,
)

REPRODUCTIONS = int(os.environ.get("BENCH_REPRODUCTIONS", 300))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 20))
RUNS = int(os.environ.get("BENCH_RUNS", 7))


def seed() -> object:
    from django.contrib.auth import get_user_model

    from tracker.papers.models import Paper
    from tracker.reproductions.models import Reproduction, Status
    from tracker.teams.models import Membership, Team

    team = Team.objects.create(name="Bench", slug="bench")
    users = get_user_model()
    curator = users.objects.create_user("curator", password="bench-password-xxxxxxxx")
    people = [curator] + [
        users.objects.create_user(f"member{i}", password="bench-password-xxxxxxxx")
        for i in range(4)
    ]
    for user in people:
        role = "curator" if user == curator else "member"
        Membership.objects.create(team=team, user=user, role=role)
    papers = Paper.objects.bulk_create(
        Paper(
            arxiv_id=f"2501.{i:05d}",
            canonical_url=f"https://arxiv.org/abs/2501.{i:05d}",
            title=f"Top-$k$ sparse attention <at scale>, part {i}",
            abstract="",
        )
        for i in range(REPRODUCTIONS)
    )
    statuses = list(Status)
    reproductions = Reproduction.objects.bulk_create(
        Reproduction(
            team=team,
            paper=paper,
            proposed_by=curator,
            status=statuses[i % len(statuses)],
            due_date=date(2024, 1, 1) + timedelta(days=i % 90) if i % 2 else None,
            compute_budget_gpu_hours=Decimal(40 + i % 30) if i % 3 else None,
            compute_spent_gpu_hours=Decimal(i % 60) / 2,
            abandon_reason="out of budget",
        )
        for i, paper in enumerate(papers)
    )
    through = Reproduction.assignees.through
    through.objects.bulk_create(
        through(reproduction_id=r.pk, user_id=people[1 + (i + k) % 4].pk)
        for i, r in enumerate(reproductions)
        for k in range(i % 3)
    )
    return curator


def main() -> None:
    setup_django(os.environ.get("BENCH_DATABASE_URL"))
    from django.template import engines
    from django.test import Client
    from django.utils import timezone

    from tests.portal import board_reference
    from tracker.reproductions.selectors import board_columns
    from tracker.teams.models import Membership

    render_as_production()
    curator = seed()
    client = Client()
    client.force_login(curator)  # type: ignore[arg-type]
    assert client.get("/reproductions/").status_code == 200  # warm: templates compiled
    page = timed(lambda: client.get("/reproductions/"), RUNS, REQUESTS)

    # The cards alone, as the page has them, each way.
    engine = engines["django"]
    engine.engine.template_libraries["board_reference"] = board_reference.register  # type: ignore[attr-defined]
    loops = {
        "template": engine.from_string(
            "{% load board %}{% for column in columns %}"
            "{% board_cards column.items today csrf_token next_url %}{% endfor %}"
        ),
        "python": engine.from_string(
            "{% load board_reference %}{% for column in columns %}{% for r in column.items %}"
            "{% board_card r today csrf_token next_url %}{% endfor %}{% endfor %}"
        ),
    }
    columns = board_columns(Membership.objects.get(user=curator), False)
    cards = 0
    for column in columns:
        for card in column.items:
            card.detail_url = f"/reproductions/{card.pk}/"
            card.move_url = f"/reproductions/{card.pk}/status/" if card.move_to else ""
            cards += 1
    context = {
        "columns": columns,
        "today": timezone.localdate(),
        "csrf_token": "x" * 64,
        "next_url": "/reproductions/",
    }
    as_template, as_python = template_against_python(loops, context, RUNS, REQUESTS)
    print(
        f"board page ({REPRODUCTIONS} reproductions, {cards} cards shown): median "
        f"{median(page):.1f} ms of CPU a request (runs {min(page):.1f}-{max(page):.1f} ms)"
    )
    print(against_python("cards", as_template, as_python, median(page)))


if __name__ == "__main__":
    main()
