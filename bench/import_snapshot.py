"""Import snapshot-format records (the Kaggle arXiv metadata JSON lines) and show that memory
does not grow with the file: records/s, and the process's peak resident memory after
10,000 and after 100,000 records, with their ratio (flat streaming: about 1x, not 10x).

The real 200-line sample is repeated under distinct ids into temporary files. Runs on
DATABASE_URL when it names PostgreSQL (a throwaway test database), else on a temporary
SQLite file.

    python bench/import_snapshot.py [--records 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = (
    REPO / ".." / "shared" / "data" / "arxiv_corpus" / "kaggle_snapshot_head"
    / "arxiv-metadata-oai-snapshot.json"
)  # fmt: skip


def write_snapshot(path: Path, count: int, first_id: int) -> None:
    lines = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            record = dict(lines[n % len(lines)])
            serial = first_id + n
            record["id"] = f"{3000 + serial // 99_999:04d}.{serial % 99_999 + 1:05d}"
            out.write(json.dumps(record) + "\n")


def measure(path: Path) -> tuple[int, float, int]:
    from tracker.papers.imports import snapshot_import

    started = time.perf_counter()
    result = snapshot_import(path)
    elapsed = time.perf_counter() - started
    # The process's peak resident memory so far (KiB on Linux). It never goes down, so the
    # larger file runs second: any growth over the smaller file's peak is its own.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert result.bad == 0 and result.new == result.lines, result
    return result.lines, elapsed, peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    if not SAMPLE.is_file():
        print(f"skipped: snapshot sample not found at {SAMPLE}")
        return 0
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    # DEBUG off: Django would otherwise keep every query's SQL in memory.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    with tempfile.TemporaryDirectory() as tmp:
        if not os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql")):
            os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.db import connection

        if connection.vendor == "sqlite":
            # A file, as in use: SQLite's test database is otherwise held in memory.
            name = Path(connection.settings_dict["NAME"]).with_name("bench-test.sqlite3")
            connection.settings_dict["TEST"]["NAME"] = str(name)
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            warm, small, large = (Path(tmp) / f"{n}.json" for n in ("warm", "small", "large"))
            write_snapshot(warm, 2000, first_id=0)
            write_snapshot(small, args.records // 10, first_id=2000)
            write_snapshot(large, args.records, first_id=2000 + args.records // 10)
            # Caches, allocator arenas and lazily imported code settle on a first batch.
            measure(warm)
            results = {name: measure(path) for name, path in (("small", small), ("large", large))}
        finally:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
    for _name, (count, elapsed, peak) in results.items():
        print(
            f"import_snapshot [{connection.vendor}] {count:>7} records: {count / elapsed:,.0f} "
            f"records/s, peak resident memory {peak / 2**20:.1f} MiB"
        )
    small_peak, large_peak = results["small"][2], results["large"][2]
    print(
        f"peak memory ratio {results['large'][0]:,} / {results['small'][0]:,} records: "
        f"{large_peak / small_peak:.2f}x for 10x the file (flat streaming: about 1x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
