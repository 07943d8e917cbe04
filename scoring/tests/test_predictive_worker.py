""" "Train now" on the page runs the training in a real Celery worker process, fed through the
real broker: the version becomes active and the open leads get their chance. A training task
delivered twice (a redelivery, a second beat) leaves the finished version as it was."""

import time

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from scoring.models import LeadScore, PredictiveModel
from scoring.tasks import predict_leads, train_predictive_model
from scoring.tests.predictive_data import make_leads

DEADLINE = 120  # seconds

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def open_leads() -> list[Lead]:
    """Three open leads, from likely to unlikely to convert (the plan and the job title decide)."""
    traits = [("good", "pro", "CTO"), ("fine", "pro", "Manager"), ("poor", "free", "Student")]
    return [
        LeadFactory(email=f"{name}@example.com", custom={"plan": plan, "home_country": "de"}, job_title=title)
        for name, plan, title in traits
    ]


def wait_until_active(run: PredictiveModel) -> PredictiveModel:
    """Until the version is active and has scored the open leads (its progress reaches 100 %)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        run.refresh_from_db()
        if run.status == PredictiveModel.Status.ACTIVE and run.progress == 100:
            return run
        assert run.status in ("queued", "training", "active"), f"{run} is {run.status}: {run.message}"
        assert time.monotonic() < deadline, (
            f"{run} is still {run.status} ({run.progress} %, {run.phase!r}) after {DEADLINE} s: {run.message}"
        )
        time.sleep(0.5)


def chances(leads: list[Lead]) -> dict[str, tuple]:
    scores = LeadScore.objects.filter(lead__in=leads).values_list(
        "lead__email", "probability", "model_version"
    )
    return {email: (probability, version) for email, probability, version in scores}


def test_train_now_runs_in_the_worker_and_the_open_leads_get_their_chance(
    celery_worker_process, page_as, marketer
):
    make_leads(600)
    leads = open_leads()
    assert not LeadScore.objects.filter(probability__isnull=False).exists()

    response = page_as(marketer).post("/scoring/predictive/train/")  # queued on commit, through the broker

    assert response.status_code == 302
    run = wait_until_active(PredictiveModel.objects.get())
    assert run.version == 1 and run.created_by == marketer
    assert (run.closed_leads, run.trained_on, run.holdout_size) == (600, 480, 120)
    assert run.scored_leads == 3
    got = chances(leads)
    assert set(got) == {lead.email for lead in leads}
    assert all(probability is not None and version == 1 for probability, version in got.values()), got
    assert got["good@example.com"][0] > got["poor@example.com"][0]
    assert LeadScore.objects.filter(probability__isnull=False).count() == 3  # closed leads: none
    html = page_as(marketer).get(f"/scoring/leads/{leads[0].pk}/").content.decode()
    assert f"{got['good@example.com'][0]} %" in html


def test_the_same_training_delivered_again_leaves_the_version_as_it_was(
    celery_worker_process, page_as, marketer
):
    make_leads(600)
    leads = open_leads()
    page_as(marketer).post("/scoring/predictive/train/")
    run = wait_until_active(PredictiveModel.objects.get())
    before = PredictiveModel.objects.values().get(pk=run.pk)

    train_predictive_model.delay(run.pk)  # delivered again, after it finished
    # A marker behind it in the same queue: the (solo) worker takes tasks one at a time, in
    # order, so once the marker is done, so is the training task before it.
    LeadScore.objects.filter(lead=leads[0]).update(probability=None, model_version=None)
    predict_leads.delay([leads[0].pk])
    deadline = time.monotonic() + DEADLINE
    while LeadScore.objects.get(lead=leads[0]).probability is None:
        assert time.monotonic() < deadline, f"the worker did not get to the tasks in {DEADLINE} s"
        time.sleep(0.2)

    assert PredictiveModel.objects.count() == 1
    assert list(PredictiveModel.objects.filter(status="active").values_list("pk", flat=True)) == [run.pk]
    after = PredictiveModel.objects.values().get(pk=run.pk)
    for field in ("status", "started_at", "finished_at", "activated_at", "auc", "scored_leads", "progress"):
        assert after[field] == before[field], field
    assert bytes(after["artefact"]) == bytes(before["artefact"])
    assert LeadScore.objects.get(lead=leads[0]).model_version == 1
