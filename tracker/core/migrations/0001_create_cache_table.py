"""The database cache's table comes with `migrate`.

Without Redis the cache is a database table (the arXiv politeness gate, sessions);
a database made by `migrate` alone lacked it, and the first harvest failed with
"no such table: tracker_cache". createcachetable skips a table that exists and does
nothing when the cache is Redis, so this is safe on every database.
"""

from typing import Any

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps: Any, schema_editor: Any) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies: list[tuple[str, str]] = []

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
