"""`manage.py migrate` alone makes a database the whole app can run on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh process on a fresh SQLite database in tmp_path, cache in that database."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"DEBUG": "1", "VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrate_alone_makes_the_cache_table_the_harvest_gate_needs(tmp_path: Path) -> None:
    assert not (tmp_path / "tracker.sqlite3").exists()
    migrated = manage(tmp_path, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr

    # The arXiv politeness gate is a cache.add with an expiry; it is the harvest's first call.
    gate = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.core.cache import cache; "
        "print(cache.add('arxiv-gate', 1, 5), cache.add('arxiv-gate', 1, 5))",
    )
    assert gate.returncode == 0, gate.stderr
    assert gate.stdout.splitlines()[-1].split() == ["True", "False"]

    again = manage(tmp_path, "migrate", "--no-input")
    assert again.returncode == 0, again.stderr
