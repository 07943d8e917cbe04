"""``manage.py rescore``: the publish job in the foreground, for operators and demo data."""

from io import StringIO

import pytest
from django.core.management import call_command

from leads.tests.factories import LeadFactory
from scoring.models import LeadScore, RuleSet

pytestmark = pytest.mark.django_db


def test_it_scores_every_lead_with_the_published_version():
    LeadFactory.create_batch(3, job_title="CEO")  # factories skip real-time scoring
    out = StringIO()

    call_command("rescore", stdout=out)

    assert "Scored 3 leads with Starter scoring v1" in out.getvalue()
    assert list(LeadScore.objects.values_list("fit", flat=True)) == [30, 30, 30]


def test_without_a_published_version_it_says_there_is_nothing_to_score():
    RuleSet.objects.update(status=RuleSet.Status.ARCHIVED)
    LeadFactory()
    out = StringIO()

    call_command("rescore", stdout=out)

    assert "No published rule set" in out.getvalue()
    assert not LeadScore.objects.exists()
