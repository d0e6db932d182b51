"""The paper facts the search filters read, on the pgvector table beside each vector.

A filtered nearest-neighbour query walks the HNSW graph and tests the filter on each row
it meets (pgvector's iterative scan), until enough rows pass. With the filters on the
paper row, each of those rows cost a lookup of its paper: near some questions a category
that holds half the papers is locally rare, and at a million papers one question walked
8,586 rows, 471 ms. With the date, category, kind and visibility on the vector's own row,
the test reads the row the walk has in hand.

The database keeps them in step with the paper: a vector written without them gets its
paper's (a trigger before each insert, whatever writes it), and a change to a paper's date,
category, kind, hidden flag or merge goes to its vectors (a trigger after the update). The
rows already there are filled in batches, one transaction each, so a stopped migration goes
on from where it was; each model's HNSW index is set aside meanwhile and built again after
(every row gets a new version: updated in place, each would enter the graph a second time,
which at a million rows costs several times the build). Like 0013, a database without the
table (SQLite, a PostgreSQL without the `vector` extension) sees no change at all.
"""

from django.db import migrations, models, transaction

# Rows filled per transaction.
FILL_BATCH = 20_000
# Memory for building an HNSW index again (tracker.papers.vectors.BUILD_MEMORY).
BUILD_MEMORY = "2GB"
# The definitions of the HNSW indexes set aside while the rows are filled.
GRAPHS = "papers_embeddingvector_graphs"

COLUMNS = """
ALTER TABLE papers_embeddingvector
    ADD COLUMN IF NOT EXISTS published_at timestamptz,
    ADD COLUMN IF NOT EXISTS primary_category varchar(32),
    ADD COLUMN IF NOT EXISTS kind varchar(16),
    ADD COLUMN IF NOT EXISTS visible boolean;
"""

# What a paper shows the filters: `visible` is Paper.objects.visible().
PAPER_FACTS = "p.published_at, p.primary_category, p.kind, NOT p.hidden AND p.merged_into_id IS NULL"

TRIGGERS = f"""
CREATE OR REPLACE FUNCTION papers_embeddingvector_facts() RETURNS trigger AS $$
BEGIN
    IF NEW.visible IS NULL THEN
        SELECT {PAPER_FACTS}
        INTO NEW.published_at, NEW.primary_category, NEW.kind, NEW.visible
        FROM papers_paper p WHERE p.id = NEW.paper_id;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS papers_embeddingvector_facts ON papers_embeddingvector;
CREATE TRIGGER papers_embeddingvector_facts
    BEFORE INSERT ON papers_embeddingvector
    FOR EACH ROW EXECUTE FUNCTION papers_embeddingvector_facts();

CREATE OR REPLACE FUNCTION papers_paper_vector_facts() RETURNS trigger AS $$
BEGIN
    UPDATE papers_embeddingvector v
    SET published_at = NEW.published_at,
        primary_category = NEW.primary_category,
        kind = NEW.kind,
        visible = NOT NEW.hidden AND NEW.merged_into_id IS NULL
    WHERE v.paper_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS papers_paper_vector_facts ON papers_paper;
CREATE TRIGGER papers_paper_vector_facts
    AFTER UPDATE OF published_at, primary_category, kind, hidden, merged_into_id
    ON papers_paper
    FOR EACH ROW
    WHEN (
        OLD.published_at IS DISTINCT FROM NEW.published_at
        OR OLD.primary_category IS DISTINCT FROM NEW.primary_category
        OR OLD.kind IS DISTINCT FROM NEW.kind
        OR OLD.hidden IS DISTINCT FROM NEW.hidden
        OR OLD.merged_into_id IS DISTINCT FROM NEW.merged_into_id
    )
    EXECUTE FUNCTION papers_paper_vector_facts();
"""

# A narrow filter (a category of a few thousand papers, a week of dates, lab reports) is
# answered exactly from these, not by the graph (tracker.search.backends.EXACT_BELOW).
FILTER_INDEXES = """
CREATE INDEX IF NOT EXISTS papers_embeddingvector_category
    ON papers_embeddingvector (primary_category);
CREATE INDEX IF NOT EXISTS papers_embeddingvector_published
    ON papers_embeddingvector (published_at);
CREATE INDEX IF NOT EXISTS papers_embeddingvector_kind ON papers_embeddingvector (kind);
"""

