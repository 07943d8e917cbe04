"""Grade (A–D) from the fit points and temperature (cold, warm, hot) from the engagement
points, at the rule set's thresholds: what the SDR queue sorts by."""

import pytest

from leads import services as lead_services
from leads.services import EventIn
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import T0, act, make_lead, score

pytestmark = pytest.mark.django_db

THRESHOLDS = dict(grade_a_threshold=40, grade_b_threshold=25, grade_c_threshold=10)


@pytest.mark.parametrize(
    ("fit", "grade"),
    [(55, "A"), (40, "A"), (39, "B"), (25, "B"), (24, "C"), (10, "C"), (9, "D"), (0, "D"), (-20, "D")],
)
def test_grade_follows_the_fit_thresholds(fit, grade):
    published_rule_set(
        fit=[
            fit_group("Points", rules=[fit_rule("custom.fit", "in_range", str(fit), fit, value_max=str(fit))])
        ],
        **THRESHOLDS,
    )

    lead = make_lead(custom={"fit": str(fit)})

    assert (score(lead).fit, score(lead).grade) == (fit, grade)


@pytest.mark.parametrize(
    ("opens", "temperature"),
    [(0, "Cold"), (19, "Cold"), (20, "Warm"), (49, "Warm"), (50, "Hot"), (70, "Hot")],
)
def test_temperature_follows_the_engagement_thresholds(time_machine, opens, temperature):
    time_machine.move_to(T0, tick=False)
    published_rule_set(
        engagement=[engagement_rule("Opens", "email_open", 1)], warm_threshold=20, hot_threshold=50
    )
    lead = make_lead()

    lead_services.ingest_events([EventIn(kind="email_open", occurred_at=T0, lead_id=lead.pk)] * opens)

    assert (score(lead).engagement, score(lead).get_temperature_display()) == (opens, temperature)


def test_the_label_combines_grade_and_temperature(time_machine):
    time_machine.move_to(T0, tick=False)
    published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "equals", "cmo", 45)])],
        engagement=[engagement_rule("Demo", "demo_requested", 60)],
        hot_threshold=50,
        warm_threshold=20,
        **THRESHOLDS,
    )
    lead = make_lead(job_title="CMO")
    assert score(lead).label == "A-cold"

    act(lead, "demo_requested")

    assert score(lead).label == "A-hot"


def test_grade_ignores_engagement_and_temperature_ignores_fit(time_machine):
    time_machine.move_to(T0, tick=False)
    published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "equals", "cmo", 45)])],
        engagement=[engagement_rule("Demo", "demo_requested", 60)],
        hot_threshold=50,
        warm_threshold=20,
        **THRESHOLDS,
    )
    busy_nobody = make_lead(job_title="Student")
    act(busy_nobody, "demo_requested")
    quiet_cmo = make_lead(job_title="CMO")

    assert (score(busy_nobody).grade, score(busy_nobody).get_temperature_display()) == ("D", "Hot")
    assert (score(quiet_cmo).grade, score(quiet_cmo).get_temperature_display()) == ("A", "Cold")
