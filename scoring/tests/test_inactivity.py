"""Inactivity: after N days without activity a lead gets the inactivity points (usually
negative) added to its engagement; doing something again takes them away at once."""

import pytest

from leads import services as lead_services
from scoring.tests.factories import engagement_rule, published_rule_set
from scoring.tests.helpers import DAY, T0, act, make_lead, run_refresh, score

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def rules(**settings):
    return published_rule_set(
        engagement=[engagement_rule("Download", "download", 10, decays=False)],
        inactivity_days=90,
        inactivity_points=-15,
        **settings,
    )


def test_a_lead_without_activity_for_longer_than_the_days_gets_the_points(time_machine):
    rules()
    quiet = make_lead()
    busy = make_lead()
    act(quiet, "download")

    time_machine.move_to(T0 + 80 * DAY, tick=False)
    act(busy, "download")
    time_machine.move_to(T0 + 91 * DAY, tick=False)
    run_refresh()

    assert (score(quiet).engagement, score(quiet).total) == (10 - 15, -5)
    assert score(busy).engagement == 10


def test_a_lead_that_never_did_anything_counts_from_its_creation(time_machine):
    rules()
    lead = make_lead()

    time_machine.move_to(T0 + 89 * DAY, tick=False)
    run_refresh()
    assert score(lead).engagement == 0

    time_machine.move_to(T0 + 91 * DAY, tick=False)
    run_refresh()
    assert score(lead).engagement == -15


def test_a_new_activity_removes_the_inactivity_points_in_real_time(time_machine):
    rules()
    lead = make_lead()
    time_machine.move_to(T0 + 100 * DAY, tick=False)
    run_refresh()
    assert score(lead).engagement == -15

    act(lead, "email_open")  # no rule scores it, but it is activity

    assert score(lead).engagement == 0


def test_a_late_event_from_long_ago_does_not_count_as_recent_activity(time_machine):
    rules()
    time_machine.move_to(T0 - 200 * DAY, tick=False)
    lead = make_lead()
    time_machine.move_to(T0, tick=False)

    act(lead, "download", at=T0 - 120 * DAY)  # imported today, happened four months ago

    assert score(lead).engagement == 10 - 15


def test_a_stage_change_is_not_activity(time_machine):
    rules()
    lead = make_lead()
    time_machine.move_to(T0 + 91 * DAY, tick=False)

    lead_services.change_stage(lead, to_stage="mql")
    lead_services.change_stage(lead, to_stage="sal")
    run_refresh()

    assert score(lead).engagement == -15


def test_inactivity_can_make_a_lead_cold(time_machine):
    rules(warm_threshold=5, hot_threshold=50)
    lead = make_lead()
    act(lead, "download")
    assert score(lead).get_temperature_display() == "Warm"

    time_machine.move_to(T0 + 91 * DAY, tick=False)
    run_refresh()

    assert score(lead).get_temperature_display() == "Cold"
