"""On a fresh deploy every web and Celery worker warms its encoder at once and finds no
exported model: one process exports it and the others wait and use that file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.embedding import onnx
from tests.pipeline.processes import run_together


def _slow_export(path: str, target: Path) -> None:
    with (target.parent / "exports.log").open("a") as log:
        log.write(f"{path}\n")
    time.sleep(0.5)
    target.write_bytes(b"model")


def _warm(target: str) -> None:
    onnx.export_int8 = _slow_export  # the forked child's own module
    onnx.export_int8_once("model-path", Path(target))


@pytest.mark.realtime
def test_workers_starting_together_export_the_model_once(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "onnx-int8-abc.onnx"
    assert run_together(_warm, str(target)) == [0, 0, 0, 0]
    assert (tmp_path / "cache" / "exports.log").read_text().splitlines() == ["model-path"]
    assert target.read_bytes() == b"model"
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "exports.log",
        "onnx-int8-abc.lock",
        "onnx-int8-abc.onnx",
    ]
