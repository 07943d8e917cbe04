"""Who may write e-mail templates: Marketing does; Sales and Managers read them (and see the
saved template previewed for a lead they choose, but cannot have any other text rendered); a
user without a role sees nothing; anonymous visitors are sent to log in."""

import pytest

from leads.tests.factories import LeadFactory
from nurturing.models import EmailTemplate
from nurturing.tests.factories import template

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept():
    return template(name="Kept", subject="Hello")


def writes(kept) -> list[tuple[str, dict]]:
    fields = {"name": "Changed", "subject": "Changed", "html_body": "<p>x</p>"}
    return [
        ("/nurturing/templates/new/", fields),
        (f"/nurturing/templates/{kept.pk}/", fields),
        (f"/nurturing/templates/{kept.pk}/duplicate/", {}),
        (f"/nurturing/templates/{kept.pk}/delete/", {}),
    ]


def assert_unchanged(kept):
    assert EmailTemplate.objects.count() == 1
    kept.refresh_from_db()
    assert (kept.name, kept.subject) == ("Kept", "Hello")


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_read_templates_without_the_editor(page_as, request, role, kept):
    client = page_as(request.getfixturevalue(role))

    listing = client.get("/nurturing/templates/").content.decode()
    page = client.get(f"/nurturing/templates/{kept.pk}/").content.decode()

    assert "Kept" in listing
    assert 'href="/nurturing/templates/new/"' not in listing
    assert ">Duplicate<" not in listing
    assert 'data-testid="read-only"' in page
    assert 'data-testid="template-form" ' not in page
    assert 'data-testid="template-preview"' in page
    assert 'data-testid="delete-template"' not in page
    assert 'data-testid="duplicate-template"' not in page


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_get_403_on_every_write(page_as, request, role, kept):
    client = page_as(request.getfixturevalue(role))

    for url, data in writes(kept):
        assert client.post(url, data).status_code == 403, url
    assert client.get("/nurturing/templates/new/").status_code == 403
    assert_unchanged(kept)


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_cannot_have_posted_text_rendered(page_as, request, role, kept):
    client = page_as(request.getfixturevalue(role))

    preview = client.post("/nurturing/templates/preview/", {"subject": "Hi", "html_body": "<p>x</p>"})
    plain_text = client.post("/nurturing/templates/plain-text/", {"html_body": "<p>x</p>"})

    assert preview.status_code == 403
    assert plain_text.status_code == 403
    page = client.get(f"/nurturing/templates/{kept.pk}/").content.decode()
    assert 'hx-post="/nurturing/templates/preview/"' not in page  # the read-only page does not ask for it


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_preview_the_saved_template_for_another_lead(page_as, request, role):
    saved = template(subject="Hi {{ first_name }}", html_body="<p>Dear {{ first_name }}</p>")
    ann = LeadFactory(first_name="Ann")
    LeadFactory(first_name="Zoe")  # the newest: the page's preview is for her
    client = page_as(request.getfixturevalue(role))

    page = client.get(f"/nurturing/templates/{saved.pk}/").content.decode()
    response = client.get(
        f"/nurturing/templates/{saved.pk}/",
        {"preview": "1", "preview_lead": ann.pk, "subject": "posted {{ email }}"},
        HTTP_HX_REQUEST="true",
    )

    assert "Dear Zoe" in page
    assert f'hx-get="/nurturing/templates/{saved.pk}/"' in page
    partial = response.content.decode()
    assert response.status_code == 200
    assert partial.lstrip().startswith('<section id="template-preview"')
    assert "Dear Ann" in partial
    assert "Hi Ann" in partial
    assert "posted" not in partial  # only what is saved is rendered


def test_a_marketer_may_preview_posted_text(page_as, marketer):
    response = page_as(marketer).post(
        "/nurturing/templates/preview/", {"subject": "Hi", "html_body": "<p>x</p>"}
    )

    assert response.status_code == 200


def test_a_user_without_a_role_sees_no_template(page_as, nobody, kept):
    client = page_as(nobody)

    assert client.get("/nurturing/templates/").status_code == 403
    assert client.get(f"/nurturing/templates/{kept.pk}/").status_code == 403
    assert client.post("/nurturing/templates/preview/", {"subject": "Hi"}).status_code == 403
    for url, data in writes(kept):
        assert client.post(url, data).status_code == 403, url
    assert_unchanged(kept)


def test_anonymous_visitors_are_sent_to_log_in(client, kept):
    urls = [
        "/nurturing/templates/",
        f"/nurturing/templates/{kept.pk}/",
        "/nurturing/templates/preview/leads/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    for url, data in [
        *writes(kept),
        ("/nurturing/templates/preview/", {}),
        ("/nurturing/templates/plain-text/", {}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url
    assert_unchanged(kept)


def test_a_marketer_sees_the_editor(page_as, marketer, kept):
    page = page_as(marketer).get(f"/nurturing/templates/{kept.pk}/").content.decode()

    assert 'data-testid="template-form"' in page
    assert 'data-testid="delete-template"' in page
    assert 'data-testid="duplicate-template"' in page
    assert 'data-testid="read-only"' not in page
