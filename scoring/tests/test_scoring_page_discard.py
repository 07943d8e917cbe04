"""Discarding the draft throws its changes away; the published version stays as it was and
"Edit draft" starts afresh from it."""

import pytest

from scoring import services
from scoring.models import FitRule, RuleSet
from scoring.tests.scoring_page import HTMX, fit_rule_data, start_draft

pytestmark = pytest.mark.django_db


def test_discarding_the_draft_drops_its_changes(page_as, marketer):
    client = page_as(marketer)
    draft = start_draft(client)
    rule = FitRule.objects.get(group__rule_set=draft, value="manager")
    client.post(f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, points=45), **HTMX)

    response = client.post("/scoring/draft/discard/")

    assert response.status_code == 302
    assert response["Location"] == "/scoring/"
    assert not RuleSet.objects.filter(status=RuleSet.Status.DRAFT).exists()
    assert not FitRule.objects.filter(pk=rule.pk).exists()
    overview = client.get("/scoring/").content.decode()
    assert "The draft is discarded." in overview
    assert '<form method="post" action="/scoring/draft/"' in overview  # "Edit draft" starts a new one
    assert client.get("/scoring/draft/").status_code == 302
    published = services.published_rule_set()
    assert published.version == 1
    assert FitRule.objects.get(group__rule_set=published, value="manager").points == 10

    fresh = start_draft(client)
    assert fresh.pk != draft.pk
    assert FitRule.objects.get(group__rule_set=fresh, value="manager").points == 10


def test_with_htmx_discarding_asks_the_browser_to_go_to_the_overview(page_as, marketer):
    client = page_as(marketer)
    start_draft(client)

    response = client.post("/scoring/draft/discard/", **HTMX)

    assert response["HX-Redirect"] == "/scoring/"
    assert not RuleSet.objects.filter(status=RuleSet.Status.DRAFT).exists()
    assert client.post("/scoring/draft/discard/").status_code == 404  # nothing left to discard
