"""The editor's live preview: the unsaved template rendered for a chosen lead (the newest by
default), with template mistakes shown in the preview, never as an error page; and the plain
text generated from the HTML body."""

import html
import re

import pytest

from leads.tests.factories import LeadFactory
from nurturing.models import EmailTemplate
from nurturing.tests.factories import template

pytestmark = pytest.mark.django_db

UNSAVED = {
    "name": "Draft",
    "subject": 'Hi {{ first_name or "there" }}',
    "preheader": "For {{ company_name }}",
    "html_body": '<p>Hello {{ first_name }}</p>{% if industry == "software" %}<p>SaaS tips</p>{% endif %}',
    "text_body": "",
}


def preview(client, **data):
    return client.post("/nurturing/templates/preview/", {**UNSAVED, **data}, HTTP_HX_REQUEST="true")


def shown(page: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def frame(page: str) -> str:
    """The e-mail's HTML as the sandboxed frame shows it."""
    return html.unescape(re.search(r'<iframe sandbox srcdoc="([^"]*)"', page).group(1))


def test_the_preview_renders_the_unsaved_template_for_the_chosen_lead(page_as, marketer):
    ann = LeadFactory(first_name="Ann", company_name="Acme", industry="software")
    LeadFactory(first_name="Bob")

    page = preview(page_as(marketer), preview_lead=ann.pk).content.decode()

    assert shown(page, "preview-lead-name") == f"Ann {ann.last_name} · {ann.email}"
    assert shown(page, "preview-subject") == "Hi Ann"
    assert shown(page, "preview-preheader") == "For Acme"
    assert "<p>Hello Ann</p><p>SaaS tips</p>" in frame(page)
    assert shown(page, "preview-text") == "Hello Ann\n\nSaaS tips\n"
    assert "<iframe sandbox srcdoc=" in page  # no scripts, no forms, no same-origin access


def test_without_a_choice_the_preview_is_for_the_newest_lead(page_as, marketer):
    LeadFactory(first_name="Old")
    LeadFactory(first_name="", industry="finance")

    page = preview(page_as(marketer)).content.decode()

    assert shown(page, "preview-subject") == "Hi there"
    assert "SaaS tips" not in frame(page)


def test_the_editor_page_shows_the_preview_for_the_newest_lead(page_as, marketer):
    saved = template(html_body="<p>Dear {{ first_name }}</p>")
    LeadFactory(first_name="Old")
    newest = LeadFactory(first_name="Zoe")

    page = page_as(marketer).get(f"/nurturing/templates/{saved.pk}/").content.decode()

    assert "<p>Dear Zoe</p>" in frame(page)
    assert f'<option value="{newest.pk}" selected>' in page


def test_a_lead_with_markup_in_their_name_is_escaped_in_the_preview(page_as, marketer):
    lead = LeadFactory(first_name="<script>alert(1)</script>")

    page = preview(page_as(marketer), preview_lead=lead.pk).content.decode()

    assert "<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;</p>" in frame(page)
    assert "<script>" not in frame(page)


def test_a_template_mistake_is_shown_in_the_preview_beside_its_field(page_as, marketer):
    LeadFactory()

    response = preview(page_as(marketer), html_body="<p>{{ first_name.upper() }}</p>", live_errors="1")

    page = response.content.decode()
    assert response.status_code == 200
    assert '<a href="#id_html_body">HTML body</a>: Line 1: templates cannot call functions' in page
    # …and beside the field in the editor (an out-of-band swap)
    assert re.search(r'id="live-error-html_body" [^>]*hx-swap-oob="true">Line 1: templates cannot call', page)
    assert re.search(r'id="live-error-subject" [^>]*hx-swap-oob="true"></small>', page)


def test_a_syntax_error_is_shown_in_the_preview_not_as_an_error_page(page_as, marketer):
    response = preview(page_as(marketer), subject="Hi {{ first_name ", html_body="<p>{% if %}</p>")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="preview-error-subject"' in page
    assert 'data-testid="preview-error-html_body"' in page


def test_an_error_only_a_lead_triggers_is_shown_for_that_lead(page_as, marketer):
    lead = LeadFactory(custom={"seats": 0})

    response = preview(page_as(marketer), preview_lead=lead.pk, html_body="<p>{{ 100 / custom.seats }}</p>")

    assert response.status_code == 200
    assert "division by zero" in response.content.decode()


def test_the_preview_is_a_sample_lead_when_there_are_no_leads(page_as, marketer):
    page = preview(page_as(marketer)).content.decode()

    assert "a sample lead" in page
    assert shown(page, "preview-subject") == "Hi Alex"


def test_searching_leads_for_the_preview(page_as, marketer):
    LeadFactory(first_name="Ann", email="ann@acme.example")
    bob = LeadFactory(first_name="Bob", email="bob@globex.example")

    response = page_as(marketer).get(
        "/nurturing/templates/preview/leads/", {"q": "globex"}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert f'<option value="{bob.pk}" selected>' in page
    assert "ann@acme.example" not in page
    assert response["HX-Trigger-After-Settle"] == "template-preview-refresh"


def test_generating_the_plain_text_from_the_html_keeps_the_merge_tags(page_as, marketer):
    response = page_as(marketer).post(
        "/nurturing/templates/plain-text/",
        {
            "html_body": '<h1>Hi {{ first_name or "there" }}</h1><p>{% if score < 50 %}Warm up{% endif %}</p>'
            '<ul><li>One</li></ul><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        },
        HTTP_HX_REQUEST="true",
    )

    page = response.content.decode()
    textarea = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1))
    assert textarea.strip() == (
        'Hi {{ first_name or "there" }}\n\n{% if score < 50 %}Warm up{% endif %}\n\n- One\n\n'
        "Unsubscribe ({{ unsubscribe_url }})"
    )
    assert "Filled from the HTML body" in page
    assert response["HX-Trigger-After-Settle"] == "template-preview-refresh"  # the preview follows
    assert not EmailTemplate.objects.exists()


def test_a_body_without_an_unsubscribe_link_is_flagged(page_as, marketer):
    page = preview(page_as(marketer), html_body="<p>Hi</p>").content.decode()

    assert "an unsubscribe footer is added when it is sent" in page
