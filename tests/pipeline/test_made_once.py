"""The model caches the backends make once (the static table here; the ONNX export in
test_onnx_export_once.py): processes warming together make the file once and read it
whole, and what a maker killed midway left behind is never read."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.embedding import static
from pipeline.embedding.cache import made_once
from tests.pipeline.processes import run_together

# Big enough that writing it takes a while: a reader arriving mid-write would see it cut.
TABLE = np.arange(4000 * 384, dtype="<f4").reshape(4000, 384)


def _slow_distill(log: Path) -> object:
    def distill(path: str) -> np.ndarray:
        with log.open("a") as out:
            out.write(f"{path}\n")
        time.sleep(0.5)
        return TABLE

    return distill


def _warm(cache_dir: str) -> None:
    static.distill_table = _slow_distill(Path(cache_dir) / "distills.log")  # the child's own
    table = static.distilled_table("model-path", Path(cache_dir))
    os._exit(0 if np.array_equal(table, TABLE) else 3)


def _cache_file(cache_dir: Path) -> Path:
    return static._cache_path("model-path", cache_dir)


@pytest.mark.realtime
def test_workers_starting_together_distil_the_static_table_once(tmp_path: Path) -> None:
    # Each read the whole table, and only one distilled it.
    assert run_together(_warm, str(tmp_path)) == [0, 0, 0, 0]
    assert (tmp_path / "distills.log").read_text().splitlines() == ["model-path"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "distills.log",
            _cache_file(tmp_path).name,
            _cache_file(tmp_path).with_suffix(".lock").name,
        ]
    )


def _killed_mid_write(target: str, started: object) -> None:
    def half(partial: Path) -> None:
        with partial.open("wb") as out:
            out.write(b"\x93NUMPY half a table")
            out.flush()
            started.set()  # type: ignore[attr-defined]
            time.sleep(60)  # killed before it writes the rest

    made_once(Path(target), half)


def test_a_file_half_written_by_a_killed_worker_is_never_read(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    target = _cache_file(tmp_path)
    context = multiprocessing.get_context("fork")
    started = context.Event()
    maker = context.Process(target=_killed_mid_write, args=(str(target), started))
    maker.start()
    assert started.wait(timeout=30)
    os.kill(maker.pid, signal.SIGKILL)  # type: ignore[arg-type]
    maker.join(timeout=30)
    leftovers = [p for p in tmp_path.iterdir() if ".partial" in p.name]
    assert len(leftovers) == 1 and not target.exists()

    monkeypatch.setattr(static, "distill_table", _slow_distill(tmp_path / "distills.log"))
    assert np.array_equal(static.distilled_table("model-path", tmp_path), TABLE)
    assert np.array_equal(np.load(target), TABLE)
    assert not leftovers[0].exists()


def test_a_failed_make_leaves_nothing_and_the_next_one_makes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model.bin"

    def fails(partial: Path) -> None:
        partial.write_bytes(b"half")
        partial.with_suffix(".tmp.bin").write_bytes(b"an intermediate")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        made_once(target, fails)
    assert [p.name for p in target.parent.iterdir()] == ["model.lock"]
    made_once(target, lambda partial: partial.write_bytes(b"whole"))
    made_once(target, lambda partial: partial.write_bytes(b"never written"))
    assert target.read_bytes() == b"whole"
