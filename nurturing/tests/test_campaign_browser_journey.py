"""In a real browser: a marketer builds a campaign with htmx (the step form follows the chosen
kind), starts it, enrolls the leads of a filter from the lead list and sees one on its page."""

import re

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.tests.factories import LeadFactory
from nurturing.models import Campaign, Enrollment

from .factories import template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_builds_starts_and_fills_a_campaign(page, marketer):
    template(name="Hello")
    mql = LeadFactory(email="mql@example.com", stage="mql", first_name="Ada", last_name="Lovelace")
    LeadFactory(email="new@example.com", stage="new")
    page.on("dialog", lambda dialog: dialog.accept())

    log_in(page, "marketer")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_test_id("new-campaign").click()
    page.get_by_label("Name").fill("Welcome")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#campaign-name")).to_have_text("Welcome")

    page.get_by_text("Add a step").click()
    page.locator("#id_new-step-template").select_option(label="Hello")
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#campaign-steps")).to_contain_text("Step added: Send “Hello”.")

    page.get_by_text("Add a step").click()
    page.locator("#id_new-step-kind").select_option("wait")
    # htmx draws the form again with the fields of a wait step only.
    expect(page.locator("#id_new-step-wait_days")).to_be_visible()
    expect(page.locator("#id_new-step-template")).to_have_count(0)
    page.locator("#id_new-step-wait_days").fill("2")
    page.get_by_label("Mon").check()
    page.get_by_role("button", name="Add step").click()
    expect(page.locator("#campaign-steps")).to_contain_text("Wait 2 d 0 h, then until M 0:00–24:00")

    page.get_by_role("button", name="Start").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Active")

    page.get_by_role("link", name="Leads").click()
    page.get_by_label("Stage").select_option("mql")
    expect(page).to_have_url(re.compile(r"stage=mql"))
    page.get_by_text("Enroll all matching in a campaign…").click()
    expect(page.get_by_test_id("enroll-bulk-form")).to_contain_text("1 lead matches the filters.")
    page.get_by_label("Campaign").select_option(label="Welcome")
    page.get_by_role("button", name="Enroll all matching").click()
    expect(page.get_by_text("1 lead enrolled in “Welcome”")).to_be_visible()

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_test_id("lead-campaigns")).to_contain_text("Welcome")
    expect(page.get_by_test_id("lead-campaigns")).to_contain_text("active")

    welcome = Campaign.objects.get(name="Welcome")
    assert welcome.status == Campaign.Status.ACTIVE
    assert list(Enrollment.objects.values_list("lead", flat=True)) == [mql.pk]
