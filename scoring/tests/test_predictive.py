"""The predictive score: features as of the outcome, the refusal with too few leads, which
version becomes active, reasons that add up, the chance driving grades and the queue, and the
real-time path."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads import services as lead_services
from leads.models import ActivityKind, Handoff, Lead, Stage
from leads.tests.factories import ActivityFactory, LeadFactory
from scoring import predictive
from scoring.engine import LeadSet
from scoring.features import load
from scoring.models import Drive, LeadScore, PredictiveModel, PredictiveSettings, RuleSet
from scoring.services import rescore_leads
from scoring.tests.predictive_data import make_leads

pytestmark = pytest.mark.django_db


def train_now() -> PredictiveModel:
    return predictive.train(predictive.start_training().pk)


def chance(lead: Lead) -> int | None:
    return LeadScore.objects.filter(lead=lead).values_list("probability", flat=True).first()


def open_lead(email: str, plan: str, job_title: str) -> Lead:
    return LeadFactory(email=email, custom={"plan": plan, "home_country": "de"}, job_title=job_title)


# --- features -----------------------------------------------------------------------------------


def test_a_closed_lead_is_read_as_of_its_outcome_not_as_of_today():
    now = timezone.now()
    lead = LeadFactory(stage=Stage.LOST, stage_changed_at=now - timedelta(days=10))
    for days in (20, 12):
        ActivityFactory(lead=lead, kind=ActivityKind.PAGE_VIEW, occurred_at=now - timedelta(days=days))
    ActivityFactory(lead=lead, kind=ActivityKind.PAGE_VIEW, occurred_at=now - timedelta(days=60))
    # After the outcome: never seen by training.
    for days in (5, 4, 3):
        ActivityFactory(lead=lead, kind=ActivityKind.PAGE_VIEW, occurred_at=now - timedelta(days=days))
    ActivityFactory(lead=lead, kind=ActivityKind.EMAIL_CLICK, occurred_at=now - timedelta(days=1))
    # Written by sales: never a feature, before the outcome or not.
    ActivityFactory(lead=lead, kind=ActivityKind.CALL, occurred_at=now - timedelta(days=15))

    data = load(LeadSet(ids=(lead.pk,)), closed=True)

    assert data.ids == [lead.pk] and data.won == [False]
    assert data.activity[("page_view", "count")][0] == 3
    assert data.activity[("page_view", "recent")][0] == 2  # within 30 days before the outcome
    assert data.activity[("page_view", "days_since")][0] == pytest.approx(2.0, abs=0.01)
    assert ("email_click", "count") not in data.activity
    assert ("call", "count") not in data.activity


def test_an_open_lead_is_read_as_of_now_and_a_closed_one_is_not_scored():
    now = timezone.now()
    lead = LeadFactory(stage=Stage.NEW)
    closed = LeadFactory(stage=Stage.CUSTOMER, stage_changed_at=now - timedelta(days=3))
    for days in (40, 3):
        ActivityFactory(lead=lead, kind=ActivityKind.DOWNLOAD, occurred_at=now - timedelta(days=days))

    data = load(LeadSet(ids=(lead.pk, closed.pk)))

    assert data.ids == [lead.pk]
    assert data.activity[("download", "count")][0] == 2
    assert data.activity[("download", "recent")][0] == 1
    assert data.activity[("download", "days_since")][0] == pytest.approx(3.0, abs=0.01)


# --- training -----------------------------------------------------------------------------------


def test_training_refuses_with_too_few_closed_leads_and_says_how_many_are_needed():
    make_leads(150)
    open_lead("open@example.com", "pro", "Engineer")

    run = train_now()

    assert run.status == PredictiveModel.Status.REFUSED
    assert "at least 200 closed leads" in run.message
    won = Lead.objects.filter(stage=Stage.CUSTOMER).count()
    assert f"there are 150 ({won} customers, {150 - won} not)" in run.message
    assert not run.artefact
    assert not LeadScore.objects.filter(probability__isnull=False).exists()


def test_the_first_version_is_judged_on_the_newest_leads_activated_and_scores_the_open_leads():
    closed = make_leads(600)
    good = open_lead("good@example.com", "pro", "Director")
    poor = open_lead("poor@example.com", "free", "Student")

    run = train_now()

    assert run.status == PredictiveModel.Status.ACTIVE, run.message
    assert (run.closed_leads, run.trained_on, run.holdout_size) == (600, 480, 120)
    newest = sorted(closed, key=lambda lead: (lead.stage_changed_at, lead.pk))[480]
    assert abs(run.holdout_from - newest.stage_changed_at) < timedelta(milliseconds=1)
    assert run.auc > 0.7
    assert run.top_decile_lift > 1.3
    assert sum(band["leads"] for band in run.calibration) == 120
    assert any(item["label"] == "Plan" for item in run.importance[:3])
    assert run.scored_leads == 2
    assert chance(good) > 55 > 15 > chance(poor)
    assert LeadScore.objects.filter(probability__isnull=False).count() == 2  # closed leads: no chance


def test_activation_scores_many_open_leads_in_bulk():
    make_leads(600)
    opened = make_leads(1500, start=5000, closed=False, seed=11)  # more than one COPY batch
    run = train_now()

    scores = dict(LeadScore.objects.filter(lead__in=opened).values_list("lead_id", "probability"))
    assert run.scored_leads == 1500 and None not in scores.values()
    pro = [lead.pk for lead in opened if lead.custom["plan"] == "pro" and lead.job_title != "Student"]
    free = [lead.pk for lead in opened if lead.custom["plan"] == "free" and lead.job_title == "Student"]
    assert sum(scores[pk] for pk in pro) / len(pro) > 50 > 15 > sum(scores[pk] for pk in free) / len(free)

    LeadScore.objects.filter(lead=opened[0]).update(probability=None)
    assert predictive.score_all(run) == 1500
    assert chance(opened[0]) == scores[opened[0].pk]


def test_a_worse_version_waits_for_a_manager(page_as, marketer, manager):
    make_leads(600)
    first = train_now()
    settings = PredictiveSettings.load()
    settings.excluded_attributes = ["plan"]  # the trait that decides
    settings.save()

    second = train_now()

    assert second.status == PredictiveModel.Status.READY
    assert second.auc < second.active_auc
    assert "Not activated" in second.message
    first.refresh_from_db()
    assert first.status == PredictiveModel.Status.ACTIVE

    response = page_as(marketer).post(f"/scoring/predictive/{second.version}/activate/", follow=True)
    assert "only a manager can activate it anyway" in response.content.decode()
    assert PredictiveModel.objects.get(status="active") == first

    page_as(manager).post(f"/scoring/predictive/{second.version}/activate/")
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.status, second.forced, second.activated_by) == ("active", True, manager)
    assert first.status == PredictiveModel.Status.RETIRED


def test_a_hold_out_of_one_outcome_cannot_judge_a_version_so_training_refuses():
    make_leads(600)
    newest = Lead.objects.order_by("-stage_changed_at", "-id").values_list("pk", flat=True)[:120]
    Lead.objects.filter(pk__in=list(newest)).update(stage=Stage.LOST)

    run = train_now()

    assert run.status == PredictiveModel.Status.REFUSED
    assert "The newest 120 closed leads, on which a version is judged, are all lost" in run.message
    assert not LeadScore.objects.filter(probability__isnull=False).exists()


def test_a_version_as_good_as_the_active_one_replaces_it():
    make_leads(600)
    first = train_now()
    second = train_now()  # the same leads: the same model, as good

    first.refresh_from_db()
    assert second.auc == pytest.approx(second.active_auc)
    assert (first.status, second.status) == ("retired", "active")


# --- reasons ------------------------------------------------------------------------------------


def test_reasons_add_up_to_the_chance():
    make_leads(600)
    lead = open_lead("good@example.com", "pro", "Director")
    train_now()
    _, trained = predictive.active_model()

    x = trained.spec.matrix(load(LeadSet(ids=(lead.pk,))))
    parts = predictive.contributions(trained, x)
    p = trained.estimator.predict_proba(x)[0, 1]
    assert parts.sum() == pytest.approx(p - predictive.average_chance(trained), abs=1e-9)

    explanation = predictive.explain(lead, shown=50)
    listed = sum(reason.points for reason in explanation.up + explanation.down)
    assert explanation.chance == chance(lead)
    assert abs(explanation.average + listed + explanation.rest - explanation.chance) <= 1
    assert {("Plan", "pro"), ("Job title", "director")} <= {(r.label, r.value) for r in explanation.up}
    assert not any(reason.label == "Home country" and abs(reason.points) > 5 for reason in explanation.down)


def test_the_lead_page_shows_the_chance_and_its_reasons(page_as, sdr):
    make_leads(600)
    lead = open_lead("good@example.com", "pro", "Director")
    train_now()

    html = page_as(sdr).get(f"/scoring/leads/{lead.pk}/").content.decode()

    assert f"{chance(lead)} %" in html
    assert "chance of becoming a customer" in html
    assert "Plan: <em>pro</em>" in html, html[html.index("reasons-up") :][:800]


# --- what drives grades ---------------------------------------------------------------------------


def publish(**settings) -> RuleSet:
    """The published rule set without rules (every lead has 0 points), with ``settings``."""
    rule_set = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    rule_set.fit_groups.all().delete()
    rule_set.engagement_rules.all().delete()
    RuleSet.objects.filter(pk=rule_set.pk).update(**settings)
    rule_set.refresh_from_db()
    return rule_set


def test_points_drive_grades_by_default_and_the_chance_when_the_marketer_says_so():
    make_leads(600)
    good = open_lead("good@example.com", "pro", "Director")
    poor = open_lead("poor@example.com", "free", "Student")
    rule_set = publish()  # no rules: every lead has 0 fit points, grade D
    handoff = Handoff.objects.create(lead=good, handed_at=timezone.now())

    train_now()
    assert LeadScore.objects.get(lead=good).grade == "D"

    rule_set.drive = Drive.PREDICTIVE
    rule_set.save()
    predictive.activate(PredictiveModel.objects.get(status="active"))  # rescoring with the model
    rescore_leads([good.pk, poor.pk], reason="test")  # and with the points: the same grades

    assert LeadScore.objects.get(lead=good).grade == "A"
    assert LeadScore.objects.get(lead=poor).grade == "D"
    handoff.refresh_from_db()
    assert handoff.priority % 10 == 3  # grade A in the queue's order


def test_a_blend_weighs_the_chance_against_the_points():
    rule_set = publish(drive=Drive.BLEND, blend_weight=50, grade_a_threshold=40)
    assert predictive.blended(rule_set, fit=40, chance=20) == 60  # (20 + 100) / 2
    assert predictive.blended(rule_set, fit=0, chance=80) == 40
    assert predictive.blended(rule_set, fit=20, chance=None) == 50  # no chance yet: points alone

    make_leads(600)
    good = open_lead("good@example.com", "pro", "Director")
    train_now()
    score = LeadScore.objects.get(lead=good)
    expected = "B" if 30 <= predictive.blended(rule_set, fit=0, chance=score.probability) < 50 else "?"
    assert score.grade == expected  # fit 0 halves a chance of 60–99 to 30–49.5: grade B


# --- real time ------------------------------------------------------------------------------------


def test_a_change_of_the_lead_moves_its_chance_at_once():
    make_leads(600)
    lead = open_lead("lead@example.com", "free", "Student")
    train_now()
    before = chance(lead)

    lead_services.update_lead(
        lead, data={"custom": {"plan": "pro", "home_country": "de"}, "job_title": "CTO"}
    )

    assert chance(lead) > before + 30
    assert LeadScore.objects.get(lead=lead).model_version == 1


def test_without_an_active_model_nothing_is_predicted():
    lead = open_lead("lead@example.com", "pro", "Director")

    assert predictive.score_leads([lead.pk]) == 0
    assert predictive.explain(lead) is None
    assert chance(lead) is None
