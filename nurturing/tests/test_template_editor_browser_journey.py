"""In a real browser: a marketer writes a template and watches the preview follow the typing,
sees a mistake beside its field, previews the e-mail for another lead, generates the plain
text and saves."""

import os

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.tests.factories import LeadFactory
from nurturing.models import EmailTemplate

SCREENSHOTS = os.environ.get("LEADAPP_SCREENSHOTS")  # a folder: keep pictures of the journey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_writes_a_template_with_a_live_preview(page, marketer):
    LeadFactory(first_name="Bob", email="bob@globex.example", industry="finance")
    LeadFactory(first_name="Ann", email="ann@acme.example", industry="software")

    log_in(page, "marketer")
    page.goto("/nurturing/templates/new/")
    page.get_by_label("Name").fill("Welcome")
    page.get_by_label("Subject").fill('Welcome, {{ first_name or "there" }}')
    page.get_by_label("HTML body").fill(
        '<p>Hi {{ first_name }},</p>{% if industry == "software" %}<p>How SaaS teams use us</p>{% endif %}'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    )

    # The preview follows, for the newest lead.
    preview = page.get_by_test_id("template-preview")
    expect(preview.get_by_test_id("preview-subject")).to_have_text("Welcome, Ann")
    body = page.frame_locator("[data-testid=preview-html]")
    expect(body.get_by_text("How SaaS teams use us")).to_be_visible()

    # A mistake shows beside its field and in the preview, not as an error page.
    page.get_by_label("Subject").fill("Welcome, {{ first_name.upper() }}")
    expect(page.locator("#live-error-subject")).to_contain_text("templates cannot call functions")
    expect(preview.get_by_test_id("preview-error-subject")).to_be_visible()
    page.get_by_label("Subject").fill('Welcome, {{ first_name or "there" }}')
    expect(preview.get_by_test_id("preview-subject")).to_have_text("Welcome, Ann")
    expect(page.locator("#live-error-subject")).to_be_empty()

    # Another lead: found by a search.
    page.get_by_placeholder("Name, e-mail or company").fill("globex")
    expect(preview.get_by_test_id("preview-subject")).to_have_text("Welcome, Bob")
    expect(body.get_by_text("Hi Bob,")).to_be_visible()
    expect(body.get_by_text("How SaaS teams use us")).to_have_count(0)

    page.get_by_test_id("generate-text").click()
    expect(page.get_by_label("Plain-text part")).to_have_value(
        'Hi {{ first_name }},\n\n{% if industry == "software" %}\n\nHow SaaS teams use us\n\n{% endif %}\n\n'
        "Unsubscribe ({{ unsubscribe_url }})\n"
    )
    expect(body.get_by_text("Hi Bob,")).to_be_visible()  # the preview reloaded with the text
    expect(preview.get_by_test_id("preview-text")).to_contain_text("Hi Bob,")
    if SCREENSHOTS:
        page.wait_for_timeout(500)  # the frame's own paint
        page.screenshot(path=f"{SCREENSHOTS}/template-editor.png", full_page=True)
        preview.screenshot(path=f"{SCREENSHOTS}/template-preview.png")

    page.get_by_test_id("save-template").click()
    expect(page.get_by_text("Template “Welcome” created.")).to_be_visible()
    saved = EmailTemplate.objects.get()
    assert saved.text_body.startswith("Hi {{ first_name }},")
    assert saved.created_by == marketer
