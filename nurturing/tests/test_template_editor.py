"""Marketers write e-mail templates: list, create, edit, copy, delete (unless a campaign sends
the template)."""

import pytest

from nurturing.models import EmailTemplate, Step
from nurturing.tests.factories import campaign, send, template

pytestmark = pytest.mark.django_db

FIELDS = {
    "name": "Welcome",
    "subject": 'Welcome, {{ first_name or "there" }}',
    "preheader": "Your first steps",
    "html_body": (
        '<p>Hi {{ first_name or "there" }},</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    ),
    "text_body": "",
}


def test_the_list_shows_the_templates_and_how_many_campaigns_send_them(page_as, marketer):
    used, unused = template(name="Welcome"), template(name="Follow-up")
    campaign(name="Onboarding", steps=[send(used)])

    response = page_as(marketer).get("/nurturing/templates/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/nurturing/templates/{used.pk}/">Welcome</a>' in html
    assert f'href="/nurturing/templates/{unused.pk}/">Follow-up</a>' in html
    assert "not used" in html
    assert 'href="/nurturing/templates/new/"' in html


def test_the_new_template_page_starts_with_an_example_body(page_as, marketer):
    response = page_as(marketer).get("/nurturing/templates/new/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Hi {{ first_name or &quot;there&quot; }}," in html  # in the textarea
    assert 'data-testid="template-preview"' in html
    assert 'data-testid="merge-fields"' in html


def test_a_marketer_creates_a_template(page_as, marketer):
    response = page_as(marketer).post("/nurturing/templates/new/", FIELDS)

    created = EmailTemplate.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/nurturing/templates/{created.pk}/"
    assert (created.name, created.subject, created.preheader, created.created_by) == (
        "Welcome",
        'Welcome, {{ first_name or "there" }}',
        "Your first steps",
        marketer,
    )
    assert created.html_body == FIELDS["html_body"]


def test_a_template_without_a_subject_is_refused_beside_the_field(page_as, marketer):
    response = page_as(marketer).post("/nurturing/templates/new/", {**FIELDS, "subject": ""})

    assert response.status_code == 400
    assert 'id="id_subject_error"' in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_a_marketer_edits_a_template(page_as, marketer):
    existing = template(name="Welcome")
    client = page_as(marketer)

    response = client.post(f"/nurturing/templates/{existing.pk}/", {**FIELDS, "name": "Welcome v2"})

    assert response.status_code == 302
    existing.refresh_from_db()
    assert existing.name == "Welcome v2"
    page = client.get(response["Location"]).content.decode()
    assert "Template saved." in page
    assert 'data-testid="template-name">Welcome v2</h1>' in page


def test_an_edit_with_an_unknown_merge_field_changes_nothing(page_as, marketer):
    existing = template(name="Welcome", subject="Hello")

    response = page_as(marketer).post(
        f"/nurturing/templates/{existing.pk}/",
        {**FIELDS, "name": "Renamed", "subject": "Hi {{ frist_name }}"},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Unknown merge field: frist_name" in html
    assert 'data-testid="template-name">Welcome</h1>' in html  # the heading keeps the saved name
    existing.refresh_from_db()
    assert (existing.name, existing.subject) == ("Welcome", "Hello")


def test_duplicating_makes_an_independent_copy(page_as, marketer):
    original = template(name="Welcome", preheader="Hi", text_body="Hello {{ first_name }}")

    response = page_as(marketer).post(f"/nurturing/templates/{original.pk}/duplicate/")

    copy = EmailTemplate.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/nurturing/templates/{copy.pk}/"
    assert copy.name == "Copy of Welcome"
    assert (copy.subject, copy.preheader, copy.html_body, copy.text_body) == (
        original.subject,
        original.preheader,
        original.html_body,
        original.text_body,
    )
    assert copy.created_by == marketer


def test_deleting_an_unused_template(page_as, marketer):
    unused = template(name="Old")
    client = page_as(marketer)

    response = client.post(f"/nurturing/templates/{unused.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == "/nurturing/templates/"
    assert not EmailTemplate.objects.exists()
    assert "Template “Old” deleted." in client.get("/nurturing/templates/").content.decode()


def test_a_template_a_campaign_sends_is_not_deleted_and_the_page_says_why(page_as, marketer):
    used = template(name="Welcome")
    campaign(name="Onboarding", steps=[send(used)])
    client = page_as(marketer)

    response = client.post(f"/nurturing/templates/{used.pk}/delete/", follow=True)

    assert EmailTemplate.objects.filter(pk=used.pk).exists()
    assert response.redirect_chain == [(f"/nurturing/templates/{used.pk}/", 302)]
    assert (
        "“Welcome” cannot be deleted: the campaign “Onboarding” sends it. "
        "Take it out of their e-mail steps first." in response.content.decode()
    )


def test_a_step_removed_from_a_live_campaign_still_keeps_its_template(page_as, marketer):
    used = template(name="Welcome")
    made = campaign(name="Onboarding", steps=[send(used)])
    Step.objects.filter(campaign=made).update(removed=True)

    response = page_as(marketer).post(f"/nurturing/templates/{used.pk}/delete/", follow=True)

    assert EmailTemplate.objects.filter(pk=used.pk).exists()
    assert "a step removed from a running campaign keeps its e-mail" in response.content.decode()


def test_every_form_of_the_editor_carries_a_csrf_token(page_as, marketer):
    existing = template()

    html = page_as(marketer).get(f"/nurturing/templates/{existing.pk}/").content.decode()

    # save, duplicate, delete (and log out)
    assert html.count('name="csrfmiddlewaretoken"') == html.count('method="post"') == 4
    assert "X-CSRFToken" in html  # htmx requests send it as a header (base.html)
