"""The editor changes only the draft: the rules of the published version, of an archived
one, or of a draft that has been published since, cannot be changed through its endpoints."""

import pytest

from scoring import services
from scoring.models import RuleSet
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, rule_set
from scoring.tests.scoring_page import HTMX, engagement_data, fit_rule_data, snapshot, start_draft

pytestmark = pytest.mark.django_db


def edits(version: RuleSet) -> list[tuple[str, dict]]:
    group = version.fit_groups.first()
    rule = group.rules.first()
    engagement = version.engagement_rules.first()
    return [
        (f"/scoring/draft/groups/{group.pk}/", {f"group-{group.pk}-name": "Hacked"}),
        (f"/scoring/draft/groups/{group.pk}/delete/", {}),
        (f"/scoring/draft/groups/{group.pk}/rules/", fit_rule_data(prefix=f"new-rule-{group.pk}")),
        (f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, points=99)),
        (f"/scoring/draft/fit-rules/{rule.pk}/delete/", {}),
        (f"/scoring/draft/engagement-rules/{engagement.pk}/", engagement_data(engagement, points=99)),
        (f"/scoring/draft/engagement-rules/{engagement.pk}/delete/", {}),
    ]


def forms(version: RuleSet) -> list[str]:
    group = version.fit_groups.first()
    return [
        f"/scoring/draft/groups/{group.pk}/edit/",
        f"/scoring/draft/fit-rules/{group.rules.first().pk}/edit/",
        f"/scoring/draft/engagement-rules/{version.engagement_rules.first().pk}/edit/",
    ]


def test_the_published_rules_cannot_be_edited_through_the_draft_endpoints(page_as, marketer):
    client = page_as(marketer)
    start_draft(client)  # there is a draft: the endpoints are live
    published = services.published_rule_set()
    before = snapshot()

    for url, data in edits(published):
        assert client.post(url, data, **HTMX).status_code == 404, url
        assert client.post(url, data).status_code == 404, url
    for url in forms(published):
        assert client.get(url, **HTMX).status_code == 404, url
    assert snapshot() == before


def test_an_archived_version_cannot_be_edited(page_as, marketer):
    archived = rule_set(
        status=RuleSet.Status.ARCHIVED,
        fit=[fit_group("Title", [fit_rule("job_title", "contains", "director", 20)])],
        engagement=[engagement_rule("Demo", "demo_requested", 40)],
    )
    client = page_as(marketer)
    before = snapshot()

    for url, data in edits(archived):
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert snapshot() == before


def test_once_published_the_former_draft_cannot_be_edited_any_more(page_as, marketer):
    client = page_as(marketer)
    draft = start_draft(client)
    client.post("/scoring/draft/publish/")
    draft.refresh_from_db()
    assert draft.status == RuleSet.Status.PUBLISHED
    before = snapshot()

    for url, data in edits(draft):
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert client.post("/scoring/draft/settings/", {"settings-name": "Hacked"}).status_code == 404
    assert snapshot() == before
