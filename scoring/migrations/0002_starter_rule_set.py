from django.db import migrations


def install_starter(apps, schema_editor):
    from scoring import starter

    RuleSet = apps.get_model("scoring", "RuleSet")
    if RuleSet.objects.exists():
        return
    starter.install(
        RuleSet,
        apps.get_model("scoring", "FitGroup"),
        apps.get_model("scoring", "FitRule"),
        apps.get_model("scoring", "EngagementRule"),
    )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(install_starter, migrations.RunPython.noop)]
