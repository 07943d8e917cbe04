"""Marketing consent from a form: recorded with the exact words shown and when; an unticked
box never takes back a consent given earlier."""

import pytest

from leads.models import Consent, Lead, Submission
from leads.tests.capture import post_hosted, post_json
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db
WORDS = "Yes, send me LeadApp news by e-mail. I can unsubscribe at any time."


@pytest.fixture
def form():
    form = CaptureFormFactory(name="Newsletter", slug="news", consent_enabled=True, consent_text=WORDS)
    return form


def test_the_consent_box_shows_the_forms_words(client, form):
    html = client.get("/f/news/").content.decode()

    assert 'name="consent"' in html
    assert WORDS in html


def test_a_ticked_box_records_the_consent_with_its_words_and_time(client, form):
    response = post_hosted(client, form, {"email": "ada@example.com", "consent": "on"})

    assert response.status_code == 303
    lead = Lead.objects.get()
    submission = Submission.objects.get()
    [consent] = Consent.objects.filter(lead=lead)
    assert (consent.given, consent.text, consent.submission) == (True, WORDS, submission)
    assert consent.method == "Form: Newsletter"
    assert consent.recorded_at is not None
    assert lead.marketing_consent is True
    assert lead.consent_at == submission.submitted_at
    assert lead.consent_method == "Form: Newsletter"


def test_the_words_recorded_are_those_of_the_time_of_the_submission(client, form):
    post_json(client, form, {"email": "ada@example.com", "consent": True})
    form.consent_text = "Other words, later."
    form.save()

    assert Consent.objects.get().text == WORDS


def test_an_unticked_box_records_no_consent(client, form):
    post_hosted(client, form, {"email": "ada@example.com"})

    lead = Lead.objects.get()
    assert lead.marketing_consent is False
    assert lead.consent_at is None
    assert not Consent.objects.exists()


def test_an_unticked_box_never_revokes_an_earlier_consent(client, form):
    post_hosted(client, form, {"email": "ada@example.com", "consent": "on"})
    given_at = Lead.objects.get().consent_at

    post_hosted(client, form, {"email": "ada@example.com"})

    lead = Lead.objects.get()
    assert (lead.marketing_consent, lead.consent_at) == (True, given_at)
    assert Consent.objects.count() == 1


def test_a_consent_posted_to_a_form_that_does_not_ask_is_ignored(client):
    form = CaptureFormFactory(slug="no-consent", consent_enabled=False)

    post_hosted(client, form, {"email": "ada@example.com", "consent": "on"})

    assert Lead.objects.get().marketing_consent is False
    assert not Consent.objects.exists()
