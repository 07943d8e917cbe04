"""Who may do what on the scoring page: Sales and Managers look at the rules, the grid and
the versions; only Marketing and Admin edit, preview, publish and restore. Anonymous
visitors are sent to log in."""

import pytest
from django.urls import resolve

from scoring import services
from scoring import urls as scoring_urls
from scoring.models import RuleSet, ScoringJob
from scoring.tests.factories import rule_set
from scoring.tests.scoring_page import engagement_data, fit_rule_data, settings_data, snapshot

pytestmark = pytest.mark.django_db

EDIT_CONTROLS = ['data-testid="edit-draft"', ">Restore<", ">Publish<", ">Edit<", "Add group"]
GET_ONLY = {"draft-group-edit", "draft-fit-rule-edit", "draft-engagement-edit"}


@pytest.fixture
def versions():
    """The published starter rule set, an archived version and a draft copied from the starter."""
    archived = rule_set(status=RuleSet.Status.ARCHIVED, name="Old scoring")
    RuleSet.objects.filter(pk=archived.pk).update(version=0)
    draft = services.start_draft()
    return services.published_rule_set(), archived, draft


def writes(draft, archived) -> list[tuple[str, dict]]:
    group = draft.fit_groups.first()
    rule = group.rules.first()
    engagement = draft.engagement_rules.first()
    return [
        ("/scoring/draft/", {}),
        ("/scoring/draft/settings/", settings_data(draft, name="Sneaky")),
        ("/scoring/draft/preview/", {}),
        ("/scoring/draft/publish/", {}),
        ("/scoring/draft/discard/", {}),
        ("/scoring/draft/groups/", {"new-group-name": "Sneaky"}),
        (f"/scoring/draft/groups/{group.pk}/", {f"group-{group.pk}-name": "Sneaky"}),
        (f"/scoring/draft/groups/{group.pk}/delete/", {}),
        (f"/scoring/draft/groups/{group.pk}/rules/", fit_rule_data(prefix=f"new-rule-{group.pk}")),
        (f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, points=99)),
        (f"/scoring/draft/fit-rules/{rule.pk}/delete/", {}),
        ("/scoring/draft/engagement-rules/", engagement_data(prefix="new-engagement")),
        (f"/scoring/draft/engagement-rules/{engagement.pk}/", engagement_data(engagement, points=99)),
        (f"/scoring/draft/engagement-rules/{engagement.pk}/delete/", {}),
        (f"/scoring/versions/{archived.pk}/restore/", {}),
    ]


def editor_pages(draft) -> list[str]:
    group = draft.fit_groups.first()
    return [
        "/scoring/draft/",
        "/scoring/draft/preview/",
        f"/scoring/draft/groups/{group.pk}/edit/",
        f"/scoring/draft/fit-rules/{group.rules.first().pk}/edit/",
        f"/scoring/draft/engagement-rules/{draft.engagement_rules.first().pk}/edit/",
    ]


def test_the_list_of_writes_covers_every_write_of_the_scoring_page(versions):
    _, archived, draft = versions
    covered = {resolve(url).url_name for url, _ in writes(draft, archived)}
    expected = {
        pattern.name
        for pattern in scoring_urls.urlpatterns
        if pattern.name.startswith("draft") or pattern.name.endswith("restore")
    }
    assert covered == expected - GET_ONLY


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_see_the_scoring_page_without_edit_controls(page_as, request, role, versions):
    published, archived, draft = versions
    client = page_as(request.getfixturevalue(role))

    overview = client.get("/scoring/")
    archived_page = client.get(f"/scoring/versions/{archived.pk}/")
    draft_page = client.get(f"/scoring/versions/{draft.pk}/")

    assert overview.status_code == 200
    html = overview.content.decode()
    assert "Starter scoring v1" in html
    assert "Demo requested" in html
    assert 'data-testid="grade-grid"' in html
    assert f'href="/scoring/versions/{archived.pk}/"' in html
    assert f'href="/scoring/versions/{draft.pk}/"' in html
    for page in (overview, archived_page, draft_page):
        assert page.status_code == 200
        for control in EDIT_CONTROLS:
            assert control not in page.content.decode(), control
    assert "Old scoring" in archived_page.content.decode()


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_get_403_on_every_write_and_on_the_editor(page_as, request, role, versions):
    _, archived, draft = versions
    client = page_as(request.getfixturevalue(role))
    before = snapshot()

    for url, data in writes(draft, archived):
        assert client.post(url, data).status_code == 403, url
    for url in editor_pages(draft):
        assert client.get(url).status_code == 403, url
    assert snapshot() == before
    assert not ScoringJob.objects.exists()


def test_a_user_without_a_role_sees_no_scoring_page(page_as, nobody, versions):
    client = page_as(nobody)

    assert client.get("/scoring/").status_code == 403
    assert client.get(f"/scoring/versions/{versions[0].pk}/").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in_and_change_nothing(client, versions):
    published, archived, draft = versions
    before = snapshot()

    for url in ["/scoring/", f"/scoring/versions/{published.pk}/", *editor_pages(draft)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/login/?next={url}"
    for url, data in writes(draft, archived):
        response = client.post(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")
    assert snapshot() == before


@pytest.mark.parametrize("role", ["marketer", "admin_user"])
def test_marketing_and_admin_see_the_edit_controls(page_as, request, role, versions):
    _, archived, _ = versions
    client = page_as(request.getfixturevalue(role))

    html = client.get("/scoring/").content.decode()
    editor = client.get("/scoring/draft/")

    assert 'href="/scoring/draft/"' in html and 'data-testid="edit-draft"' in html
    assert f'action="/scoring/versions/{archived.pk}/restore/"' in html
    assert editor.status_code == 200
    assert ">Publish<" in editor.content.decode()


def test_the_nav_shows_scoring_to_those_who_may_see_it(page_as, sdr, nobody):
    assert 'data-testid="nav-scoring"' in page_as(sdr).get("/").content.decode()
    assert 'data-testid="nav-scoring"' not in page_as(nobody).get("/").content.decode()
