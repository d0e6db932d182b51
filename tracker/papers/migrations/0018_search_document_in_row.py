"""PostgreSQL keeps a paper's full-text document in the paper's own row, and moves its
abstract out of the row instead.

A row with both holds about 3.4 kB; past about 2 kB PostgreSQL moves its largest value out
to the TOAST table, and that was the document. The search box ranks up to 2,000 keyword
matches a question by their documents, and each one came back through TOAST: an index
probe and another page per match, half the ranking query (at a million papers 9.4 ms on
average, 4.1 with the documents not read at all, 4.8 with them in their rows). Only a page
shows an abstract, twenty at a time, and ranking "for you" reads them once per member's
paper space.

- The document's storage is MAIN: it leaves the row only when nothing else can.
- Rows up to toast_tuple_target stay whole: 3,000 bytes keeps 99.9% of the documents in
  their rows (the largest is 2.4 kB at the 99th percentile), the abstract going out.

Rows are laid out so when written. Rows written before this migration keep their layout
until the table is rewritten: `VACUUM FULL papers_paper` (about 2 minutes at a million
papers, the table locked meanwhile) or pg_repack, as the README says.
"""

from django.db import migrations

# A row's size past which PostgreSQL moves values out, in bytes (its default is about 2 kB).
ROW_TARGET = 3000


def in_row(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE papers_paper SET (toast_tuple_target = {ROW_TARGET})")
        schema_editor.execute(
            "ALTER TABLE papers_paper ALTER COLUMN search_document SET STORAGE MAIN"
        )


def out_of_row(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE papers_paper RESET (toast_tuple_target)")
        schema_editor.execute(
            "ALTER TABLE papers_paper ALTER COLUMN search_document SET STORAGE EXTENDED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0017_drop_id_range"),
    ]

    operations = [migrations.RunPython(in_row, out_of_row)]
