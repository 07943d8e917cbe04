"""Velocity: the time a lead spent in each stage, from its stage history."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from leads import selectors
from leads.models import Stage, StageChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def history(lead, *moves):
    previous = ""
    for stage, when in moves:
        StageChange.objects.create(lead=lead, from_stage=previous, to_stage=stage, changed_at=when)
        previous = stage


def test_each_stay_lasts_until_the_next_change_and_the_last_until_now():
    lead = LeadFactory(stage=Stage.SAL)
    history(lead, (Stage.NEW, at(1)), (Stage.MQL, at(3)), (Stage.SAL, at(10, 15)))

    spells = selectors.stage_durations(lead, now=at(12, 15))

    assert [(s.stage, s.entered_at, s.left_at, s.duration) for s in spells] == [
        (Stage.NEW, at(1), at(3), timedelta(days=2)),
        (Stage.MQL, at(3), at(10, 15), timedelta(days=7, hours=6)),
        (Stage.SAL, at(10, 15), None, timedelta(days=2)),
    ]
    assert [s.duration_text for s in spells] == ["2 days", "7 days", "2 days"]


def test_a_stage_visited_twice_has_two_stays():
    lead = LeadFactory(stage=Stage.MQL)
    history(
        lead,
        (Stage.NEW, at(1)),
        (Stage.MQL, at(2)),
        (Stage.RECYCLED, at(2, 12)),
        (Stage.MQL, at(20)),
    )

    spells = selectors.stage_durations(lead, now=at(20, 10))

    assert [(s.stage, s.duration_text) for s in spells] == [
        (Stage.NEW, "1 day"),
        (Stage.MQL, "3 hours"),
        (Stage.RECYCLED, "17 days"),
        (Stage.MQL, "1 hour"),
    ]


def test_a_lead_without_history_has_no_stays():
    assert selectors.stage_durations(LeadFactory()) == []


def test_the_lead_page_shows_the_days_in_each_stage(page_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)
    history(lead, (Stage.NEW, at(1)), (Stage.MQL, at(4)))

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()
    table = html[html.index('<table class="stage-durations">') : html.index("</table>")]
    rows = [re.sub(r"<[^>]+>|\s+", " ", row).split() for row in table.split("<tr>")[2:]]

    assert rows[0][0] == "New" and " ".join(rows[0][2:]) == "3 days"
    assert rows[1][0] == "MQL" and rows[1][-2:] == ["(so", "far)"]
