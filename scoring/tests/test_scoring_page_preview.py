"""The preview on the draft page: run it, and once its job is done the page shows, per grade,
the leads, converted, lost and conversion rate of the draft beside the published version,
the ROC AUC of each, and how many leads would become or stop being MQL. A change to the draft
makes the preview out of date."""

import pytest

from leads.models import Stage
from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import FitRule, ScoringJob
from scoring.tests.factories import fit_group, fit_rule, published_rule_set
from scoring.tests.scoring_page import HTMX, cell, fit_rule_data, start_draft

pytestmark = pytest.mark.django_db

LEADS = [
    ("Director of IT", Stage.CUSTOMER),
    ("Sales Director", Stage.CUSTOMER),
    ("Director", Stage.LOST),
    ("Student", Stage.DISQUALIFIED),
    ("VP Marketing", Stage.NEW),
]


@pytest.fixture
def scored_leads():
    """Five leads, all scored 0 (grade D) by a published rule that matches none of them."""
    published_rule_set(fit=[fit_group("Title", [fit_rule("job_title", "contains", "ceo", 10)])])
    leads = [LeadFactory(job_title=title, stage=stage) for title, stage in LEADS]
    services.rescore_leads([lead.pk for lead in leads], reason="Test setup")
    return leads


def test_the_preview_shows_the_draft_beside_the_published_version(page_as, marketer, scored_leads):
    client = page_as(marketer)
    draft = start_draft(client)
    rule = FitRule.objects.get(group__rule_set=draft)
    # The draft gives directors 50 points (grade A from 40) and VPs 80 (A, and MQL from 70).
    edited = fit_rule_data(rule, value="director", points=50)
    client.post(f"/scoring/draft/fit-rules/{rule.pk}/", edited, **HTMX)
    added = fit_rule_data(prefix=f"new-rule-{rule.group_id}", value="vp", points=80)
    client.post(f"/scoring/draft/groups/{rule.group_id}/rules/", added, **HTMX)

    started = client.post("/scoring/draft/preview/", **HTMX)
    job = ScoringJob.objects.get(kind=ScoringJob.Kind.PREVIEW)
    assert started.status_code == 200
    assert started.content.decode().lstrip().startswith('<section id="draft-preview"')
    assert f'hx-get="/scoring/jobs/{job.pk}/"' in started.content.decode()
    services.run_job(job.pk)
    html = client.get("/scoring/draft/").content.decode()

    # By hand: the draft grades the 3 directors (2 customers, 1 lost) and the VP (open) A,
    # the student (disqualified = lost) D; the published version grades all 5 D.
    expected = {
        "draft-A": ("4", "2", "1", "66.7 %"),
        "draft-B": ("0", "0", "0", "—"),
        "draft-C": ("0", "0", "0", "—"),
        "draft-D": ("1", "0", "1", "0 %"),
        "published-A": ("0", "0", "0", "—"),
        "published-D": ("5", "2", "2", "50 %"),
    }
    for prefix, (leads, won, lost, rate) in expected.items():
        shown = tuple(cell(html, f"{prefix}-{column}") for column in ("leads", "won", "lost", "rate"))
        assert shown == (leads, won, lost, rate), prefix
    # Converted score 50, 50; lost 50, 0: of the 4 pairs, 2 won and 2 tied -> (2 + 2 * 0.5) / 4.
    assert cell(html, "draft-auc") == "0.750"
    assert cell(html, "published-auc") == "0.500"  # every lead scores 0: all ties
    assert "1 lead would newly become MQL, 0 would stop being MQL." in html  # the VP
    assert "Run the preview again" in html


def test_a_change_to_the_draft_makes_the_preview_out_of_date(page_as, marketer, scored_leads):
    client = page_as(marketer)
    draft = start_draft(client)
    client.post("/scoring/draft/preview/", **HTMX)
    services.run_job(ScoringJob.objects.get(kind=ScoringJob.Kind.PREVIEW).pk)
    assert 'data-testid="preview-results"' in client.get("/scoring/draft/preview/", **HTMX).content.decode()
    rule = FitRule.objects.get(group__rule_set=draft)

    changed = client.post(f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, points=11), **HTMX)
    section = client.get("/scoring/draft/preview/", **HTMX).content.decode()  # on scoring-draft-changed

    assert changed["HX-Trigger"] == "scoring-draft-changed"
    assert 'hx-trigger="scoring-draft-changed from:body"' in section
    assert 'data-testid="preview-stale"' in section
    assert "out of date" in section
    assert 'data-testid="preview-results"' not in section
    assert "Run the preview again" in section

    client.post("/scoring/draft/preview/", **HTMX)
    services.run_job(ScoringJob.objects.filter(kind=ScoringJob.Kind.PREVIEW).latest("id").pk)
    html = client.get("/scoring/draft/").content.decode()
    assert "out of date" not in html
    assert 'data-testid="preview-results"' in html


def test_a_running_preview_shows_its_progress_without_results(page_as, marketer, scored_leads):
    client = page_as(marketer)
    start_draft(client)

    html = client.post("/scoring/draft/preview/", **HTMX).content.decode()

    assert "<progress" in html
    assert "0 of 5 leads (0 %)" in html
    assert 'data-testid="preview-results"' not in html


def test_the_preview_is_queued_once_the_transaction_commits(
    page_as, marketer, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("scoring.tasks.run_scoring_job.delay", sent.append)
    client = page_as(marketer)
    draft = start_draft(client)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/scoring/draft/preview/")

    job = ScoringJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/scoring/draft/#draft-preview"
    assert (job.kind, job.rule_set, job.created_by) == (ScoringJob.Kind.PREVIEW, draft, marketer)
    assert sent == [job.pk]
