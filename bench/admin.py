"""The admin paper list at 100,000 papers, timed against the admin index in the same run.

Seeds a throwaway test database (PostgreSQL when DATABASE_URL names one, else SQLite) with
BENCH_PAPERS papers (default 100,000), their sources and topics and some duplicate
candidates, then fetches each page as a signed-in curator and prints the median time,
the query count and the ratio to the index page. Target: every ratio within 3x.
Runs with the production settings (DEBUG off) unless DEBUG is set.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
# Measured as the admin runs in production: with DEBUG on, Django also keeps every query's
# SQL and WhiteNoise looks on disk for a static file at every request, costs no curator pays.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
os.environ.setdefault("HTTPS", "0")
if "VAR_DIR" not in os.environ:  # a scratch folder for the collected static files
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="tracker-bench-admin-")
    atexit.register(shutil.rmtree, os.environ["VAR_DIR"], ignore_errors=True)

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

if not settings.DEBUG:  # the hashed static file names the pages link to
    call_command("collectstatic", interactive=False, verbosity=0)

PAPERS = int(os.environ.get("BENCH_PAPERS", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
BATCH = 5000
TARGET_RATIO = 3.0


def seed() -> dict[str, int]:
    from datetime import timedelta

    from tracker.papers.models import (
        DuplicateCandidate,
        Paper,
        PaperKind,
        PaperSource,
        Source,
        SourceKind,
    )
    from tracker.topics.models import PaperTopic, Topic

    labs = ["OpenAI", "Google DeepMind", "Meta AI", "Anthropic", "Qwen", "DeepSeek", "Mistral"]
    categories = ["cs.CL", "cs.LG", "cs.AI", "cs.CV"]
    words = ["attention", "diffusion", "scaling", "reasoning", "retrieval", "alignment", "agents"]
    arxiv = Source.objects.create(name="arXiv cs", kind=SourceKind.ARXIV, query="cat:cs.CL")
    feeds = [
        Source.objects.create(
            name=f"{lab} blog", kind=SourceKind.FEED, url=f"https://{i}.example/feed", lab=lab
        )
        for i, lab in enumerate(labs)
    ]
    topics = [Topic(label=f"topic {i}", size=PAPERS // 60) for i in range(60)]
    Topic.objects.bulk_create(topics)
    now = timezone.now()
    for start in range(0, PAPERS, BATCH):
        batch = []
        for n in range(start, min(start + BATCH, PAPERS)):
            lab_report = n % 50 == 0
            title = f"On {words[n % len(words)]} and {words[(n // 7) % len(words)]}: study {n}"
            batch.append(
                Paper(
                    kind=PaperKind.LAB_REPORT if lab_report else PaperKind.ARXIV,
                    arxiv_id=None if lab_report else f"{2400 + n // 99999}.{n % 99999:05d}",
                    canonical_url=f"https://example.org/p/{n}",
                    lab=labs[n % len(labs)] if lab_report else "",
                    title=title,
                    normalized_title=title.lower(),
                    abstract="We study things. " * 20,
                    authors=["A. Author", "B. Author"],
                    categories=[categories[n % 4]],
                    primary_category=categories[n % 4],
                    published_at=now - timedelta(minutes=n),
                    code_urls=["https://github.com/x/y"] if n % 3 == 0 else [],
                    hidden=n % 97 == 0,
                )
            )
        papers = Paper.objects.bulk_create(batch)
        PaperSource.objects.bulk_create(
            PaperSource(
                paper=p,
                source=feeds[i % len(feeds)] if p.kind == PaperKind.LAB_REPORT else arxiv,
                url=p.canonical_url,
            )
            for i, p in enumerate(papers)
        )
        PaperTopic.objects.bulk_create(
            PaperTopic(paper=p, topic=topics[p.pk % len(topics)]) for p in papers
        )
    ids = list(Paper.objects.order_by("pk").values_list("pk", flat=True)[:400])
    DuplicateCandidate.objects.bulk_create(
        DuplicateCandidate(paper_a_id=ids[i], paper_b_id=ids[i + 1], reason="title")
        for i in range(0, len(ids) - 1, 2)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"topic": topics[0].pk, "source": feeds[0].pk}


def curator_client() -> Client:
    from django.contrib.auth import get_user_model

    from tracker.teams.models import Role
    from tracker.teams.services import membership_set_role, team_get_or_create

    user = get_user_model().objects.create_user(username="curator", password="x" * 16)
    membership_set_role(team=team_get_or_create("Bench"), user=user, role=Role.CURATOR)
    client = Client()
    client.force_login(user)
    return client


def measure(client: Client, pages: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Median time and query count per page, the pages interleaved so that noise from
    other processes lands on the index and the lists alike."""
    for url in pages.values():
        response = client.get(url)  # warm: templates, caches, the database's own
        assert response.status_code == 200, (url, response.status_code)
    times: dict[str, list[float]] = {name: [] for name in pages}
    counts: dict[str, int] = {}
    for _ in range(REPEATS):
        for name, url in pages.items():
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                client.get(url)
                times[name].append(time.perf_counter() - started)
            counts[name] = len(queries)
    return {name: (statistics.median(times[name]), counts[name]) for name in pages}


def main() -> int:
    # Not setup_test_environment(): its template instrumentation copies every context for
    # the test client, a cost real requests never pay and one that grows with the rows.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        ids = seed()
        print(
            f"seeded {PAPERS} papers on {connection.vendor} in {time.perf_counter() - started:.0f}s"
        )
        client = curator_client()
        pages = {
            "index": "/admin/",
            "papers": "/admin/papers/paper/",
            "search title": "/admin/papers/paper/?q=reasoning",
            "search arXiv id": "/admin/papers/paper/?q=2400.01234",
            "filter lab reports": "/admin/papers/paper/?kind__exact=lab_report&lab=Qwen",
            "filter topic+category": f"/admin/papers/paper/?topic={ids['topic']}&category=cs.CL",
            "filter visible+code": "/admin/papers/paper/?state=visible&has_code=yes",
            "filter source": f"/admin/papers/paper/?source={ids['source']}",
            "filter duplicates": "/admin/papers/paper/?duplicate=open",
            "duplicate queue": "/admin/papers/duplicatecandidate/?status=open",
        }
        results = measure(client, pages)
        index_time = results["index"][0]
        worst = 0.0
        print(f"{'page':<24}{'median ms':>10}{'queries':>9}{'ratio':>8}")
        for name, (seconds, queries) in results.items():
            ratio = seconds / index_time
            worst = max(worst, ratio)
            print(f"{name:<24}{seconds * 1000:>10.1f}{queries:>9}{ratio:>8.2f}")
        verdict = "within" if worst <= TARGET_RATIO else "OVER"
        print(f"worst ratio {worst:.2f} ({verdict} the {TARGET_RATIO:.0f}x target)")
        return 0
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
