"""The lead's last activity time moves to a narrow table of its own, ``leads_lastactivity``.

Every event batch updates it for its leads. As a column of the lead it was indexed (the
"recent activity" sort), so that update could never stay in the page: it rewrote the wide
row and all eleven of the lead table's indexes (4,000 leads: 795 ms and 100 MB of WAL).
In its own table it is one narrow row and two indexes (45 ms).

Every lead has its row: the values are copied over here, and a trigger adds the row of each
lead inserted from now on, whichever way it is inserted (``save()``, ``bulk_create``, COPY).
The trigger is created after the column is removed: SQLite rebuilds ``leads_lead`` for that,
and a rebuild drops the table's triggers. (A later migration that makes SQLite rebuild the
lead table must create the trigger again; ``test_last_activity_row`` would catch it.)
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRES_TRIGGER = """
CREATE OR REPLACE FUNCTION leads_lead_add_last_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leads_lastactivity (lead_id, at) SELECT id, NULL FROM new_leads
    ON CONFLICT (lead_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_lead_add_last_activity AFTER INSERT ON leads_lead
REFERENCING NEW TABLE AS new_leads
FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_add_last_activity();
"""

SQLITE_TRIGGER = """
CREATE TRIGGER leads_lead_add_last_activity AFTER INSERT ON leads_lead
BEGIN
    INSERT OR IGNORE INTO leads_lastactivity (lead_id, at) VALUES (NEW.id, NULL);
END;
"""


def copy_values(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No lead may be inserted between this copy and the trigger (the migration is one
        # transaction): it would have no row. Reads go on.
        schema_editor.execute("LOCK TABLE leads_lead IN SHARE ROW EXCLUSIVE MODE")
    schema_editor.execute(
        "INSERT INTO leads_lastactivity (lead_id, at) SELECT id, last_activity_at FROM leads_lead"
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_last_activity_idx")
        schema_editor.execute(
            "CREATE INDEX lastactivity_at_idx ON leads_lastactivity (at DESC NULLS LAST, lead_id DESC)"
        )
        schema_editor.execute("ANALYZE leads_lastactivity")


def copy_values_back(apps, schema_editor):
    schema_editor.execute(
        "UPDATE leads_lead SET last_activity_at = "
        "(SELECT at FROM leads_lastactivity WHERE leads_lastactivity.lead_id = leads_lead.id)"
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS lead_last_activity_idx "
            "ON leads_lead (last_activity_at DESC NULLS LAST, id DESC)"
        )


def add_trigger(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(POSTGRES_TRIGGER if postgres else SQLITE_TRIGGER)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS leads_lead_add_last_activity")
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS leads_lead_add_last_activity ON leads_lead")
    schema_editor.execute("DROP FUNCTION IF EXISTS leads_lead_add_last_activity()")


class Migration(migrations.Migration):
    dependencies = [("leads", "0013_lead_search_text")]

    operations = [
        migrations.CreateModel(
            name="LastActivity",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="last_activity",
                        serialize=False,
                        to="leads.lead",
                    ),
                ),
                ("at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"verbose_name_plural": "last activities"},
        ),
        migrations.RunPython(copy_values, copy_values_back, elidable=False),
        migrations.RemoveField(model_name="lead", name="last_activity_at"),
        migrations.RunPython(add_trigger, drop_trigger, elidable=False),
    ]
