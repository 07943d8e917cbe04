"""The scoring report card's numbers (``scoring.report_card``), on small hand-built data sets
whose answers are worked out by hand and written here as literals: conversion per grade, the
deciles of the total (the lift chart), the ROC AUC, and per rule the conversion of the leads
that match it beside those that do not, with a suggestion where the points disagree.

The leads and their stored scores are written directly (no real-time scoring), so that each
test says exactly which total and grade a lead has; the card only reads them."""

from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Activity, Lead
from scoring.models import LeadScore, RuleSet
from scoring.report_card import RuleRow, report_card, suggest, suggested_points
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set, rule_set
from scoring.tests.helpers import act, make_lead

pytestmark = pytest.mark.django_db

_emails = count()


def lead(stage: str, *, rules: RuleSet, total: int = 0, grade: str = "D", days_in_stage: int = 0, **fields):
    """A lead in ``stage`` for ``days_in_stage`` days whose stored score (with ``rules``) is
    ``total`` and ``grade``."""
    entered = timezone.now() - timedelta(days=days_in_stage)
    new = Lead.objects.create(
        email=f"report{next(_emails)}@example.com", stage=stage, stage_changed_at=entered, **fields
    )
    LeadScore.objects.create(lead=new, rule_set=rules, total=total, grade=grade)
    return new


def leads(n: int, stage: str, **options) -> list[Lead]:
    return [lead(stage, **options) for _ in range(n)]


def grades(card) -> dict:
    return {g.label: (g.leads, g.converted, g.rate, g.lift) for g in card.grades}


@pytest.fixture
def rules():
    return published_rule_set(fit=[fit_group("Title", [fit_rule("job_title", "contains", "director", 10)])])


# --- who counts, conversion per grade -------------------------------------------------------------


def test_conversion_per_grade_counts_only_leads_with_an_outcome(rules):
    leads(3, "customer", rules=rules, grade="A")
    leads(1, "lost", rules=rules, grade="A")
    leads(1, "customer", rules=rules, grade="B")
    leads(1, "disqualified", rules=rules, grade="B")
    leads(2, "lost", rules=rules, grade="D")
    leads(1, "disqualified", rules=rules, grade="D")
    # Back from sales for longer than the predictive settings' 90 days: not converted.
    lead("recycled", rules=rules, grade="D", days_in_stage=91)
    # Open, or back from sales too recently to tell: no outcome.
    for stage in ("new", "mql", "sal", "sql", "opportunity"):
        lead(stage, rules=rules, grade="A")
    lead("recycled", rules=rules, grade="A", days_in_stage=89)

    card = report_card()

    assert (card.leads, card.converted, card.rate) == (10, 4, 0.4)
    assert grades(card) == {
        "A": (4, 3, 0.75, pytest.approx(1.875)),
        "B": (2, 1, 0.5, pytest.approx(1.25)),
        "C": (0, 0, None, None),
        "D": (4, 0, 0.0, 0.0),
    }
    assert card.left_out == 0


def test_leads_scored_with_another_version_are_left_out_and_counted(rules):
    old = rule_set(status=RuleSet.Status.ARCHIVED)
    lead("customer", rules=rules, grade="A")
    lead("lost", rules=rules, grade="A")
    lead("customer", rules=old, grade="A")  # not rescored with the published version yet

    card = report_card()

    assert (card.leads, card.converted, card.left_out) == (2, 1, 1)


def test_nothing_published_means_no_card():
    RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).update(status=RuleSet.Status.ARCHIVED)

    assert report_card() is None


