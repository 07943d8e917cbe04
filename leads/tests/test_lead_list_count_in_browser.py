"""In a real browser: the count of a filtered list, left out of the page, arrives once it shows,
and again after the filters change (htmx swaps the results)."""

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.tests.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_filtered_list_shows_its_count_once_the_page_is_there(page, sdr):
    LeadFactory.create_batch(52, stage="mql")
    LeadFactory.create_batch(3, stage="new")

    log_in(page, "sdr")
    page.goto("/leads/?stage=mql")
    expect(page.get_by_test_id("lead-count")).to_have_text("52 leads")
    expect(page.locator("#results tbody tr")).to_have_count(50)

    page.get_by_label("Stage").select_option("new")
    expect(page.locator("#results tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("lead-count")).to_have_text("3 leads")

    page.get_by_label("Stage").select_option("")
    expect(page.get_by_test_id("lead-count")).to_have_text("55 leads")
