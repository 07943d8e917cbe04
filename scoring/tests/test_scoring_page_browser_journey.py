"""In a real browser, with the starter rule set: a marketer looks at a lead's score, opens
the draft, changes a point value inline, is told about a bad threshold beside the field,
previews the draft, publishes it after confirming, watches the rescore finish on the
overview, and finds the lead's score and its explanation changed."""

import os

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.models import Stage
from leads.tests.factories import LeadFactory
from scoring import services, starter
from scoring.models import EngagementRule, FitGroup, FitRule, RuleSet

SCREENSHOTS = os.environ.get("LEADAPP_SCREENSHOTS")  # a folder: keep pictures of the journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_tunes_previews_and_publishes_the_scoring(page, marketer, monkeypatch):
    queued = []
    monkeypatch.setattr("scoring.tasks.run_scoring_job.delay", queued.append)  # the test runs the jobs
    # The starter rule set a fresh install ships (installed again when an earlier
    # transactional test flushed the database).
    if services.published_rule_set() is None:
        starter.install(RuleSet, FitGroup, FitRule, EngagementRule)
    director = LeadFactory(job_title="Director of Sales", stage=Stage.CUSTOMER)
    LeadFactory(job_title="Student", stage=Stage.LOST)
    services.rescore_all(reason="Scored before the journey")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm: yes

    log_in(page, "marketer")
    # The lead's score as the published version makes it, explained rule by rule.
    page.goto(f"/leads/{director.pk}/")
    panel = page.get_by_test_id("score-panel")
    expect(panel.get_by_test_id("score-total")).to_have_text("20")
    expect(panel.get_by_role("row", name="Job title contains “director, head of” +20")).to_be_visible()

    page.get_by_test_id("nav-scoring").click()
    page.get_by_test_id("edit-draft").click()
    expect(page).to_have_url("/scoring/draft/")

    # A point value, changed in its row.
    page.get_by_role("button", name="Edit the rule Job title contains “director, head of”: +20").click()
    row_form = page.get_by_role("form", name="Edit the rule")
    row_form.get_by_label("Points").fill("25")  # under the group's maximum of 30
    row_form.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Rule saved.")).to_be_visible()
    expect(page.get_by_role("row", name="Job title contains “director, head of” +25")).to_be_visible()

    # A bad threshold: the error beside the field, nothing saved.
    settings_form = page.get_by_test_id("settings-form")
    settings_form.get_by_label("Hot from").fill("10")
    settings_form.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Hot must be above warm.")).to_be_visible()
    assert services.draft_rule_set().hot_threshold == 40

    # The preview: its progress, then its results once the job is done.
    page.get_by_test_id("run-preview").click()
    expect(page.get_by_test_id("scoring-job")).to_contain_text("Queued")
    services.run_job(queued[-1])  # as the worker would; the progress polls and shows the results
    expect(page.get_by_test_id("preview-results")).to_be_visible()
    expect(page.get_by_test_id("mql-change")).to_contain_text("would newly become MQL")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/scoring-draft.png", full_page=True)

    # Deleting a rule removes its row; the preview is then out of date.
    page.get_by_role("button", name="Delete the rule Job title contains “manager”: +10").click()
    expect(page.get_by_role("row", name="Job title contains “manager” +10")).to_have_count(0)
    expect(page.get_by_test_id("preview-stale")).to_be_visible()

    page.get_by_test_id("publish").click()
    expect(page).to_have_url("/scoring/")
    version = services.published_rule_set().version
    expect(page.get_by_text(f"Starter scoring v{version} is published.")).to_be_visible()
    expect(page.get_by_test_id("scoring-job")).to_contain_text("Rescore all leads")
    services.run_job(queued[-1])
    expect(page.get_by_test_id("scoring-job")).to_contain_text("Done")
    expect(page.get_by_test_id("grade-grid")).to_contain_text("2 scored leads")

    # The lead's score and its explanation follow the new point value.
    page.goto(f"/leads/{director.pk}/")
    panel = page.get_by_test_id("score-panel")
    expect(panel.get_by_test_id("score-total")).to_have_text("25")
    expect(panel.get_by_role("row", name="Job title contains “director, head of” +25")).to_be_visible()
    expect(panel).to_contain_text(f"Starter scoring v{version}")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/scoring-overview.png", full_page=True)
