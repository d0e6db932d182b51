"""On PostgreSQL a harvest leaves new papers' full-text documents to the indexing step.

Parsing a title and abstract into the stored document took about 0.2 ms a paper, inside
the harvest's page transaction: 20 of the 46 ms a 100-paper page took to store. The
column is now filled by a trigger instead of being generated, and the trigger leaves it
empty on the inserts of a transaction that asks so (papers_upsert); the embedding step,
which every new paper goes through next, fills it (search_documents_fill). Every other
write (the admin, a pasted link, a changed title or abstract) still gets its document at
once.
"""

import importlib

from django.db import migrations

fulltext = importlib.import_module("tracker.papers.migrations.0003_search_fulltext")

DOCUMENT = "to_tsvector('english', coalesce(NEW.title, '') || ' ' || coalesce(NEW.abstract, ''))"
FORWARD = [
    "ALTER TABLE papers_paper ALTER COLUMN search_document DROP EXPRESSION",
    f"""CREATE OR REPLACE FUNCTION papers_paper_search_document() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT'
               AND current_setting('tracker.defer_search_document', true) = 'on' THEN
                NEW.search_document := NULL;
            ELSE
                NEW.search_document := {DOCUMENT};
            END IF;
            RETURN NEW;
        END $$""",
    """CREATE TRIGGER papers_paper_search_document_bi BEFORE INSERT ON papers_paper
        FOR EACH ROW EXECUTE FUNCTION papers_paper_search_document()""",
    """CREATE TRIGGER papers_paper_search_document_bu BEFORE UPDATE OF title, abstract
        ON papers_paper FOR EACH ROW
        WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.abstract IS DISTINCT FROM NEW.abstract
              OR NEW.search_document IS NULL)
        EXECUTE FUNCTION papers_paper_search_document()""",
    # What the indexing step looks for: few rows, so a small partial index.
    """CREATE INDEX IF NOT EXISTS papers_paper_search_document_pending
        ON papers_paper (id) WHERE search_document IS NULL""",
]
BACKWARD = [
    "DROP INDEX IF EXISTS papers_paper_search_document_pending",
    "DROP TRIGGER IF EXISTS papers_paper_search_document_bu ON papers_paper",
    "DROP TRIGGER IF EXISTS papers_paper_search_document_bi ON papers_paper",
    "DROP FUNCTION IF EXISTS papers_paper_search_document()",
    # A column cannot become generated again: it is made anew, as migration 0006 made it.
    "DROP INDEX IF EXISTS papers_paper_search_document_idx",
    "ALTER TABLE papers_paper DROP COLUMN IF EXISTS search_document",
    """ALTER TABLE papers_paper ADD COLUMN search_document tsvector GENERATED ALWAYS AS
        (to_tsvector('english', coalesce(title, '') || ' ' || coalesce(abstract, ''))) STORED""",
    """CREATE INDEX IF NOT EXISTS papers_paper_search_document_idx
        ON papers_paper USING GIN (search_document)""",
]


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0006_search_document"),
    ]

    operations = [
        migrations.RunPython(
            fulltext._run({"postgresql": FORWARD}), fulltext._run({"postgresql": BACKWARD})
        )
    ]
