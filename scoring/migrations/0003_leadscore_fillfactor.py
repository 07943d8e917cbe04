from django.db import migrations


def set_fillfactor(apps, schema_editor):
    # Room on each page for a new version of a row: a rescore that leaves grade, temperature
    # and total as they were (a new version, decay of a few points) then updates in place
    # (HOT) without touching the indexes.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE scoring_leadscore SET (fillfactor = 70)")


class Migration(migrations.Migration):
    dependencies = [("scoring", "0002_starter_rule_set")]

    operations = [migrations.RunPython(set_fillfactor, migrations.RunPython.noop)]
