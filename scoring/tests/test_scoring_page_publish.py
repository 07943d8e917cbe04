"""Publishing the draft makes it the published version (the next version number), archives
the one it replaces, and starts the rescore whose progress the overview shows. An archived
version can be restored, as it was."""

import pytest

from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import RuleSet, ScoringJob
from scoring.tests.scoring_page import HTMX, settings_data, start_draft

pytestmark = pytest.mark.django_db


def test_publishing_the_draft_replaces_the_published_version(page_as, marketer):
    LeadFactory.create_batch(3)
    client = page_as(marketer)
    starter = services.published_rule_set()
    draft = start_draft(client)
    client.post("/scoring/draft/settings/", settings_data(draft, name="Spring scoring", mql_threshold=90))

    response = client.post("/scoring/draft/publish/")

    assert response.status_code == 302
    assert response["Location"] == "/scoring/"
    draft.refresh_from_db()
    starter.refresh_from_db()
    assert (draft.status, draft.version, draft.published_by) == (RuleSet.Status.PUBLISHED, 2, marketer)
    assert starter.status == RuleSet.Status.ARCHIVED
    job = ScoringJob.objects.get(kind=ScoringJob.Kind.RESCORE)
    assert job.rule_set == draft
    html = client.get("/scoring/").content.decode()
    assert "Spring scoring v2 is published. Every lead is being rescored with it." in html
    assert '<p data-testid="published-version"><strong>Spring scoring v2</strong>' in html
    assert "a new lead becomes MQL at 90 points" in html
    assert f'hx-get="/scoring/jobs/{job.pk}/"' in html  # the rescore's progress, polling
    assert "0 of 3 leads (0 %)" in html
    assert f'action="/scoring/versions/{starter.pk}/restore/"' in html
    assert 'action="/scoring/draft/"' in html  # no draft any more: "Edit draft" starts one


def test_an_archived_version_is_restored_as_it_was(page_as, marketer):
    client = page_as(marketer)
    starter = services.published_rule_set()
    draft = start_draft(client)
    client.post("/scoring/draft/settings/", settings_data(draft, name="Spring scoring", mql_threshold=90))
    client.post("/scoring/draft/publish/")

    response = client.post(f"/scoring/versions/{starter.pk}/restore/")

    assert response.status_code == 302
    assert response["Location"] == "/scoring/"
    starter.refresh_from_db()
    draft.refresh_from_db()
    assert (starter.status, starter.version, starter.mql_threshold) == (RuleSet.Status.PUBLISHED, 1, 75)
    assert draft.status == RuleSet.Status.ARCHIVED
    assert ScoringJob.objects.filter(kind=ScoringJob.Kind.RESCORE, rule_set=starter).exists()
    html = client.get("/scoring/").content.decode()
    assert "Starter scoring v1 is published again." in html
    assert '<p data-testid="published-version"><strong>Starter scoring v1</strong>' in html
    assert f'action="/scoring/versions/{draft.pk}/restore/"' in html
    assert f'action="/scoring/versions/{starter.pk}/restore/"' not in html


def test_only_an_archived_version_can_be_restored(page_as, marketer):
    client = page_as(marketer)
    starter = services.published_rule_set()
    draft = start_draft(client)

    assert client.post(f"/scoring/versions/{starter.pk}/restore/").status_code == 404
    assert client.post(f"/scoring/versions/{draft.pk}/restore/").status_code == 404
    assert not ScoringJob.objects.exists()


def test_with_htmx_publishing_asks_the_browser_to_go_to_the_overview(page_as, marketer):
    client = page_as(marketer)
    start_draft(client)

    response = client.post("/scoring/draft/publish/", **HTMX)

    assert response["HX-Redirect"] == "/scoring/"
    assert services.published_rule_set().version == 2


def test_publish_and_restore_only_take_a_post(page_as, marketer):
    client = page_as(marketer)
    starter = services.published_rule_set()
    start_draft(client)

    assert client.get("/scoring/draft/publish/").status_code == 405
    assert client.get(f"/scoring/versions/{starter.pk}/restore/").status_code == 405
    assert services.published_rule_set() == starter
