"""Indexes that only PostgreSQL can have; SQLite scans, which is fine at the sizes it is for.

- Trigram (GIN) indexes serve the lead search: Django turns ``email__icontains`` into
  ``UPPER("email"::text) LIKE UPPER(%s)``, and these are on exactly those expressions.
- "Recent activity" sorts ``last_activity_at DESC NULLS LAST`` (never-active leads last);
  SQLite has no NULLS LAST in an index definition.
- Lead rows keep 10 % of each page free, so that updates of columns without an index stay
  in the page ("HOT") and touch no index.
"""

from django.db import migrations

SEARCH_COLUMNS = ["email", "first_name", "last_name", "company_name"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCH_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS lead_{column}_trgm ON leads_lead "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS lead_last_activity_idx "
        "ON leads_lead (last_activity_at DESC NULLS LAST, id DESC)"
    )
    schema_editor.execute("ALTER TABLE leads_lead SET (fillfactor = 90)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCH_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{column}_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS lead_last_activity_idx")
    schema_editor.execute("ALTER TABLE leads_lead RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
