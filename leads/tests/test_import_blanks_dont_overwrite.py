"""Updating a known lead from a file: a blank cell never overwrites what the lead has."""

import pytest

from leads.tests.factories import LeadFactory
from leads.tests.importing import import_csv

pytestmark = pytest.mark.django_db


def test_blank_cells_keep_the_leads_values_and_filled_ones_replace_them(page_as, marketer):
    lead = LeadFactory(
        email="kim@example.com",
        first_name="Kim",
        last_name="Lee",
        phone="+1 555",
        job_title="CTO",
        company_name="Acme",
    )

    import_csv(
        page_as(marketer),
        "email,first name,last name,phone,job title,company\nkim@example.com,,Park,,  ,Acme Global\n",
    )

    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.phone, lead.job_title, lead.company_name) == (
        "Kim",
        "Park",
        "+1 555",
        "CTO",
        "Acme Global",
    )


def test_a_blank_custom_attribute_keeps_the_stored_one(page_as, marketer):
    lead = LeadFactory(email="kim@example.com", custom={"plan": "pro", "seats": "12"})

    import_csv(page_as(marketer), "email,plan,seats\nkim@example.com,,40\n")

    lead.refresh_from_db()
    assert lead.custom == {"plan": "pro", "seats": "40"}
