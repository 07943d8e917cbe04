"""In a real browser: a marketer opens the report card from the scoring page, sees both charts
drawn (Chart.js, from the page's json_script block), and tries a suggestion in a draft."""

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.models import Lead
from scoring.models import FitRule, LeadScore, RuleSet
from scoring.tests.factories import fit_group, fit_rule, published_rule_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_reads_the_card_and_tries_a_suggestion(page, marketer):
    rules = published_rule_set(
        fit=[
            fit_group("Source", [fit_rule("source", "equals", "event", 1)]),
            fit_group("Title", [fit_rule("job_title", "contains", "ceo", 10)]),
            fit_group("Industry", [fit_rule("industry", "equals", "software", 10)]),
        ]
    )
    # 100 leads with an outcome, 20 converted; the 30 from events convert at 60 % (3×): with
    # typical points of 10 (the median of 1, 10, 10), round(10 × log2 3) = +16 is suggested.
    outcomes = [("event", "customer", 40)] * 18 + [("event", "lost", 10)] * 12
    outcomes += [("referral", "customer", 20)] * 2 + [("referral", "lost", 0)] * 68
    for number, (source, stage, total) in enumerate(outcomes):
        lead = Lead.objects.create(email=f"journey{number}@example.com", source=source, stage=stage)
        LeadScore.objects.create(lead=lead, rule_set=rules, total=total)

    log_in(page, "marketer")
    page.goto("/scoring/")
    page.get_by_test_id("report-card-link").click()
    expect(page).to_have_url("/scoring/report/")

    expect(page.locator('[data-cell="auc"]')).to_have_text("1.000")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-report-chart]')]"
        ".every(canvas => window.Chart && window.Chart.getChart(canvas))"
    )
    assert page.locator("canvas[data-report-chart]").count() == 2

    suggestion = page.get_by_test_id("suggestion")
    expect(suggestion).to_contain_text("the rule gives +1: consider more, about +16")
    page.get_by_role("button", name="Try it in a draft").click()

    expect(page.get_by_text("now gives +16 points (was +1)")).to_be_visible()
    copy = FitRule.objects.get(group__rule_set__status=RuleSet.Status.DRAFT, field="source")
    expect(page).to_have_url(f"/scoring/draft/#fit-rule-{copy.pk}")
    assert copy.points == 16
    assert FitRule.objects.get(group__rule_set=rules, field="source").points == 1
