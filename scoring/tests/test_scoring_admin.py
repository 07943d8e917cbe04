"""The Django admin edits the draft only: a published or archived version is how scores were
made, so it is shown read-only there (publishing a draft is how rules change)."""

import pytest

from scoring import services
from scoring.models import FitGroup, RuleSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_a_published_version_is_shown_read_only_and_refuses_changes(admin_client):
    published = services.published_rule_set()
    group = published.fit_groups.first()

    page = admin_client.get(f"/admin/scoring/ruleset/{published.pk}/change/")
    group_page = admin_client.get(f"/admin/scoring/fitgroup/{group.pk}/change/")
    post = admin_client.post(
        f"/admin/scoring/ruleset/{published.pk}/change/", {"name": "Changed behind the back"}
    )

    assert page.status_code == group_page.status_code == 200
    assert "View rule set" in page.content.decode()
    assert "View fit group" in group_page.content.decode()
    assert post.status_code == 403
    assert RuleSet.objects.get(pk=published.pk).name == published.name


def test_the_draft_is_editable_in_the_admin(admin_client):
    draft = services.start_draft()
    group = draft.fit_groups.first()

    page = admin_client.get(f"/admin/scoring/ruleset/{draft.pk}/change/")
    group_page = admin_client.get(f"/admin/scoring/fitgroup/{group.pk}/change/")

    assert "Change rule set" in page.content.decode()
    assert "Change fit group" in group_page.content.decode()


def test_a_published_versions_group_cannot_be_deleted(admin_client):
    group = services.published_rule_set().fit_groups.first()

    response = admin_client.post(f"/admin/scoring/fitgroup/{group.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert FitGroup.objects.filter(pk=group.pk).exists()
