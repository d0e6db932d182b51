"""What one inbox page costs to render, on its own: 200 new papers in the member's inbox,
the first page of them (rows with their abstracts' first lines, topic groups, facets)
requested through Django's test client, with no network or server in between.

Prints the median and spread of the per-request time over repeated runs, so that a change
to how rows are rendered (templates or Python) can be weighed on the page alone; then the
page's rows on their own, from their template against the row as it was built in Python
(tests/portal/inbox_reference.py), measured in the same run from the same rows (ranking
and queries left out), with their ratio and the difference as a share of the page. SQLite
by default; BENCH_DATABASE_URL names another (an existing, empty PostgreSQL database).

    python bench/inbox_page.py
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import against_python, render_as_production, setup_django, template_against_python

PAPERS = int(os.environ.get("BENCH_PAPERS", 200))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 20))
RUNS = int(os.environ.get("BENCH_RUNS", 7))
TOPICS = 8
ABSTRACT = (
    "We study how $\\mathcal{O}(n \\log n)$ attention scales with context length and show "
    "that a sparse variant keeps quality at a fraction of the cost. Experiments on long "
    "documents, code and speech confirm the trend; we release the code and the weights. "
) * 4


def seed() -> object:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tracker.papers.models import Paper
    from tracker.teams.models import Membership, Team
    from tracker.topics.models import PaperTopic, Topic, TopicFollow
    from tracker.triage.models import Rating

    team = Team.objects.create(name="Bench", slug="bench")
    users = get_user_model()
    reader = users.objects.create_user("reader", password="bench-password-xxxxxxxx")
    peer = users.objects.create_user("peer", password="bench-password-xxxxxxxx")
    for user in (reader, peer):
        Membership.objects.create(team=team, user=user)
    topics = [Topic.objects.create(label=f"Topic {i}") for i in range(TOPICS)]
    TopicFollow.objects.create(user=reader, topic=topics[0])
    now = timezone.now()
    papers = Paper.objects.bulk_create(
        Paper(
            arxiv_id=f"2501.{i:05d}",
            canonical_url=f"https://arxiv.org/abs/2501.{i:05d}",
            title=f"Top-$k$ sparse attention, part {i}",
            abstract=ABSTRACT,
            authors=[f"Author {i}", f"Author {i + 1}", f"Author {i + 2}", f"Author {i + 3}"],
            primary_category=("cs.LG", "cs.CL", "cs.CV")[i % 3],
            published_at=now - timedelta(hours=i),
            created_at=now - timedelta(hours=i),
            has_code=i % 2 == 0,
        )
        for i in range(PAPERS)
    )
    PaperTopic.objects.bulk_create(
        PaperTopic(paper=paper, topic=topics[i % TOPICS]) for i, paper in enumerate(papers)
    )
    Rating.objects.bulk_create(
        Rating(team=team, paper=paper, user=peer, value=1 + i % 5)
        for i, paper in enumerate(papers)
        if i % 3 == 0
    )
    return reader


def rows_alone(reader: object, page_cpu: float) -> None:
    """The first page's rows rendered from their template and by the Python reference,
    interleaved so that a burst of load falls on both; they must give the same HTML."""
    from django.template import engines

    from tests.portal import inbox_reference
    from tracker.teams.models import Membership
    from tracker.triage.selectors import InboxFilters, inbox_build

    engine = engines["django"]
    engine.engine.template_libraries["inbox_reference"] = inbox_reference.register  # type: ignore[attr-defined]
    loops = {
        "template": engine.from_string(
            "{% load inbox %}{% for group in inbox.groups %}{% inbox_rows group.rows %}{% endfor %}"
        ),
        "python": engine.from_string(
            "{% load inbox_reference %}{% for group in inbox.groups %}{% for row in group.rows %}"
            "{% inbox_row_reference row %}\n{% endfor %}{% endfor %}"
        ),
    }
    membership = Membership.objects.select_related("team").get(user=reader)
    context = {"inbox": inbox_build(membership, InboxFilters())}
    shown = sum(len(group.rows) for group in context["inbox"].groups)
    as_template, as_python = template_against_python(loops, context, RUNS, REQUESTS)
    print(against_python(f"rows ({shown} shown)", as_template, as_python, page_cpu))


def main() -> None:
    setup_django(os.environ.get("BENCH_DATABASE_URL"))
    from django.db import connection
    from django.test import Client

    render_as_production()
    client = Client()
    reader = seed()
    client.force_login(reader)  # type: ignore[arg-type]
    assert client.get("/inbox/").status_code == 200  # warm: templates compiled and cached
    runs, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(REQUESTS):
            client.get("/inbox/")
        runs.append((time.perf_counter() - started) * 1000 / REQUESTS)
        cpu.append((time.process_time() - started_cpu) * 1000 / REQUESTS)
    # The CPU time of this process (Django, and SQLite when it is the database) is the
    # steadier figure on a shared machine: other processes' load stretches the wall clock.
    print(
        f"inbox page ({connection.vendor}, {PAPERS} new papers): median {median(runs):.1f} ms "
        f"a request (runs {min(runs):.1f}-{max(runs):.1f} ms), {median(cpu):.1f} ms of CPU "
        f"in this process ({RUNS}x{REQUESTS} requests)"
    )
    rows_alone(reader, median(cpu))


if __name__ == "__main__":
    main()
