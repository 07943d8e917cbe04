"""In a real browser: an SDR works the queue. The hottest hand-raiser is on top; the SDR accepts
it in its row (the row turns SAL without a reload), works it in the side panel while the queue
refreshes around it, logs a call with a next step, then qualifies the lead, opens an
opportunity and wins it on the lead page, whose stage history tells the whole story."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import log_in
from leads import handoff as handoffs_service
from leads import services
from leads.models import ActivityKind, CompanySize, Handoff, Industry, Lead, RoutingRule, Stage, Team
from leads.tests.factories import ActivityFactory, LeadFactory
from scoring import services as scoring
from scoring import starter
from scoring.models import EngagementRule, FitGroup, FitRule, LeadScore, RuleSet, Temperature

SCREENSHOTS = os.environ.get("LEADAPP_SCREENSHOTS")  # a folder: keep pictures of the journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def snap(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


def hand_to_sales(lead: Lead, *, reason: str, hand_raise: bool) -> Handoff:
    services.change_stages(
        [lead.pk], from_stage=Stage.NEW, to_stage=Stage.MQL, reason=reason, hand_raise=hand_raise
    )
    return Handoff.objects.get(lead=lead, closed_at__isnull=True)


@pytest.fixture
def handed_off(sdr):
    """Three leads handed to sales, all routed to the SDR, in the reverse of their priority."""
    # The starter rule set a fresh install ships (installed again when an earlier
    # transactional test flushed the database): the queue sorts by its scores.
    if scoring.published_rule_set() is None:
        starter.install(RuleSet, FitGroup, FitRule, EngagementRule)
    team = Team.objects.create(name="Inbound")
    team.members.set([sdr])
    RoutingRule.objects.create(name="Every lead", team=team, position=1)

    cold = LeadFactory(first_name="Carl", last_name="Cold", job_title="Student", company_size=CompanySize.S1)
    warm = LeadFactory(
        first_name="Walter",
        last_name="Warm",
        job_title="Marketing Manager",
        company_size=CompanySize.S51,
        phone="+49 30 1234567",
    )
    hot = LeadFactory(
        first_name="Grace",
        last_name="Hopper",
        job_title="CTO",
        company_size=CompanySize.S201,
        industry=Industry.SOFTWARE,
        phone="+1 555 0100",
    )
    for _ in range(3):
        ActivityFactory(lead=warm, kind=ActivityKind.PAGE_VIEW, properties={"url": "/pricing"})
    ActivityFactory(lead=hot, kind=ActivityKind.DEMO_REQUESTED, properties={})

    handoffs = {
        "cold": hand_to_sales(cold, reason="Campaign list", hand_raise=False),
        "warm": hand_to_sales(warm, reason="Asked for a call back", hand_raise=True),
        "hot": hand_to_sales(hot, reason="Asked for a demo", hand_raise=True),
    }
    scoring.rescore_all(reason="Scored before the journey")
    scores = {key: LeadScore.objects.get(lead=h.lead_id) for key, h in handoffs.items()}
    # What the queue's order rests on: a hot hand-raiser, a warm one, a cold lead.
    assert scores["hot"].temperature == Temperature.HOT and scores["hot"].grade == "A"
    assert scores["warm"].temperature == Temperature.WARM
    assert scores["cold"].temperature == Temperature.COLD
    for handoff in handoffs.values():
        handoff.refresh_from_db()
        assert (handoff.owner, handoff.status) == (sdr, Handoff.Status.ASSIGNED)
    return handoffs


def test_an_sdr_accepts_works_and_wins_the_top_lead_of_the_queue(page, sdr, handed_off):
    handoff = handed_off["hot"]
    lead = handoff.lead

    log_in(page, "sdr")
    page.get_by_test_id("nav-queue").click()
    expect(page).to_have_url(re.compile(r"/leads/queue/$"))
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Hot hand-raiser")
    expect(rows.nth(0)).to_contain_text("Grace Hopper")
    expect(rows.nth(1)).to_contain_text("Walter Warm")
    expect(rows.nth(2)).to_contain_text("Carl Cold")
    snap(page, "sdr-queue")

    # Accept in the row: htmx swaps the table, the page stays (a reload would drop the marker).
    page.evaluate("window.journeyMarker = 'same page'")
    row = page.locator(f"#row-{handoff.pk}")
    expect(row).to_contain_text("MQL")
    rows.nth(0).get_by_test_id("accept").click()
    expect(page.get_by_test_id("queue-live")).to_contain_text(
        "Accepted: Grace Hopper is sales accepted (SAL)."
    )
    expect(row.locator(".badge.stage-sal")).to_have_text("SAL (sales accepted)")
    expect(row.get_by_test_id("accept")).to_have_count(0)
    assert page.evaluate("window.journeyMarker") == "same page"

    # Work it: the side panel opens and the row is marked as the open one.
    row.get_by_test_id("work").click()
    panel = page.get_by_test_id("handoff-panel")
    expect(panel).to_contain_text("Grace Hopper")
    expect(panel.get_by_test_id("handoff-status")).to_contain_text("Accepted · sdr")
    expect(row).to_have_attribute("aria-current", "true")
    panel.get_by_label("Notes").fill("Wants a demo for her whole team")

    # The live region refreshes (as the poll or another SDR's action would make it): the open
    # row stays marked and what the SDR is typing in the panel is still there.
    page.evaluate("document.getElementById('queue-live').dataset.before = 'refresh'")
    page.evaluate("document.body.dispatchEvent(new Event('queue-changed'))")
    expect(page.locator("#queue-live[data-before]")).to_have_count(0)  # swapped for a fresh one
    expect(page.get_by_test_id("queue-row")).to_have_count(3)
    expect(row).to_have_attribute("aria-current", "true")
    expect(page.locator("tr[aria-current]")).to_have_count(1)
    expect(panel.get_by_label("Notes")).to_have_value("Wants a demo for her whole team")
    snap(page, "sdr-queue-panel")

    # Log the call, with an outcome and a next step due in three hours.
    due = timezone.localtime(timezone.now() + timedelta(hours=3))
    panel.get_by_label("Outcome").select_option(label="Connected")
    panel.get_by_label("Next step").fill("Send the pricing deck")
    panel.get_by_label("Due").fill(due.strftime("%Y-%m-%dT%H:%M"))
    panel.get_by_test_id("log-touch-submit").click()
    expect(panel).to_contain_text("Call logged.")
    expect(panel.locator(".recent")).to_contain_text("Call · Connected")
    # The queue refreshed after the call: the next step is listed, the row still the open one.
    expect(page.get_by_test_id("reminders")).to_contain_text("Send the pricing deck")
    expect(row).to_have_attribute("aria-current", "true")
    snap(page, "sdr-call-logged")
    call = lead.activities.get(kind=ActivityKind.CALL)
    assert call.created_by == sdr
    assert call.properties == {
        "outcome": "connected",
        "notes": "Wants a demo for her whole team",
        "next_step": "Send the pricing deck",
    }
    handoff.refresh_from_db()
    assert handoff.first_touch_at is not None

    # On the lead page: qualify, open an opportunity, win it.
    panel.get_by_role("link", name="Grace Hopper").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))
    qualify = page.locator("#qualify-form")
    qualify.get_by_label("Need").fill("Route inbound leads to the right SDR")
    qualify.get_by_label("Timeline").fill("This quarter")
    qualify.get_by_label("Budget").fill("20k a year")
    qualify.get_by_label("Authority").fill("She decides")
    qualify.get_by_role("button", name="Qualify (SQL)").click()
    expect(page.get_by_text("Lead qualified: it is an SQL now.")).to_be_visible()
    expect(page.locator("#conversion")).to_contain_text("Route inbound leads to the right SDR")

    opportunity = page.locator("#opportunity-form")
    opportunity.get_by_label("Amount").fill("12500")
    opportunity.get_by_label("Expected close date").fill("2031-03-31")
    opportunity.get_by_role("button", name="Open opportunity").click()
    expect(page.get_by_text("Opportunity opened.")).to_be_visible()
    expect(page.locator("#conversion")).to_contain_text("12500.00 EUR")

    won = page.locator("#won-form")
    won.get_by_label("Value").fill("12000")
    won.get_by_label("Won date").fill("2031-03-15")
    won.get_by_role("button", name="Mark won").click()
    expect(page.get_by_text("Won: the lead is a customer now.")).to_be_visible()
    expect(page.locator("#conversion")).to_contain_text("12000.00 EUR on 2031-03-15 by sdr")
    expect(page.locator(".page-head .badge")).to_have_text("Customer")
    # Winning closed the lead's handoff: the Sales panel says so.
    expect(page.locator("#handoff-panel").get_by_test_id("handoff-status")).to_have_text("Closed · sdr")

    # The stage history (newest first) tells the whole story, each sales step by the SDR.
    history = page.locator("ol.stage-history > li")
    expect(history).to_have_count(5)
    snap(page, "sdr-lead-won")
    steps = [" ".join(text.split()) for text in reversed(history.all_inner_texts())]
    expected = [
        r"New → MQL Asked for a demo$",  # the handoff (by the scoring, nobody in particular)
        r"MQL → SAL \(sales accepted\) by sdr Accepted by sales$",
        r"SAL \(sales accepted\) → SQL \(sales qualified\) by sdr",
        r"SQL \(sales qualified\) → Opportunity by sdr",
        r"Opportunity → Customer by sdr",
    ]
    for step, pattern in zip(steps, expected, strict=True):
        assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d: " + pattern, step), step
    lead.refresh_from_db()
    handoff.refresh_from_db()
    assert lead.stage == Stage.CUSTOMER
    assert (handoff.status, handoff.outcome) == (Handoff.Status.CLOSED, Stage.CUSTOMER)


def test_after_logging_a_call_the_sdr_sees_the_confirmation(page, sdr):
    RoutingRule.objects.create(name="Mine", user=sdr)
    lead = LeadFactory(first_name="Ada", last_name="Lovelace")
    handoff = hand_to_sales(lead, reason="Asked for a demo", hand_raise=True)
    handoffs_service.accept(handoff, by=sdr)
    page.set_viewport_size({"width": 1280, "height": 720})

    log_in(page, "sdr")
    page.goto("/leads/queue/")
    page.locator(f"#row-{handoff.pk}").get_by_test_id("work").click()
    panel = page.get_by_test_id("handoff-panel")
    panel.get_by_label("Outcome").select_option(label="No answer")
    panel.get_by_test_id("log-touch-submit").click()
    confirmation = panel.get_by_text("Call logged.")
    expect(confirmation).to_have_count(1)

    expect(confirmation).to_be_in_viewport(timeout=2_000)
