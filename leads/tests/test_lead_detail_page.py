"""The lead page: profile, timeline and stage history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads import services
from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_profile(page_as, manager, sdr):
    lead = LeadFactory(
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        job_title="Analyst",
        company_name="Engines Ltd",
        country="GB",
        owner=sdr,
        custom={"plan": "enterprise"},
    )

    response = page_as(manager).get(f"/leads/{lead.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Ada Lovelace</h1>" in html
    assert "ada@example.com" in html
    assert "Engines Ltd" in html
    assert "Analyst" in html
    assert "United Kingdom" in html
    assert "<dd>sdr</dd>" in html
    assert "<dt>plan</dt><dd>enterprise</dd>" in html


def test_the_page_shows_the_timeline_newest_first(page_as, manager):
    lead = LeadFactory()
    now = timezone.now()
    ActivityFactory(lead=lead, kind="download", occurred_at=now - timedelta(days=2), properties={"n": "old"})
    ActivityFactory(lead=lead, kind="meeting", occurred_at=now - timedelta(hours=1), properties={"n": "new"})
    ActivityFactory(kind="call", properties={"n": "someone-else"})

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()

    assert html.index("n: new") < html.index("n: old")
    assert "Meeting" in html
    assert "Download" in html
    assert "someone-else" not in html


def test_a_lead_without_activity_says_so(page_as, manager):
    lead = LeadFactory()

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()

    assert "No activity yet." in html


def test_the_page_shows_the_stage_history_with_who_changed_it(page_as, manager, sdr):
    lead = services.create_lead(email="staged@example.com")
    services.change_stage(lead, to_stage="mql", by=sdr, reason="Downloaded the pricing sheet")

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()

    history = html[html.index("Stage history") :]
    assert "New → <strong>MQL</strong>" in history
    assert "<small>by sdr</small>" in history
    assert "Downloaded the pricing sheet" in history
    assert "— → <strong>New</strong>" in history


def test_the_edit_button_shows_only_for_those_who_may_edit(page_as, sdr, manager):
    lead = LeadFactory()
    edit_href = f'href="/leads/{lead.pk}/edit/"'

    assert edit_href in page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()
    assert edit_href not in page_as(manager).get(f"/leads/{lead.pk}/").content.decode()


def test_an_unknown_lead_is_404(page_as, manager):
    lead = LeadFactory()

    assert page_as(manager).get(f"/leads/{lead.pk + 1000}/").status_code == 404
