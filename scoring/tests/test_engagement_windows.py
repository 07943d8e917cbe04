"""Engagement windows: a rule with ``window_days`` counts only the activities of the last N
days; once an activity leaves the window, the nightly refresh takes its points away."""

from datetime import timedelta

import pytest

from scoring.models import ScoreChange
from scoring.tests.factories import engagement_rule, published_rule_set
from scoring.tests.helpers import DAY, T0, act, history, make_lead, run_refresh, score

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def test_only_activities_inside_the_window_count():
    published_rule_set(engagement=[engagement_rule("Demo", "demo_requested", 40, window_days=30)])
    recent, old = make_lead(), make_lead()

    act(recent, "demo_requested", at=T0 - 29 * DAY)
    act(old, "demo_requested", at=T0 - 31 * DAY)

    assert (score(recent).engagement, score(old).engagement) == (40, 0)


def test_a_rule_without_window_counts_activities_of_any_age():
    published_rule_set(
        engagement=[
            engagement_rule("Trial", "trial_started", 30),
            engagement_rule("Demo", "demo_requested", 40, window_days=30),
        ]
    )
    lead = make_lead()

    act(lead, "trial_started", at=T0 - 400 * DAY)
    act(lead, "demo_requested", at=T0 - 400 * DAY)

    assert score(lead).engagement == 30


def test_rules_with_different_windows_each_use_their_own(time_machine):
    published_rule_set(
        engagement=[
            engagement_rule("Opens this week", "email_open", 5, window_days=7),
            engagement_rule("Opens this quarter", "email_open", 1, window_days=90),
        ]
    )
    lead = make_lead()

    act(lead, "email_open", at=T0 - 2 * DAY)
    act(lead, "email_open", at=T0 - 20 * DAY)
    act(lead, "email_open", at=T0 - 100 * DAY)

    assert score(lead).engagement == 5 + 2


def test_the_nightly_refresh_drops_an_activity_that_left_the_window(time_machine):
    published_rule_set(engagement=[engagement_rule("Demo", "demo_requested", 40, window_days=30)])
    lead = make_lead()
    act(lead, "demo_requested")
    assert score(lead).engagement == 40

    time_machine.move_to(T0 + 30 * DAY + timedelta(minutes=1), tick=False)
    run_refresh()

    assert (score(lead).engagement, score(lead).total) == (0, 0)
    last = history(lead)[-1]
    assert (last.delta, last.reason) == (-40, "Nightly refresh (decay and windows)")


def test_the_nightly_refresh_keeps_an_activity_still_inside_the_window(time_machine):
    published_rule_set(engagement=[engagement_rule("Demo", "demo_requested", 40, window_days=30)])
    lead = make_lead()
    act(lead, "demo_requested")
    changes = ScoreChange.objects.count()

    time_machine.move_to(T0 + 29 * DAY, tick=False)
    run_refresh()

    assert score(lead).engagement == 40
    assert ScoreChange.objects.count() == changes  # nothing moved, nothing written
