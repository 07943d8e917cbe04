"""In a real browser: a marketer builds a form with a custom field and a consent box,
publishes it, submits it on the hosted page as a visitor from a newsletter, and finds the new
lead with its UTM source and consent."""

import os
import re

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.models import Consent, Lead

SCREENSHOTS = os.environ.get("LEADAPP_SCREENSHOTS")  # a folder: keep pictures of the journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_builds_publishes_and_receives_a_lead_from_a_form(page, marketer, settings):
    settings.LEADAPP_FORM_MIN_FILL_SECONDS = 1  # a person takes longer; the test need not wait 3 s

    log_in(page, "marketer")
    page.get_by_test_id("nav-forms").click()
    page.get_by_test_id("new-form").click()
    page.get_by_label("Name").fill("Webinar sign-up")
    page.get_by_role("button", name="Create form").click()

    # A custom field: how big the visitor's team is, kept as a custom attribute.
    add_field = page.get_by_test_id("add-field-form")
    add_field.get_by_label("Label").fill("Team size")
    add_field.get_by_label("Kind").select_option("number")
    add_field.get_by_role("button", name="Add field").click()
    expect(page.get_by_test_id("field-row-team_size")).to_be_visible()
    expect(page.get_by_test_id("form-preview")).to_contain_text("Team size")

    settings_form = page.get_by_test_id("settings-form")
    settings_form.get_by_label("Ask for marketing consent").check()
    settings_form.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_test_id("form-status")).to_have_text("Live")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/form-builder.png", full_page=True)
    hosted_url = page.get_by_test_id("hosted-page-link").get_attribute("href")
    slug = re.search(r"/f/([^/]+)/", hosted_url).group(1)

    # The visitor arrives from a newsletter link.
    page.goto(f"{hosted_url}?utm_source=newsletter&utm_medium=email&utm_campaign=spring-webinar")
    page.locator(f"#la-{slug}-email").fill("Grace.Hopper@Navy.example")
    page.locator(f"#la-{slug}-team_size").fill("12")
    page.locator(f"#la-{slug}-consent").check()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/hosted-form.png", full_page=True)
    page.wait_for_timeout(1100)  # the minimum fill time
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Thank you!")).to_be_visible()

    # Back in LeadApp, the marketer finds the lead.
    page.goto("/leads/?q=grace.hopper")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link").click()
    facts = page.locator(".facts")
    expect(facts).to_contain_text("grace.hopper@navy.example")
    expect(facts).to_contain_text("newsletter")
    expect(facts).to_contain_text("spring-webinar")
    expect(facts).to_contain_text("team_size")
    expect(facts).to_contain_text("12")
    expect(facts).to_contain_text(re.compile(r"Marketing consent\s*Yes"))
    expect(page.locator("#timeline")).to_contain_text("Form submitted")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/lead-from-form.png", full_page=True)

    lead = Lead.objects.get()
    assert (lead.utm_source, lead.marketing_consent) == ("newsletter", True)
    consent = Consent.objects.get(lead=lead)
    assert consent.given and "unsubscribe" in consent.text
