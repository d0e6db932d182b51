"""Files the embedding backends make from the local model once and keep in the cache
directory (the ONNX export, the static table).

On a fresh deploy every web and Celery worker warms its encoder at once and finds no such
file. One of them makes it while the others wait on a file lock and then read it; the
maker writes under a name of its own in the same folder and renames it into place only
when complete, so a reader never meets a half-written file and a maker killed midway
leaves only a leftover that nobody reads and the next maker removes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def model_file(path: str, cache_dir: Path, kind: str, suffix: str) -> Path:
    """Where the `kind` file made from the model at `path` is kept: named by a digest of
    the model's resolved path, so two models never share one."""
    digest = hashlib.sha256(str(Path(path).resolve() if Path(path).exists() else path).encode())
    return cache_dir / f"{kind}-{digest.hexdigest()[:16]}{suffix}"


def _partial_name(target: Path, own: str) -> Path:
    # The target's own suffix last: writers that add one (np.save) leave the name alone.
    return target.with_name(f"{target.stem}.{own}.partial{target.suffix}")


def _leftovers(target: Path) -> list[Path]:
    """What makers of `target` killed midway left behind: their partial files and anything
    they wrote beside one (an intermediate)."""
    return sorted(target.parent.glob(f"{target.stem}.*.partial*"))


def made_once(target: Path, make: Callable[[Path], None]) -> Path:
    """`target`, made by `make(partial)` unless it exists. `make` writes the whole file at
    `partial` (and any intermediate beside it, named from it); one process at a time runs
    it, and the file is renamed over `target` (os.replace, atomic in one folder) only once
    `make` returned. A failed `make` leaves neither `target` nor its partial file."""
    if target.exists():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.with_suffix(".lock"))):
        if target.exists():  # made by the process this one waited for
            return target
        # Partial files are written only under this lock: any found now is a dead maker's.
        for leftover in _leftovers(target):
            logger.warning("removing %s, left by an interrupted write", leftover.name)
            leftover.unlink(missing_ok=True)
        partial = _partial_name(target, f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            make(partial)
            with partial.open("rb") as written:
                os.fsync(written.fileno())  # on disk before the name says it is complete
            os.replace(partial, target)
        finally:
            for made in target.parent.glob(f"{partial.stem}*"):
                made.unlink(missing_ok=True)
    return target
