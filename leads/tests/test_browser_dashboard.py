"""In a real browser: a manager opens the KPI dashboard from the nav, widens the period, and the
figures and charts change in place (htmx swaps the dashboard, the URL follows). The run leaves a
screenshot of the dashboard in ``artifacts/dashboard.png`` (and in LEADAPP_SCREENSHOTS if set)."""

import datetime
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from conftest import log_in
from leads import reports
from leads.models import Lead, Stage, StageChange
from leads.tests.factories import LeadFactory

SCREENSHOTS = os.environ.get("LEADAPP_SCREENSHOTS")  # a folder: keep pictures of the journey
ARTIFACT = Path(settings.BASE_DIR) / "artifacts" / "dashboard.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def lead_created(days_ago: int, *stages: str) -> Lead:
    """A lead created ``days_ago`` days ago that went through ``stages``, an hour apart."""
    created = timezone.now() - datetime.timedelta(days=days_ago)
    lead = LeadFactory(stage=stages[-1] if stages else Stage.NEW)
    Lead.objects.filter(pk=lead.pk).update(created_at=created)
    before = Stage.NEW
    for hour, stage in enumerate(stages, start=1):
        StageChange.objects.create(
            lead=lead, from_stage=before, to_stage=stage, changed_at=created + datetime.timedelta(hours=hour)
        )
        before = stage
    return lead


@pytest.fixture
def two_periods():
    """Three leads in the last 90 days (the default period), two in the 90 days before."""
    full = (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
    lead_created(10, *full)
    lead_created(20, Stage.MQL)
    lead_created(30)
    lead_created(120, Stage.MQL, Stage.SAL, Stage.SQL)
    lead_created(150)
    assert reports.refresh_funnel() == 5


def funnel_values(page) -> list:
    return json.loads(page.locator('canvas[data-dashboard-chart="funnel"]').get_attribute("data-values"))


def test_a_manager_widens_the_period_and_the_figures_and_charts_follow(page, manager, two_periods):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "manager")
    page.get_by_test_id("nav-reports").click()
    expect(page).to_have_url(re.compile(r"/leads/reports/$"))

    new_leads = page.get_by_test_id("kpi-leads").locator("strong")
    conversion = page.get_by_test_id("kpi-conversion").locator("strong")
    funnel_chart = page.locator('canvas[data-dashboard-chart="funnel"]')
    # The last 90 days: 3 leads (1 won); the 90 days before: 2 leads (1 reached SQL).
    # [created, MQL, SAL, SQL, opportunity, customer], this period then the one before.
    expect(funnel_chart).to_have_attribute("data-values", "[[3,2,1,1,1,1],[2,1,1,1,0,0]]")
    expect(new_leads).to_have_text("3")
    expect(conversion).to_have_text("33.3 %")  # 1 / 3
    assert funnel_values(page) == [[3, 2, 1, 1, 1, 1], [2, 1, 1, 1, 0, 0]]

    # Widen the period to 200 days: htmx sends the form on change and swaps the dashboard in
    # place (the page is not reloaded: the marker survives).
    page.evaluate("window.dashboardMarker = 'same page'")
    start = timezone.localdate() - datetime.timedelta(days=199)
    page.get_by_label("From").fill(start.isoformat())  # Playwright's fill sends input and change
    expect(new_leads).to_have_text("5")
    expect(conversion).to_have_text("20.0 %")  # 1 / 5
    # Every lead is in the period now, none in the 200 days before it.
    expect(funnel_chart).to_have_attribute("data-values", "[[5,3,2,2,1,1],[0,0,0,0,0,0]]")
    assert funnel_values(page) == [[5, 3, 2, 2, 1, 1], [0, 0, 0, 0, 0, 0]]
    expect(page).to_have_url(re.compile(rf"/leads/reports/\?(.*&)?start={start.isoformat()}(&|$)"))
    expect(page.get_by_test_id("dashboard")).to_contain_text(f"{start:%-d %b %Y} – ")
    assert page.evaluate("window.dashboardMarker") == "same page"

    ARTIFACT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACT), full_page=True)
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/dashboard.png", full_page=True)
    with ARTIFACT.open("rb") as picture:
        assert picture.read(8) == b"\x89PNG\r\n\x1a\n"
    assert ARTIFACT.stat().st_size > 20_000  # a real page with charts, not an empty frame
