"""The predictive model's pages as their users meet them (/scoring/predictive/): who may look,
train and change the settings; "Train now" and its progress; the active version, its quality,
calibration and features; the settings reaching the next training; the refusal with too few
leads; the chance and its reasons in the lead page's score panel; CSRF on the forms."""

import re
import threading

import pytest
from django.db import connection
from django.test import Client

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from scoring import predictive
from scoring.models import LeadScore, PredictiveModel, PredictiveSettings
from scoring.tests.predictive_data import make_leads

pytestmark = pytest.mark.django_db

PAGE = "/scoring/predictive/"
TRAIN = "/scoring/predictive/train/"
SETTINGS = "/scoring/predictive/settings/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_model_from_an_earlier_test():
    """Every test numbers its versions from 1 again (its rows are rolled back), while the
    process keeps the active model's fitted estimator by version number: forget it."""
    predictive._cache.clear()
    yield
    predictive._cache.clear()


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def element(html: str, tag: str, testid: str) -> str:
    """The (first) ``<tag … data-testid="testid" …>…</tag>`` of the page (not nested in itself)."""
    match = re.search(rf'<{tag}\b[^>]*data-testid="{testid}"[^>]*>(.*?)</{tag}>', html, re.S)
    assert match, f'no <{tag} data-testid="{testid}"> on the page'
    return match.group(1)


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def flashes(html: str) -> list[str]:
    """The messages shown at the top of the page."""
    return [
        text(message) for message in re.findall(r'<p class="flash [^"]*" role="status">(.*?)</p>', html, re.S)
    ]


def open_lead(email: str = "open@example.com", plan: str = "pro", job_title: str = "Director") -> Lead:
    return LeadFactory(email=email, custom={"plan": plan, "home_country": "de"}, job_title=job_title)


def train_now(by=None) -> PredictiveModel:
    """What "Train now" and the worker do, here in the test."""
    return predictive.train(predictive.start_training(by=by).pk)


def chance(lead: Lead) -> int | None:
    return LeadScore.objects.filter(lead=lead).values_list("probability", flat=True).first()


# --- who may do what ---------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_log_in_and_a_user_without_a_role_is_refused(client, nobody):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/scoring/predictive/")

    client.force_login(nobody)
    assert client.get(PAGE).status_code == 403
    assert client.post(TRAIN).status_code == 403
    assert not PredictiveModel.objects.exists()


def test_an_sdr_reads_the_page_but_can_neither_train_nor_change_the_settings(page_as, sdr):
    client = page_as(sdr)

    html = html_of(client.get(PAGE))

    assert "No model is active" in element(html, "p", "no-model")
    assert "Train now" not in html and 'data-testid="train-model"' not in html
    assert 'data-testid="predictive-settings"' not in html
    assert "What the model may learn from" not in html

    assert client.post(TRAIN).status_code == 403
    assert not PredictiveModel.objects.exists()
    response = client.post(SETTINGS, {"excluded_attributes": [], "recycled_after_days": "30"})
    assert response.status_code == 403
    assert PredictiveSettings.load().recycled_after_days == 90


# --- "Train now" and its progress ----------------------------------------------------------------


