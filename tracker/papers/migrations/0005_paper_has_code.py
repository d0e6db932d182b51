"""A stored has_code column kept by the database on every write.

SQLite cannot add a stored generated column in place, so Django rebuilds papers_paper
there, and dropping the old table drops the triggers that keep the full-text index
current: they are created again from the migration that made them.
"""

import importlib

import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

fulltext = importlib.import_module("tracker.papers.migrations.0003_search_fulltext")
SQLITE_TRIGGERS = [sql for sql in fulltext.SQLITE_FORWARD if sql.startswith("CREATE TRIGGER")]


def recreate_fulltext_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(
                statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)
            )


class Migration(migrations.Migration):

    dependencies = [
        ('papers', '0004_embedding_model_newest'),
    ]

    operations = [
        migrations.AddField(
            model_name='paper',
            name='has_code',
            field=models.GeneratedField(db_persist=True, expression=models.ExpressionWrapper(models.Q(models.Q(('code_urls', []), _negated=True), django.db.models.lookups.Contains(django.db.models.functions.text.Upper('abstract'), 'GITHUB.COM/'), django.db.models.lookups.Contains(django.db.models.functions.text.Upper('comment'), 'GITHUB.COM/'), django.db.models.lookups.Contains(django.db.models.functions.text.Upper('abstract'), 'GITLAB.COM/'), django.db.models.lookups.Contains(django.db.models.functions.text.Upper('comment'), 'GITLAB.COM/'), django.db.models.lookups.Contains(django.db.models.functions.text.Upper('abstract'), 'HUGGINGFACE.CO/'), django.db.models.lookups.Contains(django.db.models.functions.text.Upper('comment'), 'HUGGINGFACE.CO/'), _connector='OR'), output_field=models.BooleanField()), output_field=models.BooleanField()),
        ),
        migrations.RunPython(recreate_fulltext_triggers, migrations.RunPython.noop),
    ]
