"""Fit groups: the rules of a group add up to at most the group's maximum, so that a lead
matching several title rules is not worth more than the best title; groups add up."""

import pytest

from leads import services as lead_services
from scoring.tests.factories import fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import make_lead, score

pytestmark = pytest.mark.django_db

TITLE_RULES = [
    fit_rule("job_title", "contains", "chief, founder", 30),
    fit_rule("job_title", "contains", "director, head of", 20),
    fit_rule("job_title", "contains", "marketing", 10),
]


def test_several_matching_rules_in_a_capped_group_do_not_pile_up():
    published_rule_set(fit=[fit_group("Title", rules=TITLE_RULES, max_points=30)])

    founder_director = make_lead(job_title="Founder and Marketing Director")  # 30 + 20 + 10 matched

    assert score(founder_director).fit == 30


def test_a_capped_group_still_adds_up_below_its_maximum():
    published_rule_set(fit=[fit_group("Title", rules=TITLE_RULES, max_points=35)])

    assert score(make_lead(job_title="Director of Marketing")).fit == 30  # 20 + 10, under 35
    assert score(make_lead(job_title="Head of Marketing, Founder")).fit == 35


def test_a_group_without_maximum_adds_every_matching_rule():
    published_rule_set(fit=[fit_group("Title", rules=TITLE_RULES)])

    assert score(make_lead(job_title="Founder and Marketing Director")).fit == 60


def test_negative_rules_in_a_capped_group_still_take_points_away():
    published_rule_set(
        fit=[
            fit_group(
                "Title",
                rules=[*TITLE_RULES, fit_rule("job_title", "contains", "student", -40)],
                max_points=30,
            )
        ]
    )

    assert score(make_lead(job_title="Student founder")).fit == -10  # min(30 - 40, 30)
    assert score(make_lead(job_title="Student")).fit == -40


def test_groups_are_capped_one_by_one_and_then_added():
    published_rule_set(
        fit=[
            fit_group("Title", rules=TITLE_RULES, max_points=30),
            fit_group(
                "Company size",
                rules=[
                    fit_rule("company_size", "one_of", "201-500, 501-1000", 20),
                    fit_rule("custom.employees", "in_range", "200", 15),
                ],
                max_points=20,
            ),
            fit_group("Industry", rules=[fit_rule("industry", "equals", "software", 10)]),
        ]
    )

    lead = make_lead(
        job_title="Founder, Director",
        company_size="201-500",
        industry="software",
        custom={"employees": "350"},
    )

    assert score(lead).fit == 30 + 20 + 10


def test_editing_the_lead_rescores_its_fit_at_once():
    published_rule_set(fit=[fit_group("Title", rules=TITLE_RULES, max_points=30)])
    lead = make_lead(job_title="Analyst")

    lead_services.update_lead(lead, data={"job_title": "Director of Marketing"})

    assert (score(lead).fit, score(lead).grade) == (30, "B")
