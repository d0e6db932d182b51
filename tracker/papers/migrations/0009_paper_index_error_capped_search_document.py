"""Papers get `index_error`, and the full-text document reads at most 100,000 characters of
the title and of the abstract.

PostgreSQL refuses a document over 1 MB ("string is too long for tsvector"): one imported
abstract of 2 MB made every later indexing step fail, so no later paper became searchable.
The cap is services.SEARCH_TEXT_MAX_CHARS, written out here as migrations must not change
when code does. A paper whose document still cannot be made is skipped, with its reason in
`index_error`, instead of failing the papers around it.

SQLite adds the column by rebuilding papers_paper, which drops the triggers that keep its
full-text index current: they are created again, as in migration 0005.
"""

import importlib

from django.db import migrations, models

fulltext = importlib.import_module("tracker.papers.migrations.0003_search_fulltext")
deferred = importlib.import_module("tracker.papers.migrations.0007_search_document_deferred")
has_code = importlib.import_module("tracker.papers.migrations.0005_paper_has_code")

CAPPED = (
    "to_tsvector('english', left(coalesce(NEW.title, ''), 100000) || ' ' "
    "|| left(coalesce(NEW.abstract, ''), 100000))"
)
# 0007's trigger function (its FORWARD[1]), reading the capped text.
FUNCTION = deferred.FORWARD[1]


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0008_harvestrun_heartbeat_one_running_per_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="paper",
            name="index_error",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(has_code.recreate_fulltext_triggers, migrations.RunPython.noop),
        migrations.RunPython(
            fulltext._run({"postgresql": [FUNCTION.replace(deferred.DOCUMENT, CAPPED)]}),
            fulltext._run({"postgresql": [FUNCTION]}),
        ),
    ]
