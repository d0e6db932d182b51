"""PostgreSQL's statistics of the full-text document list the lexemes of ten times as many
words, so the search box counts fewer words itself.

The keyword side takes a question's rarest words within a match budget; a word that the
column's statistics list (most_common_elems) is known without counting, any other is
counted from the index, a row read per match. At the default statistics target ANALYZE
lists about 1,000 lexemes, down to those in about 1.8% of papers: a word just below that
is counted to some 18,000 rows at a million papers. At a target of 1,000 it lists about
6,700, down to 0.07% (300k papers), and a question's cold count took p50 / p95 2 / 10 ms
where it took 8 / 29 (60 title questions, back to back). The cost: ANALYZE samples 300,000
papers instead of 30,000 (8 s at 300k papers), and planning a full-text match reads a
longer list (0.4 ms against 0.13).
"""

from django.db import migrations

TARGET = 1000


def statistics_set(target):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"ALTER TABLE papers_paper ALTER COLUMN search_document SET STATISTICS {target}"
        )
        schema_editor.execute("ANALYZE papers_paper (search_document)")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0015_embedding_vector_filters"),
    ]

    operations = [migrations.RunPython(statistics_set(TARGET), statistics_set(-1))]
