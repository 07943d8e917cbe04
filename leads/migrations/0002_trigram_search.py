"""Trigram indexes that serve the lead search (``icontains``) on PostgreSQL.

Django turns ``email__icontains`` into ``UPPER("email"::text) LIKE UPPER(%s)``; these GIN
indexes are on exactly those expressions. SQLite has no such index and scans, which is fine at
the sizes it is used for.
"""

from django.db import migrations

COLUMNS = ["email", "first_name", "last_name", "company_name"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS lead_{column}_trgm ON leads_lead "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
