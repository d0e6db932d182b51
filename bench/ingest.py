"""Parse and upsert >= 20,000 arXiv API entries; print entries/s and the ratio to arXiv's own
ceiling of 2,000 entries per 3 seconds (667/s). Target: >= 3x on PostgreSQL.

The recorded 100-entry API response is repeated under distinct ids. Runs on SQLite (a
temporary file) and, when DATABASE_URL names PostgreSQL, on a throwaway test database there.
Each backend runs in its own process, since Django binds one database per process.

    python bench/ingest.py [--entries 20000] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
RECORDED = DATA / "arxiv_api" / "lukasschwab_arxiv.py" / "fixtures_2026"
CEILING = 2000 / 3
# Issue 3: the harvester must never be the bottleneck on PostgreSQL.
TARGET = 3


def pages(count: int) -> list[bytes]:
    """`count` entries as API pages of 100, each page under its own synthetic ids."""
    from pipeline.arxiv import page_parse

    recorded = next(RECORDED.glob("q_testing_s0_m100_*.json"))
    body = json.loads(recorded.read_text(encoding="utf-8"))["body"].encode()
    ids = sorted({r.arxiv_id for r in page_parse(body).records if r.arxiv_id}, key=len)
    pattern = re.compile(b"|".join(re.escape(i.encode()) for i in reversed(ids)))
    index = {i.encode(): n for n, i in enumerate(ids)}
    out = []
    for page in range((count + len(ids) - 1) // len(ids)):
        prefix = f"{3000 + page // 900:04d}"
        base = (page % 900) * 100
        out.append(
            pattern.sub(
                lambda m, p=prefix, b=base: f"{p}.{b + index[m.group(0)]:05d}".encode(), body
            )
        )
    return out


def run_one(count: int, batch: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    django.setup()
    from django.db import connection

    from pipeline.arxiv import page_parse
    from tracker.papers.models import Paper, Source
    from tracker.papers.services import papers_upsert, search_documents_fill

    vendor = connection.vendor
    if connection.vendor == "sqlite":
        # A file, as in use: SQLite's test database is otherwise held in memory.
        name = Path(connection.settings_dict["NAME"]).with_name("bench-test.sqlite3")
        connection.settings_dict["TEST"]["NAME"] = str(name)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        bodies = pages(count)
        source = Source.objects.create(name="bench", kind="arxiv", query="all:testing")
        started, cpu_started = time.perf_counter(), time.process_time()
        parsing = upserting = 0.0
        stored = 0
        pending: list = []

        def flush() -> None:
            nonlocal stored, upserting
            began = time.perf_counter()
            papers_upsert(pending, source=source)
            upserting += time.perf_counter() - began
            stored += len(pending)
            pending.clear()

        for body in bodies:
            began = time.perf_counter()
            pending.extend(page_parse(body).records)
            parsing += time.perf_counter() - began
            # One transaction per `batch` entries: a harvest with ARXIV_PAGE_SIZE=batch.
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        assert Paper.objects.count() == stored, (Paper.objects.count(), stored)
        # On PostgreSQL the full-text documents are left to the embedding step that every
        # new paper goes through next; what that step then spends on them, for the record.
        began = time.perf_counter()
        documents = search_documents_fill()
        documents_seconds = time.perf_counter() - began
        rate = stored / elapsed
        verdict = ""
        if vendor == "postgresql":
            verdict = "  (target >= 3x: " + ("met" if rate >= TARGET * CEILING else "MISSED") + ")"
        print(
            f"ingest [{vendor}, {batch} per transaction]: {stored:,} entries in {elapsed:.1f}s "
            f"= {rate:,.0f} entries/s = {rate / CEILING:.2f}x arXiv's 667/s ceiling{verdict}\n"
            f"    wall {elapsed:.1f}s: parse {parsing:.1f}s, upsert and commit {upserting:.1f}s; "
            f"CPU used by this process {cpu:.1f}s (the rest is waiting on the database or "
            f"for a core); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        if documents:
            print(
                f"    then, in the embedding step: {documents:,} full-text documents in "
                f"{documents_seconds:.1f}s = {documents / documents_seconds:,.0f}/s",
                flush=True,
            )
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument(
        "--batch", type=int, default=100, help="entries per upsert transaction (an API page)"
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not RECORDED.is_dir():
        print(f"skipped: recorded arXiv responses not found at {RECORDED}")
        return 0
    if args.one:
        sys.path.insert(0, str(REPO))
        run_one(args.entries, max(1, args.batch))
        return 0
    backends = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends["sqlite"] = f"sqlite:///{tmp}/bench.sqlite3"
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres", "pgsql")):
            backends["postgresql"] = url
        else:
            print("PostgreSQL: skipped (set DATABASE_URL=postgres://... to run it)")
        for name, db_url in backends.items():
            # DEBUG off: Django would otherwise keep (and format) every query's SQL.
            env = {**os.environ, "DATABASE_URL": db_url, "DEBUG": "0"}
            env.setdefault("SECRET_KEY", "bench-only-not-a-secret")
            env.pop("REDIS_URL", None)
            command = [sys.executable, __file__, "--one", "--entries", str(args.entries)]
            command += ["--batch", str(args.batch)]
            if subprocess.run(command, env=env, cwd=REPO, check=False).returncode:
                print(f"{name}: failed")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
