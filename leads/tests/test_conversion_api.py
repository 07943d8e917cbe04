"""The API shows a lead's opportunity with the lead, at no query per lead."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads import conversion
from leads.models import LostReason, Stage
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_a_lead_reads_with_its_opportunity_and_outcome(api_as, sdr):
    lead = LeadFactory(stage=Stage.SQL)
    conversion.open_opportunity(lead, by=sdr, amount="12500", expected_close_date=datetime.date(2031, 3, 31))
    conversion.mark_lost(lead, by=sdr, reason=LostReason.objects.get(name="Timing"))

    data = api_as(sdr).get(f"/api/leads/{lead.pk}/").json()

    assert data["opportunity"] == {
        "amount": "12500.00",
        "currency": "EUR",
        "status": "lost",
        "expected_close_date": "2031-03-31",
        "won_value": None,
        "won_date": None,
        "lost_reason": "Timing",
    }


def test_a_lead_without_an_opportunity_reads_null_and_the_list_costs_no_query_per_lead(api_as, sdr):
    for _ in range(3):
        lead = LeadFactory(stage=Stage.SQL)
        conversion.open_opportunity(lead, by=sdr, amount="1", expected_close_date=datetime.date(2031, 1, 1))
    LeadFactory()
    client = api_as(sdr)
    client.get("/api/leads/")  # warm up (permissions, token)

    with CaptureQueriesContext(connection) as few:
        client.get("/api/leads/?page_size=1")
    with CaptureQueriesContext(connection) as many:
        rows = client.get("/api/leads/").json()["results"]

    assert len(many.captured_queries) == len(few.captured_queries)
    assert sorted(row["opportunity"] is None for row in rows) == [False, False, False, True]