REMOVE = """
DROP INDEX IF EXISTS papers_embeddingvector_category;
DROP INDEX IF EXISTS papers_embeddingvector_published;
DROP INDEX IF EXISTS papers_embeddingvector_kind;
DROP TRIGGER IF EXISTS papers_paper_vector_facts ON papers_paper;
DROP FUNCTION IF EXISTS papers_paper_vector_facts();
DROP TRIGGER IF EXISTS papers_embeddingvector_facts ON papers_embeddingvector;
DROP FUNCTION IF EXISTS papers_embeddingvector_facts();
ALTER TABLE papers_embeddingvector
    DROP COLUMN IF EXISTS published_at,
    DROP COLUMN IF EXISTS primary_category,
    DROP COLUMN IF EXISTS kind,
    DROP COLUMN IF EXISTS visible;
"""


def vector_table_exists(connection):
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('papers_embeddingvector') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def facts_fill(connection, batch_size=FILL_BATCH):
    """Fill the rows that have no facts yet from their papers, in embedding id order, one
    transaction per batch; how many were filled. Each model's HNSW index is dropped first,
    its definition kept in a table of its own, and made again from it at the end: a fill
    stopped on the way finds the definitions there when run again."""
    alias = connection.alias
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM papers_embeddingvector WHERE visible IS NULL)")
        pending = cursor.fetchone()[0]
    if pending:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {GRAPHS} (definition text PRIMARY KEY)")
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'papers_embeddingvector' AND indexdef LIKE '%%USING hnsw%%'"
            )
            for name, definition in cursor.fetchall():
                cursor.execute(
                    f"INSERT INTO {GRAPHS} VALUES (%s) ON CONFLICT DO NOTHING", [definition]
                )
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    filled = 0
    after = -1
    while pending:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(embedding_id) FROM (SELECT embedding_id FROM papers_embeddingvector "
                "WHERE embedding_id > %s ORDER BY embedding_id LIMIT %s) batch",
                [after, batch_size],
            )
            upto = cursor.fetchone()[0]
            if upto is None:
                break
            cursor.execute(
                f"""UPDATE papers_embeddingvector v
                SET (published_at, primary_category, kind, visible) = ({PAPER_FACTS})
                FROM papers_paper p
                WHERE p.id = v.paper_id AND v.embedding_id > %s AND v.embedding_id <= %s
                AND v.visible IS NULL""",
                [after, upto],
            )
            filled += cursor.rowcount
            # A row whose paper is gone (the relation is not enforced) is never shown.
            cursor.execute(
                "UPDATE papers_embeddingvector SET visible = false "
                "WHERE embedding_id > %s AND embedding_id <= %s AND visible IS NULL",
                [after, upto],
            )
            after = upto
    graphs_rebuild(connection)
    return filled


def graphs_rebuild(connection):
    """Make again the HNSW indexes facts_fill set aside, one transaction each."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [GRAPHS])
        if not cursor.fetchone()[0]:
            return
        cursor.execute(f"SELECT definition FROM {GRAPHS}")
        for (definition,) in cursor.fetchall():
            with transaction.atomic(using=connection.alias):
                cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
                cursor.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                cursor.execute(f"DELETE FROM {GRAPHS} WHERE definition = %s", [definition])
        cursor.execute(f"DROP TABLE {GRAPHS}")


def facts_add(apps, schema_editor):
    connection = schema_editor.connection
    if not vector_table_exists(connection):
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(COLUMNS)
        cursor.execute(TRIGGERS)
    facts_fill(connection)
    with connection.cursor() as cursor:  # after the fill, which need not keep them
        cursor.execute(FILTER_INDEXES)
        cursor.execute("ANALYZE papers_embeddingvector")


def facts_remove(apps, schema_editor):
    if vector_table_exists(schema_editor.connection):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(REMOVE)


class Migration(migrations.Migration):
    # Each batch of the fill commits on its own.
    atomic = False

    dependencies = [
        ("papers", "0014_paper_affiliations"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="embeddingvector",
                    name="published_at",
                    field=models.DateTimeField(blank=True, null=True),
                ),
                migrations.AddField(
                    model_name="embeddingvector",
                    name="primary_category",
                    field=models.CharField(blank=True, max_length=32),
                ),
                migrations.AddField(
                    model_name="embeddingvector",
                    name="kind",
                    field=models.CharField(blank=True, max_length=16),
                ),
                migrations.AddField(
                    model_name="embeddingvector",
                    name="visible",
                    field=models.BooleanField(null=True),
                ),
            ],
            database_operations=[migrations.RunPython(facts_add, facts_remove)],
        ),
    ]