def test_the_card_reads_the_scores_real_time_scoring_stored():
    published_rule_set(
        fit=[fit_group("Title", [fit_rule("job_title", "contains", "director", 30)])],
        engagement=[engagement_rule("Demo", "demo_requested", 40)],
    )
    won_with_demo = make_lead(job_title="Director", stage="customer")  # 30 + 40 = 70, fit grade B
    make_lead(job_title="Director", stage="customer")  # 30, B
    lost_with_demo = make_lead(job_title="Analyst", stage="lost")  # 40, D
    make_lead(job_title="Analyst", stage="disqualified")  # 0, D
    act(won_with_demo, "demo_requested")
    act(lost_with_demo, "demo_requested")

    card = report_card()

    assert grades(card) == {
        "A": (0, 0, None, None),
        "B": (2, 2, 1.0, 2.0),
        "C": (0, 0, None, None),
        "D": (2, 0, 0.0, 0.0),
    }
    # Converted 70 and 30 against lost 40 and 0: 70 > 40, 70 > 0, 30 < 40, 30 > 0.
    assert card.auc == 0.75
    director, demo = card.rules
    assert (director.matched, director.rate_matched, director.lift) == (2, 1.0, 2.0)
    assert (demo.matched, demo.rate_matched, demo.lift) == (2, 0.5, 1.0)


# --- deciles: the lift chart ----------------------------------------------------------------------


def test_twenty_leads_fall_into_ten_deciles_of_two_highest_totals_first(rules):
    converted = {20, 19, 18, 11, 3}
    for total in range(1, 21):
        lead("customer" if total in converted else "lost", rules=rules, total=total)

    card = report_card()

    # Overall 5 of 20 = 25 %: lift = the decile's rate / 0.25.
    assert [(d.label, d.lowest, d.highest, d.leads, d.converted, d.rate, d.lift) for d in card.deciles] == [
        ("1", 19, 20, 2, 2, 1.0, 4.0),
        ("2", 17, 18, 2, 1, 0.5, 2.0),
        ("3", 15, 16, 2, 0, 0.0, 0.0),
        ("4", 13, 14, 2, 0, 0.0, 0.0),
        ("5", 11, 12, 2, 1, 0.5, 2.0),
        ("6", 9, 10, 2, 0, 0.0, 0.0),
        ("7", 7, 8, 2, 0, 0.0, 0.0),
        ("8", 5, 6, 2, 0, 0.0, 0.0),
        ("9", 3, 4, 2, 1, 0.5, 2.0),
        ("10", 1, 2, 2, 0, 0.0, 0.0),
    ]


def test_deciles_have_equal_counts_even_with_equal_totals(rules):
    # Twelve leads, all at 5: ten groups of one or two (the first two get the extra leads).
    for _ in range(12):
        lead("lost", rules=rules, total=5)

    card = report_card()

    assert [d.leads for d in card.deciles] == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert {(d.lowest, d.highest) for d in card.deciles} == {(5, 5)}


# --- ROC AUC --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "converted, lost, auc",
    [
        ([30, 40], [10, 20], 1.0),  # every converted lead above every lost one
        ([10, 20], [30, 40], 0.0),  # the other way round
        ([30, 15], [10, 20], 0.75),  # 3 of the 4 (converted, lost) pairs in the right order
        ([20, 20], [20, 10], 0.75),  # 2 pairs right, 2 tied at 20 (half each): 3 of 4
    ],
)
def test_the_auc_is_the_share_of_converted_lost_pairs_in_the_right_order(rules, converted, lost, auc):
    for total in converted:
        lead("customer", rules=rules, total=total)
    for total in lost:
        lead("lost", rules=rules, total=total)

    assert report_card().auc == auc


# --- per rule -------------------------------------------------------------------------------------


