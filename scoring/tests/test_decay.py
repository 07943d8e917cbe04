"""Decay: engagement points lose half their value every half-life, so a lead that was busy
months ago cools down; rules marked not to decay keep their value; no half-life, no decay."""

import pytest

from scoring.tests.factories import engagement_rule, published_rule_set
from scoring.tests.helpers import DAY, T0, act, history, make_lead, run_refresh, score

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


@pytest.mark.parametrize(("age_days", "engagement"), [(0, 24), (15, 17), (30, 12), (60, 6), (90, 3)])
def test_an_activity_is_worth_half_after_each_half_life(age_days, engagement):
    published_rule_set(engagement=[engagement_rule("Download", "download", 24)], half_life_days=30)
    lead = make_lead()

    act(lead, "download", at=T0 - age_days * DAY)  # arrives now, happened then

    # 24 × 0.5 ** (age / 30): 24, 16.97, 12, 6, 3 (stored rounded to whole points)
    assert score(lead).engagement == engagement


def test_the_nightly_refresh_applies_the_decay_of_the_days_that_passed(time_machine):
    published_rule_set(engagement=[engagement_rule("Demo", "demo_requested", 40)], half_life_days=30)
    lead = make_lead()
    act(lead, "demo_requested")
    assert score(lead).engagement == 40

    time_machine.move_to(T0 + 30 * DAY, tick=False)
    run_refresh()

    assert (score(lead).engagement, score(lead).total) == (20, 20)
    assert history(lead)[-1].delta == -20


def test_a_rule_that_does_not_decay_keeps_its_points(time_machine):
    published_rule_set(
        engagement=[
            engagement_rule("Trial", "trial_started", 30, decays=False),
            engagement_rule("Download", "download", 20),
        ],
        half_life_days=30,
    )
    lead = make_lead()
    act(lead, "trial_started")
    act(lead, "download")

    time_machine.move_to(T0 + 60 * DAY, tick=False)
    run_refresh()

    assert score(lead).engagement == 30 + 5


def test_without_a_half_life_nothing_decays(time_machine):
    published_rule_set(engagement=[engagement_rule("Download", "download", 20)], half_life_days=None)
    lead = make_lead()
    act(lead, "download", at=T0 - 365 * DAY)

    time_machine.move_to(T0 + 365 * DAY, tick=False)
    run_refresh()

    assert score(lead).engagement == 20


def test_decayed_points_of_several_activities_add_up_before_rounding():
    published_rule_set(engagement=[engagement_rule("Open", "email_open", 1)], half_life_days=10)
    lead = make_lead()

    for days in (10, 10, 10, 20, 20):
        act(lead, "email_open", at=T0 - days * DAY)

    # 3 × 0.5 + 2 × 0.25 = 2 (rounding each occurrence first would give 0 or 5)
    assert score(lead).engagement == 2


def test_a_cooling_lead_turns_from_hot_to_cold(time_machine):
    published_rule_set(
        engagement=[engagement_rule("Demo", "demo_requested", 60)],
        half_life_days=14,
        warm_threshold=20,
        hot_threshold=50,
    )
    lead = make_lead()
    act(lead, "demo_requested")
    assert score(lead).get_temperature_display() == "Hot"

    time_machine.move_to(T0 + 14 * DAY, tick=False)
    run_refresh()
    assert score(lead).get_temperature_display() == "Warm"  # 30

    time_machine.move_to(T0 + 42 * DAY, tick=False)
    run_refresh()
    assert score(lead).get_temperature_display() == "Cold"  # 7.5
