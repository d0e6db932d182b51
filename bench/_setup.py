"""Shared bench plumbing: Django on a throw-away SQLite database, the real corpus, and
its vectors (encoded once, then kept under VAR_DIR/bench)."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def setup_django(database: str | None = None) -> Path:
    """Configure Django on a fresh SQLite file unless DATABASE_URL names another; returns
    the scratch folder."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    os.environ["DATABASE_URL"] = database or f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    return scratch


def timed(action, runs: int, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    """`runs` timings of `repeat` calls, in ms a call; CPU time of this process, the
    steadier figure on a shared machine."""
    out = []
    for _ in range(runs):
        started = time.process_time()
        for _ in range(repeat):
            action()
        out.append((time.process_time() - started) * 1000 / repeat)
    return out


def template_against_python(
    loops: dict[str, Any], context: dict[str, Any], runs: int, repeat: int
) -> tuple[float, float]:
    """A fragment rendered from its template (loops["template"]) and by the Python it
    replaced (loops["python"]): the same HTML as parsed, then each one's median ms of CPU a
    render, timed in turns (`repeat` renders of each, `runs` times over) so that a burst
    of load on a shared machine falls on both."""
    from django.test.html import parse_html

    assert parse_html(loops["template"].render(context)) == parse_html(
        loops["python"].render(context)
    )
    spent: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(runs):
        for name, loop in loops.items():
            spent[name] += timed(lambda loop=loop: loop.render(context), 1, repeat)
    return float(np.median(spent["template"])), float(np.median(spent["python"]))


def against_python(label: str, as_template: float, as_python: float, page: float) -> str:
    """The line a bench prints for template_against_python's figures."""
    return (
        f"{label}: template {as_template:.2f} ms, python {as_python:.2f} ms, ratio "
        f"{as_template / as_python:.2f}; the difference is "
        f"{(as_template - as_python) / page * 100:+.1f}% of the page"
    )


def render_as_production() -> None:
    """Templates as production loads and renders them: DEBUG off, and no test environment,
    whose instrumented render copies the context at every template and include."""
    from django.conf import settings

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def require_corpus():  # type: ignore[no-untyped-def]
    from tests.corpus import CORPUS_DIR, read_corpus

    if not (CORPUS_DIR / "daily_listings").is_dir():
        sys.exit(f"the real corpus {CORPUS_DIR} is absent (it sits beside the checkout)")
    return read_corpus()


def _vectors_cache(texts: list[str], model_name: str) -> Path:
    from django.conf import settings

    key = hashlib.sha256(("\n".join(texts) + model_name).encode()).hexdigest()[:16]
    return Path(settings.VAR_DIR) / "bench" / f"vectors-{key}.npy"


def cached_corpus_vectors(records, model_name: str) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The corpus vectors an earlier bench kept for this model, or None."""
    from pipeline.embedding import paper_text

    cache = _vectors_cache([paper_text(r.title, r.abstract) for r in records], model_name)
    return np.load(cache) if cache.exists() else None


def corpus_vectors(records, model_name: str | None = None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The corpus encoded with the configured model, cached on disk between benches."""
    from pipeline.embedding import paper_text
    from tracker.papers.embeddings import encode_texts, stored_model_name

    model_name = model_name or stored_model_name()
    texts = [paper_text(r.title, r.abstract) for r in records]
    cache = _vectors_cache(texts, model_name)
    if cache.exists():
        return np.load(cache)
    started = time.perf_counter()
    vectors = encode_texts(texts, model_name)
    print(f"(encoded {len(texts)} papers in {time.perf_counter() - started:.0f}s, cached)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))
