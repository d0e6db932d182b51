"""A trigram index for the admin's title search (PostgreSQL only; SQLite scans).

The admin searches the folded title with LIKE '%words%', which no B-tree can answer; at
100,000 papers a scan takes a noticeable part of a second, the trigram index milliseconds.
A PostgreSQL built without the contrib extensions (the pgvector server of the tests) scans.
"""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS paper_normtitle_trgm ON papers_paper "
        "USING gin (normalized_title gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS paper_normtitle_trgm")


class Migration(migrations.Migration):
    dependencies = [("papers", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