def test_a_marketer_starts_a_training_and_sees_its_progress(
    page_as, marketer, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("scoring.tasks.train_predictive_model.delay", sent.append)
    client = page_as(marketer)
    assert 'data-testid="train-model"' in html_of(client.get(PAGE))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(TRAIN)

    assert response.status_code == 302 and response["Location"] == PAGE
    run = PredictiveModel.objects.get()
    assert (run.version, run.status, run.created_by) == (1, PredictiveModel.Status.QUEUED, marketer)
    assert not sent  # queued only once the request's transaction commits …
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [run.pk]  # … then sent to the worker with this run

    html = html_of(client.get(PAGE))
    assert flashes(html) == ["Training Predictive model v1 started. This page shows its progress."]
    training = element(html, "section", "training")
    assert "Training Predictive model v1" in text(training) and "Queued" in text(training)
    assert re.search(r'<progress value="0" max="100"', training)
    opening = re.search(r'<section id="predictive-training"[^>]*>', html).group(0)
    assert 'hx-get="/scoring/predictive/1/status/"' in opening
    assert 'hx-trigger="every 1s"' in opening
    assert re.search(r'data-testid="train-model"\s+disabled', html)  # no second click meanwhile


def test_a_second_train_now_while_one_is_queued_starts_no_other(
    page_as, marketer, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        page_as(marketer).post(TRAIN, follow=True)
        response = page_as(manager).post(TRAIN, follow=True)

    assert PredictiveModel.objects.count() == 1
    assert len(callbacks) == 1  # one task for one run
    assert flashes(html_of(response)) == ["Predictive model v1 is training already: its progress is below."]


def test_the_same_marketers_second_click_is_told_the_training_is_under_way(
    page_as, marketer, django_capture_on_commit_callbacks
):
    client = page_as(marketer)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(TRAIN, follow=True)
        response = client.post(TRAIN, follow=True)

    assert PredictiveModel.objects.count() == 1
    assert flashes(html_of(response)) == ["Predictive model v1 is training already: its progress is below."]


def test_the_progress_polls_while_queued_and_refreshes_the_page_once_finished(page_as, marketer):
    client = page_as(marketer)
    run = predictive.start_training(by=marketer)

    response = client.get("/scoring/predictive/1/status/", **HTMX)

    html = html_of(response)
    assert "HX-Refresh" not in response.headers
    assert 'hx-trigger="every 1s"' in html and 'hx-get="/scoring/predictive/1/status/"' in html
    assert "Queued" in html

    predictive.train(run.pk)  # no closed leads: refused, finished
    response = client.get("/scoring/predictive/1/status/", **HTMX)

    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert "hx-trigger" not in response.content.decode()
    assert "HX-Refresh" not in client.get("/scoring/predictive/1/status/").headers  # htmx only


def test_the_progress_keeps_showing_while_the_new_version_scores_the_open_leads(
    page_as, marketer, monkeypatch
):
    make_leads(600)
    open_lead()
    client = page_as(marketer)
    seen = {}
    score_all = predictive.score_all

    def looking_while_scoring(run):
        seen["status"] = client.get("/scoring/predictive/1/status/", **HTMX)
        seen["page"] = client.get(PAGE)
        return score_all(run)

    monkeypatch.setattr(predictive, "score_all", looking_while_scoring)
    train_now(by=marketer)

    assert "HX-Refresh" not in seen["status"].headers
    assert "Scoring the open leads" in html_of(seen["status"])
    assert "Scoring the open leads" in html_of(seen["page"])


# --- the active version, its quality and its versions ---------------------------------------------


def test_after_training_the_page_shows_the_active_version_its_quality_and_features(page_as, sdr, marketer):
    make_leads(600)
    run = train_now(by=marketer)
    assert run.status == PredictiveModel.Status.ACTIVE, run.message
    client = page_as(sdr)

    html = html_of(client.get(PAGE))

    assert 'data-testid="no-model"' not in html
    assert 'data-testid="training"' not in html  # nothing under way any more
    active = element(html, "section", "active-model")
    assert "Predictive model v1" in text(active)
    assert "on 480 closed leads" in text(active) and "checked on the newest 120" in text(active)
    auc = element(active, "dd", "model-auc")
    assert re.fullmatch(r"0\.\d{3}", auc), auc
    assert auc == f"{run.auc:.3f}"
    assert float(auc) == pytest.approx(run.auc, abs=0.0005)
    versions = element(html, "table", "model-versions")
    row = re.search(r'<tr data-version="1">(.*?)</tr>', versions, re.S).group(1)
    assert "Active" in text(row) and "600" in text(row) and auc in text(row)
    assert len(re.findall(r"<tr data-version=", versions)) == 1

    html = html_of(client.get("/scoring/predictive/1/"))

    calibration = element(html, "table", "calibration")
    bands = re.findall(r'<th scope="row">(\d+)–(\d+) %</th><td>([\d,]+)</td>', calibration)
    assert len(bands) == len(run.calibration) >= 2
    assert [(int(low), int(high)) for low, high, _ in bands] == [
        (band["low"], band["high"]) for band in run.calibration
    ]
    assert sum(int(leads.replace(",", "")) for _, _, leads in bands) == run.holdout_size == 120
    assert f"What it looks at ({len(run.features)})" in html
    features = re.search(r'<ul class="columns">(.*?)</ul>', html, re.S).group(1)
    listed = re.findall(r"<li>(.*?)</li>", features)
    assert listed == [feature["label"] for feature in run.features]
    assert {"Plan", "Job title"} <= set(listed)
    assert "Plan" in text(element(html, "ol", "importance"))


def test_only_a_manager_is_offered_to_activate_a_version_that_scored_worse(page_as, marketer, manager):
    make_leads(600)
    train_now(by=marketer)
    PredictiveSettings.objects.filter(pk=1).update(excluded_attributes=["plan"])  # the trait that decides
    worse = train_now(by=marketer)
    assert worse.status == PredictiveModel.Status.READY and worse.auc < worse.active_auc

    html = html_of(page_as(marketer).get(PAGE))
    row = re.search(r'<tr data-version="2">(.*?)</tr>', html, re.S).group(1)
    assert "Trained, not active" in text(row)
    assert f"Not activated: ROC AUC {worse.auc:.3f}" in text(row)
    assert 'data-testid="force-2"' not in row and 'data-testid="activate-2"' not in row

    client = page_as(manager)
    row = re.search(r'<tr data-version="2">(.*?)</tr>', html_of(client.get(PAGE)), re.S).group(1)
    assert re.search(r'data-testid="force-2"[^>]*>Activate anyway</button>', row)
    html = html_of(client.post("/scoring/predictive/2/activate/", follow=True))
    assert "Predictive model v2 is active" in " ".join(flashes(html))
    row = text(re.search(r'<tr data-version="2">(.*?)</tr>', html, re.S).group(1))
    assert "Active (forced)" in row
    assert "Activated by a manager although it scored worse" in text(element(html, "section", "active-model"))


# --- settings ----------------------------------------------------------------------------------------


def test_a_marketer_leaves_an_attribute_out_and_the_next_version_does_without_it(page_as, marketer):
    make_leads(600)
    client = page_as(marketer)
    form = element(html_of(client.get(PAGE)), "form", "predictive-settings")
    for name in ("plan", "home_country", "visits"):  # the custom attributes the leads carry
        assert f'value="{name}"' in form
    assert re.search(r'name="recycled_after_days" value="90"', form)

    response = client.post(
        SETTINGS, {"excluded_attributes": ["plan"], "recycled_after_days": "30"}, follow=True
    )

    assert "Saved. The next training uses these settings" in html_of(response)
    saved = PredictiveSettings.load()
    assert (saved.excluded_attributes, saved.recycled_after_days) == (["plan"], 30)
    form = element(html_of(client.get(PAGE)), "form", "predictive-settings")
    assert re.search(r'value="plan"[^>]*checked', form) and 'value="30"' in form

    run = train_now(by=marketer)

    assert run.excluded_attributes == ["plan"]
    assert "Plan" not in [feature["label"] for feature in run.features]
    html = html_of(client.get("/scoring/predictive/1/"))
    assert "Left out on purpose: plan." in html
    assert "<li>Plan</li>" not in html and "<li>Job title</li>" in html


def test_an_invalid_number_of_days_is_refused_and_changes_nothing(page_as, marketer):
    LeadFactory(custom={"plan": "pro"})
    client = page_as(marketer)
    client.post(SETTINGS, {"excluded_attributes": ["plan"], "recycled_after_days": "45"})

    response = client.post(SETTINGS, {"excluded_attributes": [], "recycled_after_days": "0"}, follow=True)

    html = html_of(response)
    assert "The settings were not saved" in html
    assert "Ensure this value is greater than or equal to 1." in html
    saved = PredictiveSettings.load()
    assert (saved.excluded_attributes, saved.recycled_after_days) == (["plan"], 45)


# --- too few leads -----------------------------------------------------------------------------------


def test_with_too_few_closed_leads_the_page_says_why_training_refused(page_as, marketer):
    make_leads(50)
    run = train_now(by=marketer)
    assert run.status == PredictiveModel.Status.REFUSED
    won = Lead.objects.filter(stage=Stage.CUSTOMER).count()

    html = html_of(page_as(marketer).get(PAGE))

    assert "No model is active" in html
    row = text(re.search(r'<tr data-version="1">(.*?)</tr>', html, re.S).group(1))
    assert "Refused" in row
    assert "Training needs at least 200 closed leads" in row
    assert f"there are 50 ({won} customers, {50 - won} not)" in row
    assert "Import your past leads with their outcomes" in row
    version = html_of(page_as(marketer).get("/scoring/predictive/1/"))
    assert f"there are 50 ({won} customers, {50 - won} not)" in version


# --- the lead page's score panel -----------------------------------------------------------------------


def test_the_score_panel_shows_the_chance_and_its_reasons_for_an_open_lead_only(page_as, sdr):
    closed = make_leads(600)[0]
    lead = open_lead()
    client = page_as(sdr)

    before = html_of(client.get(f"/scoring/leads/{lead.pk}/", **HTMX))
    assert 'data-testid="score-panel"' in before
    assert 'data-testid="prediction"' not in before and "chance of becoming a customer" not in before

    train_now()
    assert chance(lead) is not None

    html = html_of(client.get(f"/scoring/leads/{lead.pk}/", **HTMX))  # as the lead page loads it
    prediction = element(html, "section", "prediction")
    assert element(prediction, "strong", "prediction-chance") == f"{chance(lead)} %"
    assert "chance of becoming a customer" in text(prediction)
    assert "predictive model v1" in text(prediction)
    assert "Pushing it up" in prediction
    up = re.findall(r"<li>(.*?)</li>", element(prediction, "ul", "reasons-up"), re.S)
    assert up, "no reason pushing the chance up"
    assert any(text(reason).startswith("Plan: pro +") for reason in up), up

    html = html_of(client.get(f"/scoring/leads/{closed.pk}/", **HTMX))
    assert 'data-testid="score-panel"' in html
    assert 'data-testid="prediction"' not in html and "chance of becoming a customer" not in html


# --- CSRF ----------------------------------------------------------------------------------------------


def test_train_now_without_the_csrf_token_is_refused(marketer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)

    assert client.post(TRAIN).status_code == 403
    assert client.post(SETTINGS, {"recycled_after_days": "30"}).status_code == 403
    assert not PredictiveModel.objects.exists()
    assert PredictiveSettings.load().recycled_after_days == 90

    form = element(html_of(client.get(PAGE)), "form", "predictive-settings")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    assert client.post(TRAIN, {"csrfmiddlewaretoken": token}).status_code == 302  # the page's own form
    assert PredictiveModel.objects.count() == 1


# --- two clicks at once --------------------------------------------------------------------------------


def train_at_once(users, monkeypatch) -> list[int]:
    """Each user presses "Train now" in a thread of its own (its own database connection). The
    requests are made to meet inside ``start_training``, just before it looks for a training
    under way: the moment two near-simultaneous clicks share (without this meeting point the
    race shows in most rounds on PostgreSQL, but not every time). Returns the HTTP statuses."""
    monkeypatch.setattr("scoring.tasks.train_predictive_model.delay", lambda run_id: None)
    barrier = threading.Barrier(len(users))
    load = PredictiveSettings.load

    def meeting():
        result = load()
        barrier.wait(timeout=20)
        return result

    monkeypatch.setattr(PredictiveSettings, "load", staticmethod(meeting))
    answers, crashes = [], []

    def press(user):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        try:
            answers.append(client.post(TRAIN).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            crashes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request is stuck"
    assert not crashes, crashes
    return answers


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: concurrent connections")
@pytest.mark.django_db(transaction=True)
def test_two_clicks_on_train_now_at_the_same_moment_start_one_training(marketer, manager, monkeypatch):
    answers = train_at_once([marketer, manager], monkeypatch)

    assert PredictiveModel.objects.count() == 1
    assert sorted(answers) == [302, 302], answers  # both sent back to the page, one told it is under way
