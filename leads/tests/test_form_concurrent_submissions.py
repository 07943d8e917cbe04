"""Fifty people (or one impatient one) submitting the same e-mail at the same moment: one lead,
fifty stored submissions, fifty activities. Real threads and connections on PostgreSQL, through
the real view and service."""

import threading

import pytest
from django.db import connection
from django.test import Client, override_settings

from conftest import requires_postgres
from leads.models import Activity, ActivityKind, Lead, StageChange, Submission
from leads.tests.capture import post_json
from leads.tests.factories import CaptureFormFactory

THREADS = 50


@requires_postgres
@pytest.mark.django_db(transaction=True)
@override_settings(LEADAPP_FORM_RATE="1000/m")
def test_fifty_concurrent_submissions_of_one_email_make_one_lead():
    form = CaptureFormFactory(
        slug="rush", consent_enabled=True, fields=[{"name": "company", "maps_to": "company_name"}]
    )
    barrier = threading.Barrier(THREADS)
    statuses, errors = [], []

    def submit(n: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=30)
            response = post_json(
                client,
                form,
                {"email": "Rush@Example.com", "company": f"Company {n}", "consent": True, "seq": n},
            )
            statuses.append(response.status_code)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert statuses == [200] * THREADS
    lead = Lead.objects.get()
    assert lead.email == "rush@example.com"
    assert Submission.objects.count() == THREADS
    assert Submission.objects.filter(lead=lead, processed_at__isnull=False, error="").count() == THREADS
    assert Activity.objects.filter(lead=lead, kind=ActivityKind.FORM_SUBMITTED).count() == THREADS
    assert StageChange.objects.filter(lead=lead).count() == 1
    assert lead.marketing_consent is True
    assert lead.consents.count() == THREADS
