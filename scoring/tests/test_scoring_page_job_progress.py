"""A rescore or preview job shows a progress bar that polls itself (htmx, every second)
while the job runs and stops polling once it is done. The overview shows the latest rescore
while it runs and for an hour after it finished."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import ScoringJob
from scoring.tests.scoring_page import HTMX

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    # Two leads the starter rules score (a CEO), two they leave at zero: all four are new scores.
    LeadFactory.create_batch(2, job_title="CEO")
    LeadFactory.create_batch(2, job_title="")
    return services.start_job(ScoringJob.Kind.RESCORE, services.published_rule_set(), reason="Test")


def test_a_queued_job_polls_its_progress(page_as, sdr, job):
    response = page_as(sdr).get(f"/scoring/jobs/{job.pk}/", **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'hx-get="/scoring/jobs/{job.pk}/"' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'hx-swap="outerHTML"' in html
    assert '<progress value="0" max="4"' in html
    assert "Queued" in html and "0 of 4 leads (0 %)" in html
    assert "HX-Trigger" not in response


def test_a_running_job_shows_how_far_it_got(page_as, sdr, job):
    ScoringJob.objects.filter(pk=job.pk).update(status=ScoringJob.Status.RUNNING, done=1)

    html = page_as(sdr).get(f"/scoring/jobs/{job.pk}/", **HTMX).content.decode()

    assert 'hx-trigger="every 1s"' in html
    assert '<progress value="1" max="4"' in html
    assert "Running" in html and "1 of 4 leads (25 %)" in html


def test_a_finished_job_stops_polling_and_the_grid_reloads(page_as, sdr, job):
    services.run_job(job.pk)

    response = page_as(sdr).get(f"/scoring/jobs/{job.pk}/", **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith(f'<div id="scoring-job-{job.pk}"')
    assert "hx-trigger" not in html
    assert "hx-get" not in html
    assert '<progress value="4" max="4"' in html
    assert "Done" in html and "4 of 4 leads (100 %)" in html
    assert "4 leads changed score" in html  # two moved, two scored for the first time
    assert response["HX-Trigger"] == "scoring-job-finished"


def test_a_failed_job_says_why_and_stops_polling(page_as, sdr, job):
    ScoringJob.objects.filter(pk=job.pk).update(
        status=ScoringJob.Status.FAILED, error="OperationalError: gone", finished_at=timezone.now()
    )

    html = page_as(sdr).get(f"/scoring/jobs/{job.pk}/", **HTMX).content.decode()

    assert "hx-trigger" not in html
    assert "It stopped: OperationalError: gone" in html


def test_the_overview_shows_the_rescore_until_an_hour_after_it_finished(page_as, sdr, job):
    client = page_as(sdr)

    running = client.get("/scoring/").content.decode()
    services.run_job(job.pk)
    finished = client.get("/scoring/").content.decode()
    ScoringJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(minutes=61))
    old = client.get("/scoring/").content.decode()

    assert 'hx-trigger="every 1s"' in running
    assert 'hx-trigger="scoring-job-finished from:body"' in running  # the grid reloads when it ends
    assert f'id="scoring-job-{job.pk}"' in finished
    assert 'hx-trigger="every 1s"' not in finished
    assert f'id="scoring-job-{job.pk}"' not in old
    assert "Rescoring" not in old