def test_per_rule_conversion_of_matching_and_other_leads(rules):
    rules = published_rule_set(
        fit=[fit_group("Title", [fit_rule("job_title", "contains", "director", 10)])],
        engagement=[engagement_rule("Webinar", "webinar_attended", 5)],
    )
    directors = [
        *leads(3, "customer", rules=rules, job_title="Sales Director"),
        *leads(1, "lost", rules=rules, job_title="Director of IT"),
    ]
    others = [*leads(1, "customer", rules=rules, job_title="Analyst"), *leads(5, "lost", rules=rules)]
    # Webinars: two converted leads (one went twice) and three lost ones.
    for attendee in [directors[0], directors[0], others[0], directors[3], others[1], others[2]]:
        Activity.objects.create(lead=attendee, kind="webinar_attended", occurred_at=timezone.now())
    Activity.objects.create(lead=others[3], kind="page_view", occurred_at=timezone.now())

    card = report_card()
    fit, engagement = card.rules

    # Overall 4 of 10 converted (40 %).
    assert (fit.kind, fit.group, fit.label, fit.points) == (
        "fit",
        "Title",
        "Job title contains “director”",
        10,
    )
    assert (fit.matched, fit.matched_converted, fit.unmatched, fit.unmatched_converted) == (4, 3, 6, 1)
    assert (fit.rate_matched, fit.rate_unmatched, fit.lift) == (
        0.75,
        pytest.approx(1 / 6),
        pytest.approx(1.875),
    )
    assert (engagement.matched, engagement.matched_converted, engagement.unmatched) == (5, 2, 5)
    assert (engagement.rate_matched, engagement.rate_unmatched, engagement.lift) == (0.4, 0.4, 1.0)
    # Too few leads to judge either rule.
    assert fit.suggestion is None and engagement.suggestion is None
    assert fit.note == "too few leads (under 30)"


def event_source_rules(points: int) -> RuleSet:
    """Leads from events (+``points``) beside two rules of 10 points: typical points 10."""
    return published_rule_set(
        fit=[
            fit_group("Source", [fit_rule("source", "equals", "event", points)]),
            fit_group("Title", [fit_rule("job_title", "contains", "ceo", 10)]),
            fit_group("Industry", [fit_rule("industry", "equals", "software", 10)]),
        ]
    )


def test_a_rule_whose_leads_convert_three_times_the_average_with_one_point_gets_more(rules):
    rules = event_source_rules(points=1)
    # 100 leads, 20 converted (20 %); the 30 from events: 18 converted (60 %, 3× the average).
    leads(18, "customer", rules=rules, source="event")
    leads(12, "lost", rules=rules, source="event")
    leads(2, "customer", rules=rules, source="referral")
    leads(68, "lost", rules=rules, source="referral")

    event, ceo, software = report_card().rules

    assert (event.matched, event.rate_matched, event.lift) == (30, 0.6, pytest.approx(3.0))
    # round(10 × log2(3)) = round(15.85) = 16
    assert event.suggestion.points == 16
    assert event.suggestion.text == (
        "Leads that match convert 3.0× the average; the rule gives +1: consider more, about +16."
    )
    assert ceo.suggestion is None and software.suggestion is None  # nobody matches them


def test_no_suggestion_for_a_rule_fewer_than_thirty_leads_match(rules):
    rules = event_source_rules(points=1)
    leads(29, "customer", rules=rules, source="event")  # all converted: 3.4× the average
    leads(71, "lost", rules=rules, source="referral")

    event = report_card().rules[0]

    assert (event.matched, event.lift) == (29, pytest.approx(100 / 29))
    assert event.suggestion is None
    assert event.note == "too few leads (under 30)"


def row(points: int, lift: float | None, matched: int = 50) -> RuleRow:
    return RuleRow(
        kind="fit",
        rule=None,
        group="",
        label="",
        points=points,
        matched=matched,
        matched_converted=0,
        unmatched=0,
        unmatched_converted=0,
        rate_matched=None,
        rate_unmatched=None,
        lift=lift,
    )


