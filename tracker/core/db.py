"""Small helpers over the database that several apps use."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

from django.core.exceptions import EmptyResultSet
from django.db import (
    DEFAULT_DB_ALIAS,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import IntegerField, QuerySet
from django.db.models.lookups import In

from tracker.core.threads import process_pool, process_pool_end


class Among(In):
    """`field__among=values`: the field is one of `values`, many of them; integers for an
    integer field or a key to a table of integer keys, else strings. On PostgreSQL they go
    as one array: an IN list costs a parameter each, in building the query and in planning
    it (the 3,000 papers a member's digest watches for code: 37 ms as an IN list, 2 ms as
    an array; the 2,000 authors of the papers the stats page shows: 19 ms, 6 ms). Integers
    go as an array literal written here: psycopg writes a list item by item in Python,
    0.8 ms for the 2,000 ids the search box ranks at a million papers against 0.2 ms.
    Elsewhere, and for a subquery, as `in`. Registered on integer, text and related fields
    (CoreConfig.ready)."""

    lookup_name = "among"

    def get_prep_lookup(self) -> Any:
        if self.rhs_is_direct_value():
            # One conversion each, not the field's preparation item by item; None left out,
            # as `in` leaves it (NULL equals nothing).
            kind = int if self._integers else str
            return [kind(value) for value in self.rhs if value is not None]
        return super().get_prep_lookup()

    @property
    def _integers(self) -> bool:
        field = self.lhs.output_field
        return isinstance(getattr(field, "target_field", field), IntegerField)

    def as_postgresql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        if not self.rhs:
            # As `in`: no values, no rows, and no query at all.
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self._integers:
            literal = "{" + ",".join(map(str, self.rhs)) + "}"
            return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, literal)
        return f"{lhs} = ANY(%s::text[])", (*lhs_params, self.rhs)


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
T = TypeVar("T")


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


# Threads that run a query beside the caller's, each on a database connection of its own
# (one per thread, kept between calls as a request's is): the search box walks the vector
# index there while its keyword side runs. As many as a web process has request threads.
BESIDE_THREADS = 4
_BESIDE = "beside"
# Each thread's connection, by process and thread.
_beside_connections: dict[tuple[int, int], BaseDatabaseWrapper] = {}


class Later(Generic[T]):
    """A call made when its result is first asked for: what `beside` gives when the call
    cannot run on a connection of its own."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._done = False
        self._value: T | None = None

    def result(self) -> T:
        if not self._done:
            self._value, self._done = self._fn(), True
        return cast(T, self._value)


def beside(fn: Callable[[], T]) -> Future[T] | Later[T]:
    """`fn` run on another thread and its own connection, so that its query and the
    caller's next ones wait on PostgreSQL at the same time; ask `.result()` for what it
    returned (or raised).

    Inside a transaction (a test's, or ATOMIC_REQUESTS) another connection would not see
    the rows written in it, and SQLite answers one query at a time: there `fn` runs on the
    caller's thread when its result is asked for, after the caller's own queries."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return Later(fn)
    return process_pool(_BESIDE, BESIDE_THREADS).submit(_on_own_connection, fn)


def beside_close() -> None:
    """End this process's `beside` threads and close their connections: a test database
    cannot be dropped while they hold one."""
    if not process_pool_end(_BESIDE):
        return
    # Their threads have ended: nothing uses these connections any more.
    pid = os.getpid()
    for key in [key for key in _beside_connections if key[0] == pid]:
        own = _beside_connections.pop(key)
        if own.connection is not None:
            own.connection.close()
            own.connection = None


def _on_own_connection(fn: Callable[[], T]) -> T:
    # What a request does as it starts: a connection past CONN_MAX_AGE, or left unusable
    # by an error, is closed, and the next query opens another (health-checked first when
    # CONN_HEALTH_CHECKS is on, so one that the server dropped meanwhile is replaced).
    close_old_connections()
    _beside_connections[(os.getpid(), threading.get_ident())] = connections[DEFAULT_DB_ALIAS]
    return fn()
