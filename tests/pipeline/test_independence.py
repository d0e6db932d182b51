"""The one-way architecture, checked on the source: pipeline/ needs neither the tracker nor
Django, workers/ only schedules, and the tracker reaches into workers/ only for task
objects to enqueue."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> Iterator[tuple[Path, str, list[str]]]:
    """(file, module imported, names imported) for every import under `package`."""
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name, []
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield path, node.module, [alias.name for alias in node.names]


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def test_pipeline_imports_nothing_of_the_tracker_workers_or_django() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module, _ in _imports("pipeline")
        if _within(module, "tracker", "workers", "django", "celery")
    ]
    assert found == []


def test_workers_holds_only_the_celery_app_and_the_tasks() -> None:
    files = {p.relative_to(ROOT / "workers").as_posix() for p in (ROOT / "workers").rglob("*.py")}
    assert files == {"__init__.py", "celery.py", "tasks.py"}


def test_the_tracker_imports_workers_only_for_task_objects() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module} {names}"
        for path, module, names in _imports("tracker")
        if _within(module, "workers")
        and (module != "workers.tasks" or not all(n.endswith("_task") for n in names))
    ]
    assert found == []


def test_tasks_are_enqueued_through_their_objects_not_by_name() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tracker").rglob("*.py")
        if "send_task(" in path.read_text()
    ]
    assert found == []
