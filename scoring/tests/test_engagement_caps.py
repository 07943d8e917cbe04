"""Engagement rules: points per activity of a kind (and property), only the N most recent
occurrences counting, and at most (or, for negative rules, at least) a rule's maximum."""

import pytest

from leads import services as lead_services
from leads.services import EventIn
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import DAY, T0, act, make_lead, score

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def test_each_activity_of_the_kind_adds_the_rules_points():
    published_rule_set(engagement=[engagement_rule("Downloads", "download", 8)])
    lead = make_lead()

    for _ in range(3):
        act(lead, "download", asset="guide.pdf")
    act(lead, "email_open")  # no rule for it

    assert score(lead).engagement == 24
    assert score(lead).total == 24


def test_a_property_filter_counts_only_matching_activities():
    published_rule_set(
        engagement=[
            engagement_rule(
                "Pricing page", "page_view", 10, property_name="url", operator="contains", value="/pricing"
            )
        ]
    )
    lead = make_lead()

    act(lead, "page_view", url="https://acme.com/pricing")
    act(lead, "page_view", url="https://acme.com/PRICING?plan=team")  # case does not matter
    act(lead, "page_view", url="https://acme.com/blog")
    act(lead, "page_view")  # no url at all
    act(lead, "download", url="/pricing")  # another kind

    assert score(lead).engagement == 20


def test_a_property_filter_with_one_of_alternatives():
    published_rule_set(
        engagement=[
            engagement_rule(
                "Key assets",
                "download",
                15,
                property_name="asset",
                operator="one_of",
                value="roi.xlsx, case.pdf",
            )
        ]
    )
    lead = make_lead()

    act(lead, "download", asset="ROI.xlsx")
    act(lead, "download", asset="case.pdf")
    act(lead, "download", asset="logo.png")

    assert score(lead).engagement == 30


def test_max_occurrences_counts_only_that_many():
    published_rule_set(engagement=[engagement_rule("Webinars", "webinar_attended", 12, max_occurrences=2)])
    lead = make_lead()

    for _ in range(5):
        act(lead, "webinar_attended")

    assert score(lead).engagement == 24


def test_max_occurrences_counts_the_most_recent_ones_when_points_decay(time_machine):
    """With a half-life, which occurrences count matters: the newest are worth the most."""
    published_rule_set(
        engagement=[engagement_rule("Pricing", "page_view", 8, max_occurrences=2)], half_life_days=10
    )
    lead = make_lead()

    # The newest arrives first, two old ones arrive late (an import of past events).
    act(lead, "page_view")
    act(lead, "page_view", at=T0 - 20 * DAY)
    act(lead, "page_view", at=T0 - 40 * DAY)

    # 8 × (1 + 0.25): the two most recent; the 40-day-old one is not counted.
    assert score(lead).engagement == 10


def test_max_occurrences_ignores_activities_that_do_not_match_the_property():
    published_rule_set(
        engagement=[
            engagement_rule(
                "Pricing",
                "page_view",
                10,
                property_name="url",
                operator="contains",
                value="/pricing",
                max_occurrences=1,
            )
        ],
        half_life_days=10,
    )
    lead = make_lead()

    act(lead, "page_view", url="/pricing", at=T0 - 10 * DAY)
    act(lead, "page_view", url="/blog")  # newer, but does not match: must not use up the one occurrence

    assert score(lead).engagement == 5


def test_max_points_caps_a_rule():
    published_rule_set(engagement=[engagement_rule("Downloads", "download", 8, max_points=20)])
    lead = make_lead()

    for _ in range(4):
        act(lead, "download")

    assert score(lead).engagement == 20


def test_max_points_caps_a_negative_rule_from_below():
    published_rule_set(
        engagement=[
            engagement_rule("Bounces", "email_bounce", -10, max_points=15),
            engagement_rule("Opens", "email_open", 1),
        ]
    )
    lead = make_lead()

    lead_services.ingest_events(
        [EventIn(kind="email_bounce", occurred_at=T0, lead_id=lead.pk) for _ in range(3)]
        + [EventIn(kind="email_open", occurred_at=T0, lead_id=lead.pk)]
    )

    assert score(lead).engagement == -15 + 1


def test_each_rule_is_capped_on_its_own_and_the_rules_add_up():
    published_rule_set(
        engagement=[
            engagement_rule("Page views", "page_view", 1, max_points=3),
            engagement_rule(
                "Pricing", "page_view", 10, property_name="url", operator="contains", value="pricing"
            ),
        ]
    )
    lead = make_lead()

    for url in ["/", "/about", "/pricing", "/jobs", "/pricing"]:
        act(lead, "page_view", url=url)

    assert score(lead).engagement == 3 + 20


def test_engagement_points_make_the_total_with_the_fit():
    published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "cto", 30)])],
        engagement=[engagement_rule("Demo", "demo_requested", 40, max_occurrences=1)],
    )
    lead = make_lead(job_title="CTO")

    act(lead, "demo_requested")
    act(lead, "demo_requested")

    assert (score(lead).fit, score(lead).engagement, score(lead).total) == (30, 40, 70)
