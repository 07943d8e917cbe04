"""seed_demo: a realistic, deterministic demo data set, scored like any other leads."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from leads.models import Activity, Lead, Stage, StageChange
from scoring.models import LeadScore

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", now=NOW, stdout=out, **options)
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        Lead.objects.order_by("email").values_list("email", "job_title", "company_size", "source", "stage")
    )


def test_it_loads_leads_with_histories_and_outcomes_and_says_so():
    output = seed(leads=400)

    assert Lead.objects.count() == 400
    assert Activity.objects.count() > 400
    assert StageChange.objects.count() >= 400  # every lead has at least its initial stage
    stages = set(Lead.objects.values_list("stage", flat=True))
    assert {Stage.NEW, Stage.CUSTOMER, Stage.LOST} <= stages
    assert "Demo data loaded: 400 leads" in output


def test_the_same_seed_gives_the_same_leads_and_another_seed_others():
    seed(leads=150, seed=7)
    first = snapshot()
    Lead.objects.all().delete()
    seed(leads=150, seed=7)
    again = snapshot()
    Lead.objects.all().delete()
    seed(leads=150, seed=8)

    assert first == again
    assert snapshot() != first


def test_every_demo_lead_is_scored_and_better_grades_convert_more():
    seed(leads=1500)

    assert LeadScore.objects.filter(rule_set__isnull=False).count() == Lead.objects.count() == 1500

    def conversion(grade: str) -> float:
        leads = Lead.objects.filter(
            score__grade=grade, stage__in=[Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED]
        )
        return leads.filter(stage=Stage.CUSTOMER).count() / max(1, leads.count())

    assert conversion("A") > conversion("C") > conversion("D")


def test_it_refuses_to_mix_with_existing_leads_unless_asked():
    seed(leads=50)

    with pytest.raises(CommandError, match="There are 50 leads already"):
        seed(leads=10)
    assert "no demo data loaded" in seed(leads=10, if_empty=True)
    seed(leads=10, append=True)

    assert Lead.objects.count() == 60
