"""The preview of a draft: on the leads whose outcome is known (customer = converted; lost,
disqualified, or recycled and not back for the predictive settings' days = lost) it shows per
grade how many leads there are and how many converted, how well the score separates converted
from lost leads (ROC AUC), and how many leads would become or stop being MQL, beside the
published rule set; it changes no one's score."""

from datetime import timedelta
from functools import partial

import pytest

from leads.models import Lead
from scoring import preview, selectors, services
from scoring.models import EngagementRule, FitGroup, FitRule, LeadScore, ScoreChange, ScoringJob
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import T0, act, make_lead, queued_jobs, run_now  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]

# name: (job title, industry, demos, stage)
LEADS = {
    "L1": ("Director", "software", 1, "customer"),
    "L2": ("Director", "retail", 0, "customer"),
    "L3": ("Analyst", "software", 1, "lost"),
    "L4": ("Analyst", "retail", 0, "disqualified"),
    "L5": ("Director", "software", 0, "new"),
    "L6": ("Analyst", "software", 1, "customer"),
    "L7": ("Director", "retail", 1, "lost"),
    "L8": ("Analyst", "retail", 2, "mql"),  # promoted when its 80 points passed the published 60
}
# Worked out by hand from the rules below.
# Published: director +30; demo +40 each; MQL at 60.
PUBLISHED_TOTAL = {"L1": 70, "L2": 30, "L3": 40, "L4": 0, "L5": 30, "L6": 40, "L7": 70, "L8": 80}
PUBLISHED_GRADE = {"L1": "B", "L2": "B", "L3": "D", "L4": "D", "L5": "B", "L6": "D", "L7": "B", "L8": "D"}
# Draft: director +30, software +15 (a new group); demo +15 each; MQL at 45.
DRAFT_TOTAL = {"L1": 60, "L2": 30, "L3": 30, "L4": 0, "L5": 45, "L6": 30, "L7": 45, "L8": 30}
DRAFT_GRADE = {"L1": "A", "L2": "B", "L3": "C", "L4": "D", "L5": "A", "L6": "C", "L7": "B", "L8": "D"}
WON = {"L1", "L2", "L6"}
LOST = {"L3", "L4", "L7"}


def pairwise_auc(totals: dict[str, int]) -> float:
    """The chance that a converted lead outscores a lost one, over every (converted, lost)
    pair, a tie counting half: the definition, not the histogram shortcut."""
    pairs = [(totals[w], totals[lost]) for w in WON for lost in LOST]
    return sum(1.0 if w > lo else 0.5 if w == lo else 0.0 for w, lo in pairs) / len(pairs)


@pytest.fixture
def known_outcomes(time_machine):
    time_machine.move_to(T0, tick=False)
    published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", 30)])],
        engagement=[engagement_rule("Demo", "demo_requested", 40)],
        mql_threshold=60,
    )
    leads = {}
    for name, (title, industry, demos, stage) in LEADS.items():
        leads[name] = make_lead(job_title=title, industry=industry, stage=stage)
        for _ in range(demos):
            act(leads[name], "demo_requested")
    stored = {n: LeadScore.objects.get(lead=lead) for n, lead in leads.items()}
    assert {n: s.total for n, s in stored.items()} == PUBLISHED_TOTAL
    assert {n: s.grade for n, s in stored.items()} == PUBLISHED_GRADE
    draft = services.start_draft()
    group = FitGroup.objects.create(rule_set=draft, name="Industry", position=1)
    FitRule.objects.create(group=group, field="industry", operator="equals", value="software", points=15)
    EngagementRule.objects.filter(rule_set=draft).update(points=15)
    draft.mql_threshold = 45
    draft.save()
    drafted = {n: selectors.explain(lead, rule_set=draft) for n, lead in leads.items()}
    assert {n: e.total for n, e in drafted.items()} == DRAFT_TOTAL
    assert {n: e.grade for n, e in drafted.items()} == DRAFT_GRADE
    return draft


def run_preview(draft) -> dict:
    job = run_now(services.start_preview(draft))
    assert job.status == ScoringJob.Status.DONE
    return preview.summary(job.result)


def grades_of(side: dict) -> dict:
    return {g["grade"]: (g["leads"], g["won"], g["lost"], g["rate"]) for g in side["grades"]}


def test_the_summary_counts_leads_and_conversions_per_grade_on_both_sides(known_outcomes):
    result = run_preview(known_outcomes)

    assert result["leads"] == 8
    assert (result["draft"]["leads"], result["published"]["leads"]) == (8, 8)
    assert grades_of(result["draft"]) == {
        "A": (2, 1, 0, 1.0),  # L1 converted, L5 open
        "B": (2, 1, 1, 0.5),  # L2 converted, L7 lost
        "C": (2, 1, 1, 0.5),  # L6 converted, L3 lost
        "D": (2, 0, 1, 0.0),  # L4 lost, L8 open (an MQL)
    }
    assert grades_of(result["published"]) == {
        "A": (0, 0, 0, None),
        "B": (4, 2, 1, pytest.approx(2 / 3)),  # L1, L2 converted, L7 lost, L5 open
        "C": (0, 0, 0, None),
        "D": (4, 1, 2, pytest.approx(1 / 3)),  # L6 converted, L3, L4 lost, L8 open
    }


