"""Planner settings for one block of queries (tracker.core.db.planner_settings)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from tracker.core.db import planner_settings

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's settings"),
]


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def test_inside_a_transaction_a_setting_holds_for_the_block_alone() -> None:
    """The test runs in a transaction, as a view or task may: SET LOCAL alone would hold
    until it ends, for every query after the block."""
    assert connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '5MB'")  # the caller's own, kept
        with planner_settings() as (_cursor, settings):
            settings({"enable_indexscan": "off", "work_mem": "7MB"})
            settings({"enable_sort": "off", "work_mem": "9MB"})
            assert setting("enable_indexscan") == setting("enable_sort") == "off"
            assert setting("work_mem") == "9MB"
        assert setting("enable_indexscan") == setting("enable_sort") == "on"
        assert setting("work_mem") == "5MB"


def test_a_block_that_raises_leaves_the_settings_as_they_were() -> None:
    with pytest.raises(ZeroDivisionError), planner_settings() as (_cursor, settings):
        settings({"enable_indexscan": "off"})
        1 / 0  # noqa: B018
    assert setting("enable_indexscan") == "on"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_block_is_one_and_its_settings_end_with_it() -> None:
    assert not connection.in_atomic_block
    with planner_settings() as (_cursor, settings):
        assert connection.in_atomic_block
        settings({"enable_indexscan": "off"})
        assert setting("enable_indexscan") == "off"
    assert setting("enable_indexscan") == "on"
