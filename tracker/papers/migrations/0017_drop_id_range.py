"""The keyword side's windows of the newest ids are bounded through the primary key again,
not the BRIN index migration 0016 added for them.

A BRIN index bounds a window by block ranges, so its bitmap is lossy. When the planner puts
it first in the BitmapAnd with the full-text index (as it does for a frequent word), every
page holding a match stays lossy, and every paper on those pages is checked again, its
document read from TOAST: at a million papers a window of 27,500 ids with 2,000 matches of
a word in 7% of papers took 49-85 ms, rechecking 9,000 papers. Through the primary key the
window's bitmap is exact and only the matches are read: 22-27 ms for the same windows, and
10-11 ms against 13-16 for a word in 0.6% of papers (warm, run in turns).
"""

from django.db import migrations


def id_range_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS papers_paper_id_range")


def id_range_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS papers_paper_id_range ON papers_paper USING brin (id) "
            "WITH (pages_per_range = 8, autosummarize = on)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0016_keyword_search_statistics_and_id_range"),
    ]

    operations = [migrations.RunPython(id_range_drop, id_range_create)]
