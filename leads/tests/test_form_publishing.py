"""Draft, live, archived: only a live form has a public page and accepts submissions; a live
form shows its page link and the two snippets to paste on a site."""

import html as html_lib
import re

import pytest

from leads.models import CaptureForm, Lead, Submission
from leads.tests.capture import post_hosted, post_json
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def form():
    return CaptureFormFactory(
        slug="webinar",
        status=CaptureForm.Status.DRAFT,
        fields=[{"name": "company", "maps_to": "company_name"}],
    )


def public_answers(client, form) -> list[int]:
    return [
        client.get(f"/f/{form.slug}/").status_code,
        client.get(f"/f/{form.slug}/embed.json").status_code,
        post_hosted(client, form, {"email": "a@example.com"}).status_code,
        post_json(client, form, {"email": "a@example.com"}).status_code,
    ]


def test_a_draft_has_no_public_page(client, form):
    assert public_answers(client, form) == [404, 404, 404, 404]
    assert not Submission.objects.exists()


def test_publishing_opens_the_page_and_shows_the_link_and_snippets(page_as, marketer, client, form):
    builder = page_as(marketer)

    response = builder.post(f"/leads/forms/{form.pk}/status/", {"action": "publish"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="form-status">Live<' in html
    assert 'href="http://testserver/f/webinar/"' in html
    script = html_lib.unescape(re.search(r'data-testid="embed-script">(.*?)</textarea>', html, re.S).group(1))
    assert script == (
        '<div data-leadapp-form="webinar"></div>\n'
        '<script src="http://testserver/static/js/leadapp-form.js" async></script>'
    )
    snippet = html_lib.unescape(re.search(r'data-testid="embed-html">(.*?)</textarea>', html, re.S).group(1))
    assert 'action="http://testserver/f/webinar/"' in snippet
    assert 'name="company"' in snippet
    form.refresh_from_db()
    assert form.status == CaptureForm.Status.LIVE
    builder.logout()
    assert client.get("/f/webinar/").status_code == 200


def test_the_plain_html_snippet_submits_without_javascript(page_as, marketer, client, form):
    form.status = CaptureForm.Status.LIVE
    form.save()
    builder_page = page_as(marketer).get(f"/leads/forms/{form.pk}/").content.decode()
    snippet = html_lib.unescape(
        re.search(r'data-testid="embed-html">(.*?)</textarea>', builder_page, re.S).group(1)
    )
    # What a browser posts from the pasted snippet: every input with its value, fields filled in.
    posted = dict(re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', snippet))
    posted.update({"email": "nojs@example.com", "company": "Static Ltd", "la_hp": ""})
    client.logout()

    response = client.post(
        "/f/webinar/", posted, HTTP_REFERER="https://customer.example/landing?utm_source=partner"
    )

    assert response.status_code == 303
    assert response["Location"] == "/f/webinar/thanks/"
    lead = Lead.objects.get(email="nojs@example.com")
    assert lead.company_name == "Static Ltd"
    assert lead.utm_source == "partner"
    assert Submission.objects.get().page_url == "https://customer.example/landing?utm_source=partner"


def test_unpublishing_makes_it_a_draft_again(page_as, marketer, client):
    form = CaptureFormFactory(slug="live-one")

    response = page_as(marketer).post(f"/leads/forms/{form.pk}/status/", {"action": "unpublish"})

    assert response.status_code == 302
    form.refresh_from_db()
    assert form.status == CaptureForm.Status.DRAFT
    client.logout()
    assert public_answers(client, form) == [404, 404, 404, 404]


def test_an_archived_form_has_no_public_page_and_can_be_restored(page_as, marketer, client):
    form = CaptureFormFactory(slug="old-offer")
    builder = page_as(marketer)

    response = builder.post(f"/leads/forms/{form.pk}/status/", {"action": "archive"}, **HTMX)

    assert 'data-testid="form-status">Archived<' in response.content.decode()
    assert "Restore as draft" in response.content.decode()
    form.refresh_from_db()
    assert form.status == CaptureForm.Status.ARCHIVED
    builder.logout()
    assert public_answers(client, form) == [404, 404, 404, 404]
    assert not Submission.objects.exists()


def test_a_draft_shows_no_snippets(page_as, marketer, form):
    html = page_as(marketer).get(f"/leads/forms/{form.pk}/").content.decode()

    assert 'data-testid="embed-script"' not in html
    assert "Only live forms accept submissions" in html


def test_a_form_without_its_email_field_cannot_go_live(page_as, marketer, form):
    form.fields.filter(name="email").delete()  # e.g. through the Django admin

    response = page_as(marketer).post(f"/leads/forms/{form.pk}/status/", {"action": "publish"}, **HTMX)

    assert response.status_code == 400
    assert "needs its e-mail field" in response.content.decode()
    form.refresh_from_db()
    assert form.status == CaptureForm.Status.DRAFT
