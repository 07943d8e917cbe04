"""In a real browser: an SDR finds a lead, opens it, edits it and sees the change."""

import re

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.models import Lead, StageChange
from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_sdr_finds_a_lead_edits_it_and_sees_the_change(page, sdr):
    lead = LeadFactory(email="ada@analytical.example", first_name="Ada", last_name="Lovelace")
    LeadFactory.create_batch(5)
    ActivityFactory(lead=lead, properties={"url": "/pricing"})

    log_in(page, "sdr")
    page.get_by_role("link", name="Leads").click()
    page.get_by_label("Search").fill("lovelace")
    # htmx swaps the results as the SDR types; only the matching lead remains.
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results tbody tr")).to_contain_text("ada@analytical.example")
    expect(page).to_have_url(re.compile(r"q=lovelace"))

    page.get_by_role("link", name="Ada Lovelace").click()
    assert "/pricing" in page.locator("#timeline").inner_text()

    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Job title").fill("Countess")
    page.get_by_label("Stage").select_option("mql")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Lead saved.")).to_be_visible()
    expect(page.locator("hgroup")).to_contain_text("Countess")
    lead.refresh_from_db()
    assert (lead.job_title, lead.stage) == ("Countess", "mql")
    assert StageChange.objects.filter(lead=lead, to_stage="mql", changed_by=sdr).exists()
    assert Lead.objects.count() == 6
