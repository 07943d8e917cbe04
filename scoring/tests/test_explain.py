"""The explanation of a score: rule by rule, exactly the stored score (same rule set, same
moment), so that what the lead page shows adds up to the number in the list."""

import pytest

from scoring import selectors
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import DAY, T0, act, make_lead, score

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def test_the_explanation_adds_up_to_the_stored_score_at_its_moment(time_machine):
    published_rule_set(
        fit=[
            fit_group(
                "Title",
                rules=[
                    fit_rule("job_title", "contains", "director", 20),
                    fit_rule("job_title", "contains", "marketing", 15),
                ],
                max_points=30,
            ),
            fit_group("Industry", rules=[fit_rule("industry", "equals", "software", 10)]),
        ],
        engagement=[
            engagement_rule("Demo", "demo_requested", 40),
            engagement_rule("Downloads", "download", 8, max_points=10, decays=False),
        ],
        half_life_days=30,
        inactivity_days=90,
        inactivity_points=-5,
    )
    lead = make_lead(job_title="Marketing Director", industry="software")
    act(lead, "demo_requested", at=T0 - 30 * DAY)
    act(lead, "download")
    act(lead, "download")
    stored = score(lead)

    time_machine.move_to(T0 + 10 * DAY, tick=False)  # later, the stored score is still explained as of T0
    explanation = selectors.explain(lead)

    assert (explanation.fit, explanation.engagement, explanation.total) == (40, 30, 70)
    assert (explanation.total, explanation.grade) == (stored.total, stored.grade)
    assert explanation.as_of == T0
    assert [(name, points, note) for name, points, note, _ in explanation.fit_groups] == [
        ("Title", 30, "capped at 30"),
        ("Industry", 10, ""),
    ]
    lines = {line.label: (line.points, line.detail) for line in explanation.engagement_lines}
    assert lines == {
        "Demo": (20.0, "1 × +40, decayed (half-life 30 days)"),
        "Downloads": (10.0, "2 × +8, capped at 10"),
    }
