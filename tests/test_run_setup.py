"""`make run`: the port it serves on and the processes it starts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile.dev").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_harvest_runs_in_a_worker_of_its_own() -> None:
    processes = _procfile()
    queues = {
        name: set(re.search(r"-Q (\S+)", cmd).group(1).split(","))  # type: ignore[union-attr]
        for name, cmd in processes.items()
        if "celery" in cmd
    }
    harvesters = [name for name, qs in queues.items() if "harvest" in qs]
    assert harvesters == ["harvest"]
    assert queues["harvest"] == {"harvest"}
    # Everything else (embedding, clustering, email) is still consumed by someone.
    assert set().union(*queues.values()) >= {"default", "ml", "email", "harvest"}
    # One beat only.
    assert sum("-B" in cmd.split() for cmd in processes.values()) == 1


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_make_run_port_reaches_the_web_process() -> None:
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8001"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "MAKE_RUN_BIND=127.0.0.1:8001" in plan
    web = _procfile()["web"]
    # The port given to make wins over WEB_BIND / WEB_PORT (honcho lays .env over the shell).
    assert web.index("MAKE_RUN_BIND") < web.index("WEB_BIND") < web.index("WEB_PORT")
