"""The search box's keyword side on PostgreSQL: the statistics of the full-text document list
the lexemes of ten times as many words, so that fewer words are counted, and a BRIN index on
the papers' ids bounds a window of the newest ids for the newest matches.

The keyword side takes a question's rarest words within a match budget; a word that the
column's statistics list (most_common_elems) is known without counting, any other is
counted from the index, a row read per match. At the default statistics target ANALYZE
lists about 1,000 lexemes, down to those in about 1.8% of papers: a word just below that
is counted to some 18,000 rows at a million papers. At a target of 1,000 it lists about
6,700, down to 0.07% (300k papers), and a question's cold count took p50 / p95 2 / 10 ms
where it took 8 / 29 (60 title questions, back to back). The cost: ANALYZE samples 300,000
papers instead of 30,000 (8 s at 300k papers), and planning a full-text match reads a
longer list (0.4 ms against 0.13).

The keyword side ranks the newest thousand matches of a frequent word, read from a window
of the newest ids (tracker.search.keyword._pg_newest_capped). The primary key bounds such
a window with a bitmap of every id in it, 18 ms for 142,000 ids at a million papers; a BRIN
index over the ids (papers are stored in id order) bounds it by block ranges, 3 ms, and the
full-text index's exact matches then pick the rows: 18 ms for the window's query against 39
through the primary key (and 81 sorting every match). autosummarize keeps the newest
ranges summarized as papers arrive.
"""

from django.db import migrations

TARGET = 1000


ID_RANGE = (
    "CREATE INDEX IF NOT EXISTS papers_paper_id_range ON papers_paper USING brin (id) "
    "WITH (pages_per_range = 8, autosummarize = on)"
)


def statistics_set(target, id_range):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"ALTER TABLE papers_paper ALTER COLUMN search_document SET STATISTICS {target}"
        )
        schema_editor.execute(ID_RANGE if id_range else "DROP INDEX IF EXISTS papers_paper_id_range")
        schema_editor.execute("ANALYZE papers_paper")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0015_embedding_vector_filters"),
    ]

    operations = [migrations.RunPython(statistics_set(TARGET, True), statistics_set(-1, False))]
