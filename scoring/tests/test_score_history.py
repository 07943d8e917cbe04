"""The score history: every real-time change of a lead's score is a line with the new
scores, how much the total moved, why (the event or edit) and which rules moved it."""

import pytest

from leads import services as lead_services
from leads.services import EventIn
from scoring import selectors
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import DAY, T0, act, history, make_lead, score

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rules(time_machine):
    time_machine.move_to(T0, tick=False)
    return published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", 20)])],
        engagement=[
            engagement_rule(
                "Pricing page", "page_view", 10, property_name="url", operator="contains", value="pricing"
            ),
            engagement_rule("Page views", "page_view", 1, max_points=5),
        ],
        half_life_days=30,
    )


def test_a_new_lead_starts_its_history_with_its_fit(rules):
    lead = make_lead(job_title="Director")

    [line] = history(lead)
    assert (line.fit, line.engagement, line.total, line.delta) == (20, 0, 20, 20)
    assert (line.reason, line.rule_set, line.changed_at) == ("Lead created", rules, T0)


def test_an_activity_adds_a_line_naming_the_rules_it_moved(rules):
    lead = make_lead(job_title="Director")

    act(lead, "page_view", url="/pricing")

    line = history(lead)[-1]
    assert (line.fit, line.engagement, line.total, line.delta) == (20, 11, 31, 11)
    assert line.reason == "Page view (LeadApp user)"
    assert sorted(line.details, key=lambda d: d["rule"]) == [
        {"rule": "Page views", "delta": 1.0},
        {"rule": "Pricing page", "delta": 10.0},
    ]


def test_an_activity_no_rule_scores_adds_no_line():
    lead = make_lead()

    act(lead, "note", text="Called, no answer")
    act(lead, "email_open")

    assert len(history(lead)) == 1


def test_a_capped_rule_that_is_full_adds_no_line():
    lead = make_lead()
    for _ in range(5):
        act(lead, "page_view", url="/blog")
    lines = len(history(lead))

    act(lead, "page_view", url="/blog")

    assert (score(lead).engagement, len(history(lead))) == (5, lines)


def test_a_batch_of_events_is_one_line_per_lead():
    first, second = make_lead(), make_lead()

    lead_services.ingest_events(
        [
            EventIn(kind="page_view", occurred_at=T0, lead_id=first.pk, properties={"url": "/pricing"}),
            EventIn(kind="page_view", occurred_at=T0, lead_id=first.pk, properties={"url": "/"}),
            EventIn(kind="page_view", occurred_at=T0, lead_id=second.pk, properties={"url": "/"}),
        ]
    )

    # The reason names the whole batch.
    assert [(line.delta, line.reason) for line in history(first)[1:]] == [(12, "page view ×3 (API)")]
    assert [(line.delta, line.reason) for line in history(second)[1:]] == [(1, "page view ×3 (API)")]


def test_decay_since_the_last_scoring_is_a_line_of_its_own_in_the_details(time_machine):
    lead = make_lead()
    act(lead, "page_view", url="/pricing")  # 10 + 1

    time_machine.move_to(T0 + 20 * DAY, tick=False)
    act(lead, "page_view", url="/about")

    line = history(lead)[-1]
    # 11 × 0.5 ** (20 / 30) = 6.93 (7 before the new view: 4 points of decay), + 1 = 7.93
    assert (line.total, line.delta) == (8, -3)
    assert sorted(line.details, key=lambda d: d["rule"]) == [
        {"rule": "Decay and other changes since the last scoring", "delta": -4},
        {"rule": "Page views", "delta": 1.0},
    ]


def test_editing_the_lead_adds_a_line_with_the_edit_as_reason(rules):
    lead = make_lead(job_title="Analyst")

    lead_services.update_lead(lead, data={"job_title": "Sales Director"})

    line = history(lead)[-1]
    assert (line.fit, line.delta, line.reason) == (20, 20, "Lead edited")


def test_the_history_adds_up_to_the_current_score(time_machine):
    lead = make_lead(job_title="Director")
    for day, url in [(0, "/pricing"), (3, "/"), (10, "/pricing"), (40, "/jobs"), (41, "/pricing")]:
        time_machine.move_to(T0 + day * DAY, tick=False)
        act(lead, "page_view", url=url)

    lines = history(lead)
    assert sum(line.delta for line in lines) == score(lead).total == lines[-1].total
    assert [line.pk for line in selectors.score_history(lead)] == [line.pk for line in reversed(lines)]
