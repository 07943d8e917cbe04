"""In a real browser: a marketer opens the predictive score's page, sees that no model is active,
clicks "Train now", watches the progress until the page refreshes itself with the active model
and its ROC AUC, then opens an open lead and reads its chance and what pushes it up. The run
leaves a screenshot of the lead's panel in ``artifacts/predictive.png`` (and in
LEADAPP_SCREENSHOTS if set)."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from conftest import log_in
from leads import services as lead_services
from scoring import predictive
from scoring.models import LeadScore, PredictiveModel
from scoring.tests.predictive_data import make_leads

SCREENSHOTS = os.environ.get("LEADAPP_SCREENSHOTS")  # a folder: keep pictures of the journey
ARTIFACT = Path(settings.BASE_DIR) / "artifacts" / "predictive.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_trains_the_model_and_reads_a_leads_chance(page, marketer, monkeypatch):
    queued = []
    # The live server has no worker: the test trains the queued version itself, as one would.
    monkeypatch.setattr("scoring.tasks.train_predictive_model.delay", queued.append)
    predictive._cache.clear()  # versions are numbered from 1 again after the flush
    make_leads(600)
    lead = lead_services.create_lead(  # as a user would: scored by the points at once
        email="dana@example.com",
        data={"first_name": "Dana", "last_name": "Example", "job_title": "Director"},
        custom={"plan": "pro", "home_country": "de"},
        by=marketer,
    )
    page.set_viewport_size({"width": 1280, "height": 900})

    log_in(page, "marketer")
    page.goto("/scoring/predictive/")
    expect(page.get_by_test_id("no-model")).to_contain_text("No model is active")
    expect(page.get_by_test_id("model-versions")).to_contain_text("No model trained yet.")

    page.get_by_test_id("train-model").click()
    training = page.get_by_test_id("training")
    expect(training).to_contain_text("Training Predictive model v1")
    expect(training.locator("progress")).to_be_visible()
    expect(page.get_by_test_id("train-model")).to_be_disabled()
    expect(page.get_by_text("Training Predictive model v1 started.")).to_be_visible()
    run = PredictiveModel.objects.get(status=PredictiveModel.Status.QUEUED)
    assert queued == [run.pk]  # sent once the request committed
    page.evaluate("window.beforeTraining = true")

    run = predictive.train(run.pk)  # as the worker would

    assert run.status == PredictiveModel.Status.ACTIVE, run.message
    # The page's poll notices the end and reloads the page itself: the user does nothing.
    expect(page.get_by_test_id("model-auc")).to_have_text(f"{run.auc:.3f}", timeout=15_000)
    assert page.evaluate("window.beforeTraining") is None  # a fresh page: htmx refreshed it
    expect(page.get_by_test_id("training")).to_have_count(0)
    expect(page.get_by_test_id("no-model")).to_have_count(0)
    expect(page.get_by_test_id("active-model")).to_contain_text("Predictive model v1")
    expect(page.locator('tr[data-version="1"]')).to_contain_text("Active")
    expect(page.get_by_test_id("train-model")).to_be_enabled()

    probability = LeadScore.objects.get(lead=lead).probability
    assert probability is not None
    page.goto(f"/leads/{lead.pk}/")
    panel = page.get_by_test_id("score-panel")  # loaded into the lead page by htmx
    expect(panel.get_by_test_id("prediction-chance")).to_have_text(f"{probability} %")
    expect(panel.get_by_test_id("prediction")).to_contain_text("chance of becoming a customer")
    expect(panel.get_by_role("heading", name="Pushing it up")).to_be_visible()
    reasons_up = panel.get_by_test_id("reasons-up").locator("li")
    expect(reasons_up.first).to_have_text(re.compile(r"^.+: .+ \+\d+(\.\d)?$"))
    expect(reasons_up.filter(has_text=re.compile(r"^Plan: pro \+"))).to_have_count(1)

    panel.get_by_test_id("prediction").scroll_into_view_if_needed()
    ARTIFACT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACT), full_page=True)
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/predictive.png", full_page=True)
    with ARTIFACT.open("rb") as picture:
        assert picture.read(8) == b"\x89PNG\r\n\x1a\n"
