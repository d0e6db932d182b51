"""Small helpers over the database that several apps use."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet


def planned_rows(cursor: CursorWrapper, rows: QuerySet[Any]) -> float:
    """How many of `rows` PostgreSQL's planner expects: a plan, nothing read (about half
    a millisecond). From the column statistics ANALYZE keeps, so as old as they are."""
    sql, params = rows.values("pk").query.sql_with_params()
    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
    plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


Settings = Callable[[dict[str, object]], None]


@contextmanager
def planner_settings() -> Iterator[tuple[CursorWrapper, Settings]]:
    """A cursor in a transaction of its own (a savepoint inside a caller's), and a
    function that sets settings for its queries alone, as SET LOCAL does.

    SET LOCAL holds until the transaction ends: inside a caller's transaction a setting
    for one query ("no index scan") would hold for every query after it, and a vector
    search turned to a sequential scan of every vector (0.8 s at a million papers). So
    inside one, each setting is set back on leaving the block to what it was; a block
    that raises is rolled back to its savepoint, which sets them back on its own."""
    inside = connection.in_atomic_block
    before: dict[str, str | None] = {}
    with transaction.atomic(), connection.cursor() as cursor:

        def apply(settings: dict[str, object]) -> None:
            # Inside a transaction, what each was before is read in the same statement
            # (its expressions are evaluated in order, the reads first).
            new = [name for name in settings if name not in before] if inside else []
            reads = ["current_setting(%s, true)"] * len(new)
            sets = ["set_config(%s, %s, true)"] * len(settings)
            params = [*new, *(part for n, v in settings.items() for part in (n, str(v)))]
            cursor.execute("SELECT " + ", ".join(reads + sets), params)
            before.update(zip(new, cursor.fetchone()[: len(new)], strict=True))

        yield cursor, apply
        # A setting unknown before (a module's that was not loaded) has nothing to go back to.
        back = {name: value for name, value in before.items() if value is not None}
        if back:
            params = [part for setting in back.items() for part in setting]
            cursor.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(back)), params)
