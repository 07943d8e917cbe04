"""A won lead leaves every nurture campaign it is in."""

import datetime

import pytest

from leads import conversion
from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Enrollment
from nurturing.tests.factories import campaign, send, template, wait

pytestmark = pytest.mark.django_db


def test_marking_won_ends_the_leads_enrollments_as_converted(sdr):
    lead = LeadFactory(stage=Stage.SQL, marketing_consent=True)
    conversion.open_opportunity(lead, by=sdr, amount="100", expected_close_date=datetime.date(2031, 1, 1))
    first = campaign(steps=[send(), wait(wait_days=2), send(template(name="Second"))], name="First")
    second = campaign(steps=[send(template(name="Other"))], name="Second")
    for made in (first, second):
        services.enroll(made, Lead.objects.filter(pk=lead.pk))

    conversion.mark_won(lead, by=sdr, value=None, won_date=datetime.date(2031, 1, 1))

    assert set(Enrollment.objects.filter(lead=lead).values_list("status", "exit_reason")) == {
        (Enrollment.Status.EXITED, Enrollment.ExitReason.CONVERTED)
    }
