"""The marketer chooses what happens to a row whose e-mail belongs to a lead already:
update the lead, or skip the row. New leads get the chosen source either way."""

import pytest

from leads.models import Lead, StageChange
from leads.tests.factories import LeadFactory
from leads.tests.importing import import_csv

pytestmark = pytest.mark.django_db

FILE = "email,first name,company,source\nknown@example.com,Kim,New Co,Event\nnew@example.com,Nia,Nia Ltd,\n"


def test_update_changes_the_known_lead_and_creates_the_new_one(page_as, marketer):
    known = LeadFactory(email="known@example.com", first_name="Old", company_name="Old Co", source="referral")

    lead_import = import_csv(page_as(marketer), FILE, on_existing="update", source="partner")

    assert (lead_import.created_count, lead_import.updated_count, lead_import.skipped_count) == (1, 1, 0)
    known.refresh_from_db()
    assert (known.first_name, known.company_name) == ("Kim", "New Co")
    assert known.source == "referral"  # first touch: an import never changes it
    assert Lead.objects.count() == 2


def test_skip_leaves_the_known_lead_as_it_was(page_as, marketer):
    known = LeadFactory(email="known@example.com", first_name="Old", company_name="Old Co")

    lead_import = import_csv(page_as(marketer), FILE, on_existing="skip", source="partner")

    assert (lead_import.created_count, lead_import.updated_count, lead_import.skipped_count) == (1, 0, 1)
    known.refresh_from_db()
    assert (known.first_name, known.company_name) == ("Old", "Old Co")
    assert Lead.objects.get(email="new@example.com").first_name == "Nia"


def test_new_leads_get_the_rows_source_or_else_the_chosen_one_and_their_first_stage(page_as, marketer):
    import_csv(
        page_as(marketer), "email,source\na@example.com,Event / webinar\nb@example.com,\n", source="partner"
    )

    assert Lead.objects.get(email="a@example.com").source == "event"
    b = Lead.objects.get(email="b@example.com")
    assert (b.source, b.created_via, b.stage) == ("partner", "import", "new")
    [change] = StageChange.objects.filter(lead=b)
    assert (change.from_stage, change.to_stage, change.changed_by) == ("", "new", marketer)
    assert change.reason == "Imported from leads.csv"
    assert b.stage_changed_at == change.changed_at
