"""The form's settings in the builder, and the live preview that renders the form exactly as
its hosted page does."""

import re

import pytest

from leads.models import CaptureForm
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def form():
    return CaptureFormFactory(
        name="Guide",
        slug="guide",
        status=CaptureForm.Status.DRAFT,
        fields=[
            {"name": "company", "label": "Company", "maps_to": "company_name", "placeholder": "Acme"},
            {
                "name": "plan",
                "label": "Plan",
                "kind": "select",
                "options": ["Starter", "Pro"],
                "required": True,
            },
            {"name": "campaign", "kind": "hidden", "default_value": "spring"},
        ],
    )


def settings_post(form: CaptureForm, **changes) -> dict:
    data = {
        "name": form.name,
        "slug": form.slug,
        "title": form.title,
        "intro": form.intro,
        "submit_label": form.submit_label,
        "success_message": form.success_message,
        "redirect_url": form.redirect_url,
        "consent_text": form.consent_text,
        "default_source": form.default_source,
    }
    if form.consent_enabled:
        data["consent_enabled"] = "on"
    data.update(changes)
    return data


def error_beside(html: str, name: str) -> str:
    match = re.search(rf'<small class="error" id="id_{name}-error" role="alert">(.*?)</small>', html, re.S)
    assert match, f"no error beside {name}"
    return match.group(1)


def the_form_markup(html: str) -> str:
    """The capture form's fields as rendered, without what differs by design between the page
    and the preview (the token, where it posts, the disabled button)."""
    start = html.index('<div class="la-form"')
    markup = html[start : html.index("</form>", start)]
    markup = re.sub(r'name="la_token" value="[^"]*"', "", markup)
    markup = re.sub(r'name="(la_page_url|la_referrer|la_vid|utm_\w+)" value="[^"]*"', "", markup)
    markup = re.sub(r'action="[^"]*"', "", markup)
    return re.sub(r"<button.*?</button>", "", markup, flags=re.S)


def test_saving_the_settings(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/",
        settings_post(
            form,
            title="Get the 2025 pricing guide",
            intro="Two pages, no fluff.",
            submit_label="Send me the guide",
            success_message="Check your inbox!",
            consent_enabled="on",
            consent_text="Send me the newsletter.",
            default_source="paid_social",
        ),
        **HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "capture-form-changed"
    assert "Settings saved." in response.content.decode()
    form.refresh_from_db()
    assert (form.title, form.intro, form.submit_label, form.success_message) == (
        "Get the 2025 pricing guide",
        "Two pages, no fluff.",
        "Send me the guide",
        "Check your inbox!",
    )
    assert (form.consent_enabled, form.consent_text, form.default_source) == (
        True,
        "Send me the newsletter.",
        "paid_social",
    )


def test_a_redirect_url_is_saved(page_as, marketer, form):
    page_as(marketer).post(
        f"/leads/forms/{form.pk}/", settings_post(form, redirect_url="https://example.com/thanks")
    )

    form.refresh_from_db()
    assert form.redirect_url == "https://example.com/thanks"


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "not a web address", "ftp://example.com/file"])
def test_a_bad_redirect_url_is_refused_beside_the_field_and_nothing_saved(page_as, marketer, form, bad):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/", settings_post(form, redirect_url=bad, title="Changed"), **HTMX
    )

    assert response.status_code == 400
    assert "valid URL" in error_beside(response.content.decode(), "redirect_url")
    form.refresh_from_db()
    assert (form.redirect_url, form.title) == ("", "Get the guide")


def test_without_htmx_a_bad_setting_shows_the_whole_page_with_the_error(page_as, marketer, form):
    response = page_as(marketer).post(f"/leads/forms/{form.pk}/", settings_post(form, redirect_url="nope"))

    assert response.status_code == 400
    html = response.content.decode()
    assert error_beside(html, "redirect_url")
    assert 'data-testid="field-list"' in html


def test_consent_needs_its_words(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/", settings_post(form, consent_enabled="on", consent_text="  "), **HTMX
    )

    assert response.status_code == 400
    assert error_beside(response.content.decode(), "consent_text")
    form.refresh_from_db()
    assert form.consent_enabled is False


def test_the_preview_renders_the_same_form_as_the_hosted_page(page_as, marketer, client, form):
    form.consent_enabled = True
    form.status = CaptureForm.Status.LIVE
    form.save()

    preview = page_as(marketer).get(f"/leads/forms/{form.pk}/preview/").content.decode()
    client.logout()
    hosted = client.get("/f/guide/").content.decode()

    assert the_form_markup(preview) == the_form_markup(hosted)
    assert 'id="la-guide-company"' in preview
    assert 'placeholder="Acme"' in preview
    assert '<option value="Pro">Pro</option>' in preview
    assert form.consent_text in preview


def test_the_preview_cannot_be_submitted(page_as, marketer, form):
    preview = page_as(marketer).get(f"/leads/forms/{form.pk}/preview/").content.decode()

    assert re.search(r'<button type="submit" disabled[^>]*>Submit</button>', preview)


def test_the_live_preview_shows_unsaved_settings_without_saving_them(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/preview/",
        settings_post(
            form, title="A brand new title", consent_enabled="on", consent_text="Yes, news please."
        ),
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "A brand new title" in html
    assert "Yes, news please." in html
    form.refresh_from_db()
    assert (form.title, form.consent_enabled) == ("Get the guide", False)


def test_the_builder_page_refreshes_the_preview_after_changes(page_as, marketer, form):
    html = page_as(marketer).get(f"/leads/forms/{form.pk}/").content.decode()

    preview = html[html.index('id="form-preview"') :].split(">")[0]
    assert f'hx-get="/leads/forms/{form.pk}/preview/"' in preview
    assert 'hx-trigger="capture-form-changed from:body"' in preview


def test_a_rename_updates_the_page_title_too(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/", settings_post(form, name="Renamed guide"), **HTMX
    )

    assert '<h1 id="form-name" data-testid="form-name" hx-swap-oob="true">Renamed guide</h1>' in (
        response.content.decode()
    )