@pytest.mark.parametrize(
    "points, lift, suggested",
    [
        (5, 3.1, 16),  # the webinar example: round(10 × log2 3.1) = round(16.3)
        (1, 1.5, 6),  # round(10 × 0.585); 1 is below half of it
        (3, 1.5, None),  # 3 is half of 6, rounded: close enough
        (10, 2.0, None),  # twice the average and the typical points: agrees
        (40, 2.0, None),  # more than the data says, but not the wrong way round: left alone
        (10, 0.5, -10),  # converts at half the average, yet adds points
        (10, 0.0, -30),  # none of them converts: lift taken as 1/8, round(10 × -3)
        (5, 0.7, None),  # a little below average: not flagged
        (-10, 1.3, 4),  # takes points from leads that convert better: round(10 × 0.379)
        (-10, 1.1, None),  # about average: the penalty is left alone
        (-10, 0.25, None),  # a penalty for leads that convert less: agrees
    ],
)
def test_the_suggested_points_follow_the_log_of_the_lift(points, lift, suggested):
    suggestion, _ = suggest(row(points, lift), typical=10)

    assert (suggestion.points if suggestion else None) == suggested


def test_the_suggested_points_scale_with_the_typical_points_of_the_rule_set():
    assert suggested_points(2.0, 10) == 10
    assert suggested_points(2.0, 25) == 25
    assert suggested_points(4.0, 5) == 10
    assert suggested_points(100.0, 10) == 30  # lift capped at 8
    assert suggested_points(1.0, 10) == 0


def test_the_typical_points_are_the_median_size_of_the_rule_sets_points():
    published_rule_set(
        fit=[
            fit_group("G", [fit_rule("source", "equals", "event", 1), fit_rule("phone", "is_set", "", -20)])
        ],
        engagement=[engagement_rule("Demo", "demo_requested", 40), engagement_rule("Zero", "note", 0)],
    )

    assert report_card().typical_points == 20  # median of 1, 20, 40 (0 does not count)


# --- the empty cases: nothing to divide by --------------------------------------------------------


def test_without_outcomes_the_card_is_empty_and_says_so(rules):
    leads(3, "new", rules=rules, job_title="Director")

    card = report_card()

    assert (card.leads, card.converted, card.rate, card.auc) == (0, 0, None, None)
    assert grades(card) == {g: (0, 0, None, None) for g in "ABCD"}
    assert card.deciles == []
    (rule,) = card.rules
    assert (rule.matched, rule.rate_matched, rule.rate_unmatched, rule.lift, rule.suggestion) == (
        0,
        None,
        None,
        None,
        None,
    )


def test_without_a_single_conversion_there_is_no_auc_no_lift_and_no_suggestion(rules):
    leads(40, "lost", rules=rules, total=10, job_title="Director")

    card = report_card()

    assert (card.leads, card.converted, card.rate, card.auc) == (40, 0, 0.0, None)
    assert grades(card)["D"] == (40, 0, 0.0, None)
    assert [(d.leads, d.rate, d.lift) for d in card.deciles] == [(4, 0.0, None)] * 10
    (rule,) = card.rules
    assert (rule.matched, rule.rate_matched, rule.lift, rule.suggestion) == (40, 0.0, None, None)
    assert rule.note == "no conversions yet"


def test_with_only_conversions_there_is_no_auc(rules):
    leads(3, "customer", rules=rules, total=10)

    card = report_card()

    assert (card.leads, card.rate, card.auc) == (3, 1.0, None)


# --- set-based: as many queries for 40 leads as for 4 ---------------------------------------------


def test_the_card_takes_the_same_number_of_queries_however_many_leads(rules):
    rules = published_rule_set(
        fit=[fit_group("Title", [fit_rule("job_title", "contains", "director", 10)])],
        engagement=[engagement_rule("Webinar", "webinar_attended", 5)],
    )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            report_card()
        return len(captured)

    for new in [*leads(2, "customer", rules=rules, total=5), *leads(2, "lost", rules=rules)]:
        Activity.objects.create(lead=new, kind="webinar_attended", occurred_at=timezone.now())
    queries()  # the first card ever also stores the predictive settings it reads
    few = queries()
    for new in [*leads(18, "customer", rules=rules, total=5), *leads(18, "lost", rules=rules)]:
        Activity.objects.create(lead=new, kind="webinar_attended", occurred_at=timezone.now())

    assert queries() == few