def test_a_recycled_lead_counts_as_lost_once_back_from_sales_for_the_predictive_days(known_outcomes):
    """As the report card and the predictive model count it (90 days by default)."""
    long_ago, recently = make_lead(stage="recycled"), make_lead(stage="recycled")  # 0 points: D
    Lead.objects.filter(pk=long_ago.pk).update(stage_changed_at=T0 - timedelta(days=91))
    Lead.objects.filter(pk=recently.pk).update(stage_changed_at=T0 - timedelta(days=89))

    result = run_preview(known_outcomes)

    assert grades_of(result["draft"])["D"] == (4, 0, 2, 0.0)  # L4 and the one long ago lost
    assert grades_of(result["published"])["D"] == (6, 1, 3, pytest.approx(1 / 4))


def test_the_auc_is_the_share_of_converted_lost_pairs_the_score_orders_right(known_outcomes):
    result = run_preview(known_outcomes)

    assert pairwise_auc(DRAFT_TOTAL) == pytest.approx(6 / 9)
    assert pairwise_auc(PUBLISHED_TOTAL) == pytest.approx(5 / 9)
    assert result["draft"]["auc"] == pytest.approx(pairwise_auc(DRAFT_TOTAL))
    assert result["published"]["auc"] == pytest.approx(pairwise_auc(PUBLISHED_TOTAL))


def test_the_mql_movements_count_new_leads_the_draft_promotes_and_mqls_it_no_longer_qualifies(known_outcomes):
    result = run_preview(known_outcomes)

    # Draft threshold 45: the new lead L5 (45) would become MQL; the MQL L8 (30) would no longer
    # qualify; L1 and L7 reach 45 too, but are customer and lost, not new.
    assert (result["newly_mql"], result["no_longer_mql"]) == (1, 1)


def test_a_preview_changes_no_score_history_or_stage(known_outcomes):
    scores = list(LeadScore.objects.order_by("lead_id").values())
    history = ScoreChange.objects.count()
    stages = sorted(LeadScore.objects.values_list("lead__stage", flat=True))

    run_preview(known_outcomes)

    assert list(LeadScore.objects.order_by("lead_id").values()) == scores
    assert ScoreChange.objects.count() == history
    assert sorted(LeadScore.objects.values_list("lead__stage", flat=True)) == stages
    assert known_outcomes.status == "draft"


def test_a_preview_in_many_chunks_adds_up_to_the_same_summary(known_outcomes, monkeypatch):
    whole = run_preview(known_outcomes)
    monkeypatch.setattr("scoring.preview.lead_chunks", partial(services.lead_chunks, size=3))

    chunked = run_preview(known_outcomes)

    assert chunked == whole


def test_only_a_draft_is_previewed(known_outcomes):
    with pytest.raises(ValueError):
        services.start_preview(services.published_rule_set())


def test_a_preview_is_out_of_date_once_the_draft_changes(known_outcomes, time_machine):
    job = services.start_preview(known_outcomes)
    assert services.latest_preview(known_outcomes) == job

    time_machine.move_to(T0.replace(minute=5), tick=False)
    services.touch_draft(known_outcomes)
    known_outcomes.refresh_from_db()

    assert services.latest_preview(known_outcomes) is None


# --- roc_auc on histograms ------------------------------------------------------------------


def test_roc_auc_is_one_when_every_converted_lead_scores_above_every_lost_one():
    assert preview.roc_auc({50: 2, 70: 1}, {10: 3, 49: 1}) == 1.0


def test_roc_auc_is_zero_when_the_score_orders_them_the_wrong_way():
    assert preview.roc_auc({10: 3}, {50: 2, 70: 1}) == 0.0


def test_roc_auc_is_a_half_when_all_scores_tie():
    assert preview.roc_auc({30: 4}, {30: 7}) == 0.5


def test_roc_auc_counts_ties_as_half_a_win():
    # converted: 1, 3, 3; lost: 1, 1, 2. Pairs won: 3 + 3 (the 3s) + 2 × 0.5 (1 vs 1) = 7 of 9.
    assert preview.roc_auc({1: 1, 3: 2}, {1: 2, 2: 1}) == pytest.approx(7 / 9)


def test_roc_auc_handles_negative_scores():
    assert preview.roc_auc({-5: 1, 10: 1}, {-20: 1, 0: 1}) == pytest.approx(3 / 4)


@pytest.mark.parametrize(("positives", "negatives"), [({}, {1: 2}), ({1: 2}, {}), ({}, {})])
def test_roc_auc_is_none_without_both_kinds_of_leads(positives, negatives):
    assert preview.roc_auc(positives, negatives) is None


def test_asking_twice_for_a_preview_of_the_same_draft_gives_the_one_under_way():
    draft = services.start_draft()

    first = services.start_preview(draft)
    second = services.start_preview(draft)
    services.touch_draft(draft)
    draft.refresh_from_db()
    after_a_change = services.start_preview(draft)

    assert second.pk == first.pk
    assert after_a_change.pk != first.pk
