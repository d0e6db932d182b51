"""What follows cost: the inbox's "for you" ranking for a member with ten follows (their
matches go first) against the same ranking for a member with none, on the same papers, and
matching a day's arrivals against many follows.

Prints the median time of each and the ratio with follows / without, measured in the same
run, and the matching alone as a first load pays it (later loads, after a rating, reuse it
while the follows and the inbox's papers stay the same). SQLite by default;
BENCH_DATABASE_URL names another (an existing, empty PostgreSQL database).

    python bench/follows.py
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import setup_django

PAPERS = int(os.environ.get("BENCH_PAPERS", 3000))
ARRIVALS = int(os.environ.get("BENCH_ARRIVALS", 1000))
FOLLOWS = int(os.environ.get("BENCH_FOLLOWS", 200))
RUNS = int(os.environ.get("BENCH_RUNS", 7))
# Forty topics' words: a keyword follow matches a few percent of the papers, as one does on
# a day of arXiv cs.* (the ten follows below pick out about a tenth of the papers).
TOPIC_WORDS = ("attention", "retrieval", "agents", "diffusion", "speech")
WORDS = [f"{w}{n}" for n in range(8) for w in TOPIC_WORDS]


def seed() -> tuple[object, object]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tracker.follows.models import FollowKind
    from tracker.follows.services import follow_add
    from tracker.papers.models import Paper, PaperSource, Source
    from tracker.teams.models import Membership, Team
    from tracker.topics.models import PaperTopic, Topic

    team = Team.objects.create(name="Bench", slug="bench")
    users = get_user_model()
    plain = users.objects.create_user("plain", password="bench-password-xxxxxxxx")
    follower = users.objects.create_user("follower", password="bench-password-xxxxxxxx")
    members = [Membership.objects.create(team=team, user=u) for u in (plain, follower)]
    topic = Topic.objects.create(label="Agents")
    source = Source.objects.create(name="Lab blog", kind="feed", url="https://lab.example/feed")
    now = timezone.now()
    papers = Paper.objects.bulk_create(
        Paper(
            arxiv_id=f"2501.{i:05d}",
            canonical_url=f"https://arxiv.org/abs/2501.{i:05d}",
            title=f"{WORDS[i % 40].title()} at scale, part {i}",
            abstract=f"We study {WORDS[i % 40]} and {WORDS[(i * 7) % 40]} in long contexts. " * 3,
            authors=[f"Ann Writer{i % 400:03d}", f"Bo Writer{(i + 1) % 400:03d}"],
            lab=("Qwen", "Mistral", "", "", "", "", "", "", "", "")[i % 10] if i % 3 else "",
            published_at=now - timedelta(minutes=i),
            created_at=now - timedelta(minutes=i),
        )
        for i in range(PAPERS)
    )
    PaperTopic.objects.bulk_create(PaperTopic(paper=p, topic=topic) for p in papers[::100])
    PaperSource.objects.bulk_create(
        PaperSource(paper=p, source=source, url=p.canonical_url) for p in papers[::100]
    )
    ten = [
        (FollowKind.AUTHOR, "Ann Writer007"),
        (FollowKind.AUTHOR, "Bo Writer099"),
        (FollowKind.AUTHOR, "Ann Writer250"),
        (FollowKind.LAB, "Mistral"),
        (FollowKind.SOURCE, str(source.pk)),
        (FollowKind.TOPIC, str(topic.pk)),
        (FollowKind.KEYWORD, "diffusion0"),
        (FollowKind.KEYWORD, "speech1 and agents2"),
        (FollowKind.SEARCH, "retrieval3 attention0"),
        (FollowKind.SEARCH, '"long contexts" agents1'),
    ]
    for kind, value in ten:
        follow_add(members[1], kind, value)
    return members[0], members[1]


def timed(work) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        runs.append((time.perf_counter() - started) * 1000)
    return median(runs)


def main() -> None:
    setup_django(os.environ.get("BENCH_DATABASE_URL"))
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from tracker.follows.models import Alert, Follow, FollowKind
    from tracker.follows.selectors import followed_reasons, inbox_follows
    from tracker.follows.services import alerts_create, follow_add
    from tracker.papers.models import Paper
    from tracker.teams.models import Membership, Team
    from tracker.triage.ranking import member_ranking
    from tracker.triage.selectors import inbox_papers

    plain, follower = seed()
    member_ranking(plain, inbox_papers(plain))  # warm: the papers' features are kept
    without = timed(lambda: member_ranking(plain, inbox_papers(plain)))
    # The matching itself, as on the first load after a follow or a new paper: later loads
    # (after a rating, say) reuse it while the follows and the window stay the same.
    follows_of = inbox_follows(follower)
    matching = timed(lambda: followed_reasons(follows_of, inbox_papers(follower)))
    with_follows = timed(lambda: member_ranking(follower, inbox_papers(follower)))
    ranked = member_ranking(follower, inbox_papers(follower))
    first = sum(1 for r in ranked if r.reason.startswith("you follow"))
    print(
        f"follows: inbox ranking of {PAPERS} papers, with 10 follows {with_follows:.1f} ms, "
        f"without {without:.1f} ms, ratio {with_follows / without:.2f} "
        f"({first} followed matches first) [{connection.vendor}]"
    )
    print(
        f"follows: matching the inbox against 10 follows on a first load {matching:.1f} ms, "
        f"ratio {(without + matching) / without:.2f} to the ranking without follows"
    )

    # A day's arrivals against many members' follows (matching runs in a worker).
    team = Team.objects.get(slug="bench")
    users = get_user_model()
    for n in range(FOLLOWS // 10):
        user = users.objects.create_user(f"m{n}", password="bench-password-xxxxxxxx")
        membership = Membership.objects.create(team=team, user=user)
        for k in range(10):
            follow_add(membership, FollowKind.AUTHOR, f"Ann Writer{(n * 10 + k) % 400:03d}")
    follows = Follow.objects.count()
    ids = list(Paper.objects.order_by("-created_at").values_list("pk", flat=True)[:ARRIVALS])
    Paper.objects.filter(pk__in=ids).update(created_at=timezone.now())
    started = time.perf_counter()
    raised = alerts_create(ids)
    took = (time.perf_counter() - started) * 1000
    print(
        f"follows: matching {len(ids)} new papers against {follows} follows {took:.0f} ms, "
        f"{raised} alerts ({Alert.objects.count()} stored)"
    )


if __name__ == "__main__":
    main()
