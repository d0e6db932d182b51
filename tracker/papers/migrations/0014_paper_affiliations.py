"""Each author's affiliations as the arXiv entry gave them (Paper.affiliations), the
evidence a lab can come from when no lab post or source names one.

SQLite adds a NOT NULL column by rebuilding papers_paper, which drops the triggers that
keep the full-text index current: they are created again, as in 0005.
"""

import importlib

from django.db import migrations, models

has_code = importlib.import_module("tracker.papers.migrations.0005_paper_has_code")


class Migration(migrations.Migration):

    dependencies = [
        ('papers', '0013_embedding_vectors'),
    ]

    operations = [
        # Undone in reverse order: the column's removal rebuilds the table too.
        migrations.RunPython(migrations.RunPython.noop, has_code.recreate_fulltext_triggers),
        migrations.AddField(
            model_name='paper',
            name='affiliations',
            field=models.JSONField(blank=True, default=list, help_text="Each author's affiliations as arXiv gave them, in the authors' order; empty when arXiv names none."),
        ),
        migrations.RunPython(has_code.recreate_fulltext_triggers, migrations.RunPython.noop),
    ]
