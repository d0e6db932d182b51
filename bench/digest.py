"""Build the weekly digests of 1,000 members over 100,000 papers; print queries and speed.

Seeds a throwaway database of the configured engine (PostgreSQL when DATABASE_URL says
so, else an SQLite file under VAR_DIR) with bulk inserts, builds and renders every
member's digest as a send would, and prints SQL queries per member, members per second,
and the ratio to the target: all 1,000 in under a minute. BENCH_MEMBERS and BENCH_PAPERS
shrink it for a quick look.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "1000"))
PAPERS = int(os.environ.get("BENCH_PAPERS", "100000"))
TEAM_SIZE = 50
TOPICS = 200
TARGET_SECONDS = 60.0
BATCH = 2000


def seed(now: object) -> None:
    from tracker.papers.models import Paper
    from tracker.reproductions.models import Claim, Reproduction, ResultLog, Status
    from tracker.teams.models import Membership, Team
    from tracker.topics.models import PaperTopic, Topic, TopicFollow
    from tracker.triage.models import Comment, Rating

    rng = random.Random(6)
    day = timedelta(days=1)
    User = get_user_model()
    teams = Team.objects.bulk_create(
        [Team(name=f"Team {i}", slug=f"team-{i}") for i in range(max(1, MEMBERS // TEAM_SIZE))]
    )
    users = User.objects.bulk_create(
        [
            User(username=f"member{i}", email=f"member{i}@example.org", password="!")
            for i in range(MEMBERS)
        ],
        batch_size=BATCH,
    )
    team_of = {u.pk: teams[i % len(teams)] for i, u in enumerate(users)}
    Membership.objects.bulk_create(
        [Membership(team=team_of[u.pk], user=u) for u in users], batch_size=BATCH
    )
    topics = Topic.objects.bulk_create(
        [
            Topic(label=f"Topic {i}", created_at=now - (3 * day if i < 10 else 200 * day))
            for i in range(TOPICS)
        ]
    )
    papers = Paper.objects.bulk_create(
        [
            Paper(
                arxiv_id=f"25{i // 100000:02d}.{i % 100000:05d}",
                canonical_url=f"https://arxiv.org/abs/25{i // 100000:02d}.{i % 100000:05d}",
                title=f"Paper {i}: a study of scaling, attention and data",
                normalized_title=f"paper {i}",
                authors=["A. Author", "B. Author", "C. Author"],
                # A year of papers, denser lately, as arXiv is.
                published_at=now - timedelta(minutes=int(525600 * rng.random() ** 1.3)),
                version=2 if i % 200 == 0 else 1,
                revised_at=now - 2 * day if i % 200 == 0 else None,
                pinned_for_digest=i < 3,
            )
            for i in range(PAPERS)
        ],
        batch_size=BATCH,
    )
    PaperTopic.objects.bulk_create(
        [
            PaperTopic(paper=p, topic=topics[rng.randrange(TOPICS)], similarity=rng.random())
            for p in papers
        ],
        batch_size=BATCH,
    )
    TopicFollow.objects.bulk_create(
        [TopicFollow(user=u, topic=t) for u in users for t in rng.sample(topics, 3)],
        batch_size=BATCH,
    )
    recent = [p for p in papers if p.published_at > now - 21 * day]
    revised = [p for p in papers if p.revised_at]
    ratings = []
    for u in users:
        picks = rng.sample(recent, min(30, len(recent))) + rng.sample(revised, min(3, len(revised)))
        for p in set(picks):
            at = now - timedelta(hours=rng.randrange(24 * 21))
            if p.revised_at:
                at = now - 30 * day
            ratings.append(
                Rating(team=team_of[u.pk], paper=p, user=u, value=rng.randint(1, 5), updated_at=at)
            )
    Rating.objects.bulk_create(ratings, batch_size=BATCH)
    Comment.objects.bulk_create(
        [
            Comment(team=r.team, paper=r.paper, user=r.user, body="Worth a look.")
            for r in ratings[::6]
        ],
        batch_size=BATCH,
    )
    members_of: dict[int, list[object]] = {}
    for u in users:
        members_of.setdefault(team_of[u.pk].pk, []).append(u)
    repros, claims, results, assign = [], [], [], []
    through = Reproduction.assignees.through
    for team in teams:
        for j in range(30):
            finished = j < 10
            paper = rng.choice(papers)
            repro = Reproduction(
                team=team,
                paper=paper,
                status=rng.choice([Status.NOT_REPRODUCED, Status.REPRODUCED])
                if finished
                else Status.IN_PROGRESS,
                finished_at=now - timedelta(hours=rng.randrange(24 * 7)) if finished else None,
                due_date=(now + timedelta(days=rng.randint(-5, 20))).date(),
            )
            repros.append(repro)
    Reproduction.objects.bulk_create(repros, batch_size=BATCH)
    for repro in repros:
        for member in rng.sample(members_of[repro.team_id], 2):
            assign.append(through(reproduction_id=repro.pk, user_id=member.pk))  # type: ignore[attr-defined]
        if repro.finished_at:
            for k in range(2):
                claims.append(
                    Claim(
                        team_id=repro.team_id,
                        paper_id=repro.paper_id,
                        metric="acc",
                        dataset=f"set{k}",
                        claimed_value=70.0,
                    )
                )
    through.objects.bulk_create(assign, batch_size=BATCH)
    Claim.objects.bulk_create(claims, batch_size=BATCH)
    by_paper: dict[tuple[int, int], list[Claim]] = {}
    for claim in claims:
        by_paper.setdefault((claim.team_id, claim.paper_id), []).append(claim)
    for repro in repros:
        for claim in by_paper.get((repro.team_id, repro.paper_id), []) if repro.finished_at else []:
            for _ in range(3):
                results.append(
                    ResultLog(reproduction=repro, claim=claim, reproduced_value=rng.gauss(69, 2))
                )
    ResultLog.objects.bulk_create(results, batch_size=BATCH)


def main() -> None:
    from tracker.digests.selectors import digest_week
    from tracker.digests.services import digest_preview, preferences_ensure

    vendor = connection.vendor
    if vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = str(
            Path(settings.VAR_DIR) / "bench-digest.sqlite3"
        )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        now = timezone.now()
        started = time.perf_counter()
        seed(now)
        seeded = time.perf_counter() - started
        print(f"seeded {PAPERS:,} papers and {MEMBERS:,} members on {vendor} in {seeded:.1f}s")
        preferences_ensure(now)

        users = list(get_user_model().objects.order_by("pk"))
        per_member: list[int] = []  # members whose team's part was already read
        team_firsts: list[int] = []  # the first member of each team also reads its part
        non_empty = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        reset_queries()
        with CaptureQueriesContext(connection) as week_queries:
            shared = digest_week(now)
        for user in users:
            # The query log is bounded; emptied per member so each count is exact.
            reset_queries()
            teams_read = len(shared.teams)
            with CaptureQueriesContext(connection) as captured:
                digest, rendered = digest_preview(user, now, shared=shared)
            (team_firsts if len(shared.teams) > teams_read else per_member).append(len(captured))
            non_empty += not digest.is_empty
            assert rendered.html
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    rate = len(users) / elapsed
    target_rate = 1000 / TARGET_SECONDS
    print(f"corpus-wide queries, once per run: {len(week_queries)}")
    print(f"team queries, once per team per run: {len(shared.teams)} teams x 5")
    print(f"SQL queries per member: {spread(per_member)} ({len(per_member):,} members)")
    print(
        f"  the first member of each team, who also reads the team's part: "
        f"{spread(team_firsts)} ({len(team_firsts)} members)"
    )
    print(f"built and rendered {len(users):,} digests ({non_empty:,} non-empty) in {elapsed:.1f}s")
    print(f"members per second: {rate:.1f} (target {target_rate:.1f}/s: 1,000 in 60s)")
    # The machine is shared: with the load average above the core count, wall time
    # overstates what the code costs, so the CPU seconds of this process are shown too.
    print(
        f"this process used {cpu:.1f} CPU s ({len(users) / cpu:.1f} members per CPU s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"ratio to target: {rate / target_rate:.2f}x ({'met' if rate >= target_rate else 'MISSED'})"
    )


def spread(counts: list[int]) -> str:
    """One number when every member ran the same count, else the range."""
    low, high = min(counts, default=0), max(counts, default=0)
    return str(low) if low == high else f"{low}..{high}"


if __name__ == "__main__":
    main()
