"""Keyword search: an FTS5 index on SQLite (kept in sync by triggers, so every writer of
papers keeps it current), a GIN index over to_tsvector on PostgreSQL."""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE papers_paper_fts USING fts5(
        title, abstract, content='papers_paper', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER papers_paper_fts_ai AFTER INSERT ON papers_paper BEGIN
        INSERT INTO papers_paper_fts(rowid, title, abstract)
        VALUES (new.id, new.title, new.abstract); END""",
    """CREATE TRIGGER papers_paper_fts_ad AFTER DELETE ON papers_paper BEGIN
        INSERT INTO papers_paper_fts(papers_paper_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract); END""",
    """CREATE TRIGGER papers_paper_fts_au AFTER UPDATE OF title, abstract ON papers_paper BEGIN
        INSERT INTO papers_paper_fts(papers_paper_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
        INSERT INTO papers_paper_fts(rowid, title, abstract)
        VALUES (new.id, new.title, new.abstract); END""",
    "INSERT INTO papers_paper_fts(papers_paper_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS papers_paper_fts_ai",
    "DROP TRIGGER IF EXISTS papers_paper_fts_ad",
    "DROP TRIGGER IF EXISTS papers_paper_fts_au",
    "DROP TABLE IF EXISTS papers_paper_fts",
]
POSTGRES_FORWARD = [
    """CREATE INDEX IF NOT EXISTS papers_paper_fts_idx ON papers_paper USING GIN (
        to_tsvector('english', coalesce(title, '') || ' ' || coalesce(abstract, '')))""",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS papers_paper_fts_idx"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0002_admin_title_trigram"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
