"""bench/claims.py runs end to end on a tiny handwritten label set and listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.pipeline.examples import ACCURACY_CLAIM

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "claims.py"


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_bench_scores_ours_and_the_baseline_on_a_tiny_label_set(tmp_path: Path) -> None:
    listings = tmp_path / "arxiv_corpus" / "daily_listings"
    listings.mkdir(parents=True)
    papers = [
        {
            "id": "9901.00001",
            "title": "Foo",
            "comment": "12 pages",
            "summary": "We train on 7 datasets. Foo achieves 84.2% accuracy on ImageNet.",
        },
        {"id": "9901.00002", "title": "Bar", "comment": None, "summary": "A survey of 40 tools."},
    ]
    (listings / "2025-01-01.jsonl").write_text("\n".join(json.dumps(p) for p in papers))
    labels = tmp_path / "labels.jsonl"
    claim = ACCURACY_CLAIM
    labels.write_text(
        json.dumps({"id": "9901.00001", "claims": [claim]})
        + "\n"
        + json.dumps({"id": "9901.00002", "claims": []})
    )
    out = _run("--labels", str(labels), "--data", str(tmp_path))
    assert "2 abstracts (1 with claims, 1 without), 1 labelled claims" in out
    ours = next(line for line in out.splitlines() if line.startswith("ours"))
    assert ours.split()[1:] == ["1.000", "1.000", "1.000", "1.000", "1.000"]
    assert any(line.startswith("regex baseline") for line in out.splitlines())
    assert "targets: F1 >= 0.85, metric agreement >= 0.7: met" in out


def test_bench_skips_with_a_reason_when_the_listings_are_absent(tmp_path: Path) -> None:
    out = _run("--data", str(tmp_path / "nowhere"))
    assert out.startswith("skipped: the arXiv daily listings are not at")


def test_stored_labels_hold_no_abstract_text() -> None:
    rows = [json.loads(line) for line in (REPO / "bench" / "claims_labels.jsonl").open()]
    assert len(rows) >= 100
    assert all(set(row) == {"id", "claims"} for row in rows)
    assert any(row["claims"] for row in rows) and any(not row["claims"] for row in rows)
