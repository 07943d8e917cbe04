"""Who may do what on the campaign pages: Sales and Managers look, Marketing changes, the
public is sent to the login page."""

import pytest

from leads.models import Lead, SavedSegment
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Campaign, Enrollment, Step

from .factories import campaign, send, steps_of, template

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    made = campaign(name="Running", steps=[send(template(name="Hello")), send(template(name="Again"))])
    lead = LeadFactory()
    services.enroll(made, Lead.objects.filter(pk=lead.pk))
    return made, steps_of(made)[0], lead, Enrollment.objects.get()


def pages(made: Campaign, step: Step, lead: Lead) -> list[str]:
    return [
        "/nurturing/",
        f"/nurturing/campaigns/{made.pk}/",
        f"/nurturing/campaigns/{made.pk}/steps/",
        f"/nurturing/campaigns/{made.pk}/report/",
        f"/nurturing/campaigns/{made.pk}/report.csv",
        f"/nurturing/leads/{lead.pk}/campaigns/",
    ]


def changes(made: Campaign, step: Step, lead: Lead, enrollment: Enrollment) -> list[tuple[str, str, dict]]:
    base = f"/nurturing/campaigns/{made.pk}"
    return [
        ("get", "/nurturing/campaigns/new/", {}),
        ("post", "/nurturing/campaigns/new/", {"name": "Mine"}),
        ("post", f"{base}/settings/", {"settings-name": "Renamed", "settings-trigger": "manual"}),
        ("post", f"{base}/status/", {"action": "pause"}),
        ("post", f"{base}/status/", {"action": "archive"}),
        ("get", f"{base}/steps/fields/", {"new-step-kind": "wait"}),
        ("post", f"{base}/steps/add/", {"new-step-kind": "end"}),
        ("get", f"{base}/steps/{step.pk}/edit/", {}),
        ("post", f"{base}/steps/{step.pk}/edit/", {f"step-{step.pk}-template": step.template_id}),
        ("post", f"{base}/steps/{step.pk}/move/", {"direction": "down"}),
        ("post", f"{base}/steps/{step.pk}/delete/", {}),
        ("post", f"{base}/enrollments/", {"enroll-lead": lead.email}),
        ("post", f"{base}/enrollments/{enrollment.pk}/remove/", {}),
        ("post", f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": made.pk}),
        ("get", "/nurturing/enroll/", {"query": ""}),
        ("post", "/nurturing/enroll/", {"query": "", "campaign": made.pk}),
        ("post", "/leads/segments/", {"name": "Mine", "query": "stage=mql"}),
    ]


def unchanged(made: Campaign, step: Step, enrollment: Enrollment) -> None:
    made.refresh_from_db()
    assert (made.name, made.status) == ("Running", Campaign.Status.ACTIVE)
    assert list(made.steps.filter(removed=False)) == [step, steps_of(made)[1]]
    assert list(Enrollment.objects.all()) == [enrollment]
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert Campaign.objects.count() == 1
    assert not SavedSegment.objects.exists()


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_see_every_campaign_page(request, page_as, role, world):
    made, step, lead, _ = world
    client = page_as(request.getfixturevalue(role))

    for url in pages(made, step, lead):
        assert client.get(url, follow=True).status_code == 200, url


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_may_change_nothing(request, page_as, role, world):
    made, step, lead, enrollment = world
    client = page_as(request.getfixturevalue(role))

    for method, url, data in changes(made, step, lead, enrollment):
        assert getattr(client, method)(url, data).status_code == 403, (method, url)
    unchanged(made, step, enrollment)


def test_sales_see_no_buttons_that_change_the_campaign(page_as, sdr, world):
    made, *_ = world

    html = page_as(sdr).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    for marker in (
        'data-testid="pause"',
        'data-testid="archive"',
        "add-step-form",
        "settings-form",
        "enroll-form",
    ):
        assert marker not in html
    assert "Move step" not in html and "Remove step" not in html
    assert f"/enrollments/{world[3].pk}/remove/" not in html


def test_marketers_see_the_buttons(page_as, marketer, world):
    made, *_ = world

    html = page_as(marketer).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    for marker in (
        'data-testid="pause"',
        'data-testid="archive"',
        "add-step-form",
        "settings-form",
        "enroll-form",
    ):
        assert marker in html


def test_a_user_without_a_role_sees_no_campaign(page_as, nobody, world):
    made, step, lead, _ = world
    client = page_as(nobody)

    for url in pages(made, step, lead):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    made, step, lead, enrollment = world

    for url in pages(made, step, lead):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    for method, url, data in changes(made, step, lead, enrollment):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), (method, url)
    unchanged(made, step, enrollment)
