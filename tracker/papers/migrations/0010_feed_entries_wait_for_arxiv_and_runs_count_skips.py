"""Feed entries that wait for their arXiv paper (Paper.arxiv_link), and what a harvest run
skipped (HarvestRun.skipped and notes).

SQLite adds a NOT NULL column by rebuilding papers_paper, which drops the triggers that
keep the full-text index current: they are created again, as in 0005.
"""

import importlib

from django.db import migrations, models

has_code = importlib.import_module("tracker.papers.migrations.0005_paper_has_code")


class Migration(migrations.Migration):

    dependencies = [
        ('papers', '0009_paper_index_error_capped_search_document'),
    ]

    operations = [
        # Undone in reverse order: the column's removal rebuilds the table too.
        migrations.RunPython(migrations.RunPython.noop, has_code.recreate_fulltext_triggers),
        migrations.AddField(
            model_name='harvestrun',
            name='notes',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='harvestrun',
            name='skipped',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='paper',
            name='arxiv_link',
            field=models.CharField(blank=True, db_default='', default='', help_text="A lab report's arXiv paper (versionless id), waiting for that paper.", max_length=32),
        ),
        migrations.AddIndex(
            model_name='paper',
            index=models.Index(condition=models.Q(('arxiv_link', ''), _negated=True), fields=['arxiv_link'], name='paper_arxiv_link'),
        ),
        migrations.RunPython(has_code.recreate_fulltext_triggers, migrations.RunPython.noop),
    ]
