"""Columns that are not lead fields become custom attributes of the lead (or are ignored)."""

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from leads.tests.importing import import_csv, run, start, uploaded

pytestmark = pytest.mark.django_db

FILE = "Email,Favourite Colour,Seats (licensed),Internal note\nada@example.com,teal,12,call back\n"


def test_unknown_columns_become_custom_attributes_named_after_the_header(page_as, marketer):
    import_csv(page_as(marketer), FILE)

    assert Lead.objects.get().custom == {
        "favourite_colour": "teal",
        "seats_licensed": "12",
        "internal_note": "call back",
    }


def test_a_column_can_be_ignored_or_given_another_custom_name(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, FILE)
    lead_import.mapping["Seats (licensed)"] = "custom:seats"  # as a custom name chosen earlier
    lead_import.save(update_fields=["mapping"])

    run(client, lead_import, **{"Internal note": ""})

    assert Lead.objects.get().custom == {"favourite_colour": "teal", "seats": "12"}


def test_custom_attributes_merge_with_the_known_leads_ones(page_as, marketer):
    lead = LeadFactory(email="ada@example.com", custom={"favourite_colour": "red", "tier": "gold"})

    import_csv(page_as(marketer), FILE)

    lead.refresh_from_db()
    assert lead.custom == {
        "favourite_colour": "teal",
        "tier": "gold",
        "seats_licensed": "12",
        "internal_note": "call back",
    }


def test_two_columns_for_one_field_are_refused(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, FILE)

    response = start(client, lead_import, **{"Favourite Colour": "job_title", "Internal note": "job_title"})

    assert response.status_code == 400
    assert (
        "Favourite Colour, Internal note: only one column can go to Job title." in response.content.decode()
    )
    assert not Lead.objects.exists()
