"""Bad configuration stops start-up with a message that names the variable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """This process's environment without the settings the tests choose, its files in
    `tmp_path`, with `env` over it."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    return clean | {"VAR_DIR": str(tmp_path), **env}


def manage_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARXIV_DELAY_SECONDS", "three"),
        ("DEBUG", "perhaps"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("EMBEDDING_BATCH_SIZE", "-4"),
        ("EMAIL_URL", "pigeon://x"),
    ],
)
def test_bad_value_names_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    result = manage_check(tmp_path, **({"DEBUG": "1"} | {variable: value}))
    assert result.returncode != 0
    assert variable in result.stderr


def test_secret_key_required_when_debug_is_off(tmp_path: Path) -> None:
    result = manage_check(tmp_path, DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_defaults_pass_the_checks(tmp_path: Path) -> None:
    result = manage_check(tmp_path, DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_gunicorn_reads_its_settings_and_the_environment() -> None:
    """The image and compose start gunicorn with no flags: gunicorn.conf.py must be found
    beside manage.py and sized from WEB_WORKERS / WEB_THREADS."""
    env = {**os.environ, "WEB_WORKERS": "5", "WEB_THREADS": "2", "WEB_BIND": "127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "tracker.wsgi:application"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = {
        line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip()
        for line in result.stdout.splitlines()
        if "=" in line
    }
    assert config["worker_class"] == "gthread"
    assert (config["workers"], config["threads"]) == ("5", "2")
    assert config["bind"] == "['127.0.0.1:9']"
    assert config["keepalive"] == "75"


def frozen_after(tmp_path: Path, script: str) -> dict[str, int]:
    """Run `script` in a new interpreter; it ends by printing its counts as JSON, among them
    the objects frozen out of the garbage collector's sight and those it still tracks."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment(tmp_path, DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, int] = json.loads(result.stdout.splitlines()[-1])
    assert counts["frozen"] > 100_000, counts
    assert counts["tracked"] < counts["frozen"] / 10, counts
    return counts


def test_a_gunicorn_worker_freezes_what_it_loaded_before_its_first_request(tmp_path: Path) -> None:
    """Once warmed up (post_worker_init), a worker's loaded objects are out of the garbage
    collector's sight: a full collection walks only what requests made since."""
    frozen_after(
        tmp_path,
        "import gc, json, runpy\n"
        "import tracker.wsgi\n"
        "runpy.run_path('gunicorn.conf.py')['post_worker_init'](None)\n"
        "print(json.dumps({'frozen': gc.get_freeze_count(), 'tracked': len(gc.get_objects())}))",
    )


def test_a_celery_worker_freezes_what_it_loaded_before_its_pool_starts(tmp_path: Path) -> None:
    """A worker being set up (worker_init, before its pool forks) freezes Django, Celery and
    the tasks out of the garbage collector's sight, as a web worker does."""
    counts = frozen_after(
        tmp_path,
        "import gc, json\n"
        "from workers.celery import app\n"
        "before = gc.get_freeze_count()\n"
        "app.WorkController(pool_cls='solo', hostname='freeze@test', concurrency=1)\n"
        "print(json.dumps({'before': before, 'frozen': gc.get_freeze_count(),\n"
        "                  'tracked': len(gc.get_objects()), 'tasks': len(app.tasks)}))",
    )
    assert counts["before"] == 0, counts
    # The project's tasks were loaded before the freeze, not after it.
    assert counts["tasks"] > 20, counts


def test_an_llm_endpoint_without_a_model_names_the_variable(tmp_path: Path) -> None:
    result = manage_check(tmp_path, DEBUG="1", LLM_BASE_URL="http://127.0.0.1:11434/v1")
    assert result.returncode != 0
    assert "LLM_MODEL" in result.stderr


def test_a_webhook_backoff_past_the_visibility_timeout_names_the_variable(tmp_path: Path) -> None:
    # Redis would hand the delayed retry to a worker early, before its wait is over.
    result = manage_check(
        tmp_path,
        DEBUG="1",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CELERY_VISIBILITY_TIMEOUT="600",
        WEBHOOK_RETRY_MAX_SECONDS="900",
    )
    assert result.returncode != 0
    assert "WEBHOOK_RETRY_MAX_SECONDS" in result.stderr


def settings_of(settings_file: Path, names: list[str], **env: str) -> dict[str, str]:
    """The named settings as a fresh process computes them from `env` (and the .env file
    beside the settings' package), without touching this process's environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "VAR_DIR", "HTTPS"}
    }
    script = (
        "import json, runpy, sys\n"
        "values = runpy.run_path(sys.argv[1])\n"
        "print(json.dumps({name: str(values[name]) for name in sys.argv[2:]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(settings_file), *names],
        cwd=settings_file.parent.parent,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


SETTINGS_FILE = ROOT / "tracker" / "settings.py"


def test_hsts_lasts_a_year_when_https_is_on(tmp_path: Path) -> None:
    production = {"DEBUG": "0", "SECRET_KEY": "x" * 50, "VAR_DIR": str(tmp_path)}
    seconds = settings_of(SETTINGS_FILE, ["SECURE_HSTS_SECONDS"], **production)
    assert seconds == {"SECURE_HSTS_SECONDS": "31536000"}
    chosen = settings_of(
        SETTINGS_FILE, ["SECURE_HSTS_SECONDS"], **production, SECURE_HSTS_SECONDS="600"
    )
    assert chosen == {"SECURE_HSTS_SECONDS": "600"}
    plain_http = settings_of(SETTINGS_FILE, ["SECURE_HSTS_SECONDS"], **production, HTTPS="0")
    assert plain_http == {"SECURE_HSTS_SECONDS": "0"}


def test_var_dir_in_the_env_file_places_the_database_and_broker(tmp_path: Path) -> None:
    """The checkout's .env is read before any path is derived from VAR_DIR."""
    checkout = tmp_path / "checkout"
    (checkout / "tracker").mkdir(parents=True)
    shutil.copy(SETTINGS_FILE, checkout / "tracker" / "settings.py")
    var_dir = tmp_path / "elsewhere"
    (checkout / ".env").write_text(f"DEBUG=1\nVAR_DIR={var_dir}\n")

    values = settings_of(
        checkout / "tracker" / "settings.py", ["VAR_DIR", "DATABASES", "STATIC_ROOT"]
    )

    assert values["VAR_DIR"] == str(var_dir)
    assert str(var_dir / "tracker.sqlite3") in values["DATABASES"]
    assert values["STATIC_ROOT"] == str(var_dir / "static")
    assert (var_dir / "broker" / "queue").is_dir()
    assert not (checkout / "var").exists()
