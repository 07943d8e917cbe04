"""Fit rules: every operator, on lead fields and custom attributes, ignoring case; a value
that is not a number never matches a range (and never breaks scoring)."""

import pytest

from scoring.tests.factories import fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import make_lead, score

pytestmark = pytest.mark.django_db


def fit_of(rule: dict, **lead_data) -> int:
    published_rule_set(fit=[fit_group("Profile", rules=[rule])])
    return score(make_lead(**lead_data)).fit


@pytest.mark.parametrize(
    ("job_title", "points"),
    [("Director", 20), ("DIRECTOR", 20), ("director", 20), ("Director of Sales", 0), ("", 0)],
)
def test_equals_matches_the_whole_value_in_any_case(job_title, points):
    assert fit_of(fit_rule("job_title", "equals", "director", 20), job_title=job_title) == points


def test_equals_ignores_the_case_of_the_rule_value_too():
    assert fit_of(fit_rule("job_title", "equals", "  CEO ", 30), job_title="ceo") == 30


@pytest.mark.parametrize(
    ("industry", "points"), [("software", 10), ("finance", 10), ("healthcare", 0), ("", 0)]
)
def test_one_of_matches_any_listed_value(industry, points):
    assert fit_of(fit_rule("industry", "one_of", "Software, FINANCE", 10), industry=industry) == points


def test_one_of_does_not_match_part_of_a_value():
    assert fit_of(fit_rule("job_title", "one_of", "ceo, cto", 30), job_title="CEO and founder") == 0


@pytest.mark.parametrize(
    ("job_title", "points"),
    [
        ("VP Marketing", 25),
        ("Senior Vice President, Sales", 25),
        ("vp", 25),
        ("Marketing Manager", 0),
    ],
)
def test_contains_matches_any_of_the_comma_separated_alternatives(job_title, points):
    assert fit_of(fit_rule("job_title", "contains", "vp, vice president", 25), job_title=job_title) == points


def test_contains_takes_percent_and_underscore_literally():
    rule = fit_rule("job_title", "contains", "100%_remote", 5)

    assert fit_of(rule, job_title="Engineer (100%_remote)") == 5
    assert score(make_lead(job_title="Engineer 100x remote")).fit == 0


@pytest.mark.parametrize(
    ("website", "points"),
    [("https://acme.com", 5), ("HTTP://acme.com", 5), ("ftp://acme.com", 0), ("www.https.com", 0)],
)
def test_starts_with_matches_any_alternative_at_the_start(website, points):
    assert fit_of(fit_rule("website", "starts_with", "https://, http://", 5), website=website) == points


@pytest.mark.parametrize(
    ("email", "points"),
    [
        ("jane@gmail.com", -10),
        ("Jane@Yahoo.COM", -10),
        ("jane@acme.com", 0),
        ("gmail.com@acme.com", 0),
    ],
)
def test_ends_with_matches_any_alternative_at_the_end(email, points):
    rule = fit_rule("email", "ends_with", "@gmail.com, @yahoo.com", -10)

    assert fit_of(rule, email=email) == points


@pytest.mark.parametrize(("phone", "points"), [("+49 30 1234567", 5), ("", 0)])
def test_is_set_gives_points_for_any_value(phone, points):
    assert fit_of(fit_rule("phone", "is_set", "", 5), phone=phone) == points


def test_is_set_on_a_custom_attribute_needs_the_attribute():
    published_rule_set(fit=[fit_group("Profile", rules=[fit_rule("custom.budget", "is_set", "", 15)])])

    with_budget = make_lead(custom={"budget": "50k"})
    without = make_lead(custom={"other": "x"})
    blank = make_lead(custom={"budget": ""})

    assert (score(with_budget).fit, score(without).fit, score(blank).fit) == (15, 0, 0)


@pytest.mark.parametrize(("plan", "points"), [("Enterprise", 40), ("enterprise", 40), ("team", 0), (None, 0)])
def test_equals_on_a_custom_attribute(plan, points):
    custom = {"plan": plan} if plan is not None else {}
    published_rule_set(fit=[fit_group("Plan", rules=[fit_rule("custom.plan", "equals", "ENTERPRISE", 40)])])

    assert score(make_lead(custom=custom)).fit == points


def test_contains_on_a_custom_attribute():
    published_rule_set(
        fit=[fit_group("Stack", rules=[fit_rule("custom.stack", "contains", "salesforce, hubspot", 8)])]
    )

    assert score(make_lead(custom={"stack": "Postgres, HubSpot, Slack"})).fit == 8
    assert score(make_lead(custom={"stack": "Pipedrive"})).fit == 0


@pytest.mark.parametrize(
    ("employees", "points"),
    [
        ("250", 20),
        ("100", 20),  # the minimum is included
        ("500", 20),  # and so is the maximum
        (" 300 ", 20),
        ("99.5", 0),
        ("500.5", 0),
        ("120.75", 20),
        ("-3", 0),
        (250, 20),  # a JSON number, as an API client may send it
        (501, 0),
    ],
)
def test_in_range_on_a_custom_attribute_with_numbers(employees, points):
    rule = fit_rule("custom.employees", "in_range", "100", 20, value_max="500")
    published_rule_set(fit=[fit_group("Size", rules=[rule])])

    assert score(make_lead(custom={"employees": employees})).fit == points


@pytest.mark.parametrize(
    "employees",
    [
        "n/a",
        "",
        "   ",
        "51-200",
        "1-10",
        "150abc",
        "abc150",
        "1.2.3",
        "1.",
        ".5",
        "-",
        ".",
        "--",
        "1e2",
        "+150",
    ],
)
def test_in_range_never_matches_a_value_that_is_not_a_number(employees):
    """Whatever a form or import stored, a non-number simply gets no points, on every database."""
    rule = fit_rule("custom.employees", "in_range", "0", 20, value_max="1000")
    published_rule_set(fit=[fit_group("Size", rules=[rule, fit_rule("job_title", "is_set", "", 1)])])

    lead = make_lead(custom={"employees": employees}, job_title="CTO")

    assert score(lead).fit == 1  # scored (not broken), without the range's points


def test_in_range_with_only_a_minimum_or_only_a_maximum():
    published_rule_set(
        fit=[
            fit_group("Big", rules=[fit_rule("custom.employees", "in_range", "1000", 10)]),
            fit_group("Small", rules=[fit_rule("custom.employees", "in_range", "", -10, value_max="10")]),
        ]
    )

    assert score(make_lead(custom={"employees": "5000"})).fit == 10
    assert score(make_lead(custom={"employees": "3"})).fit == -10
    assert score(make_lead(custom={"employees": "200"})).fit == 0
    assert score(make_lead(custom={})).fit == 0


def test_negative_points_take_from_the_fit():
    published_rule_set(
        fit=[
            fit_group("Title", rules=[fit_rule("job_title", "contains", "student, intern", -30)]),
            fit_group("Industry", rules=[fit_rule("industry", "equals", "software", 10)]),
        ]
    )

    assert score(make_lead(job_title="MBA Student", industry="software")).fit == -20


def test_the_starter_rule_set_scores_a_typical_b2b_lead():
    """The migration installs a published starter rule set: a new install scores leads at once."""
    lead = make_lead(job_title="VP of Sales", company_size="201-500", industry="software", phone="+1 555")

    # VP 25 + size 20 + industry 10 + phone 5
    assert (score(lead).fit, score(lead).grade) == (60, "A")
