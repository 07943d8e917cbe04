"""A CRM pushes stage changes and outcomes back through the API, retry-safe with an
Idempotency-Key header: the same key again is answered the same, and nothing happens twice."""

import threading

import pytest
from django.db import connection

from conftest import requires_postgres
from leads.models import Lead, LostReason, Stage
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def post(client, lead, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/leads/{lead.pk}/stage/", body, format="json", **headers)


def test_a_stage_change_sent_twice_with_one_key_happens_once(api_as, sdr):
    client = api_as(sdr)
    lead = LeadFactory(stage=Stage.MQL)

    first = post(client, lead, {"stage": "sal"}, key="crm-123")
    again = post(client, lead, {"stage": "sal"}, key="crm-123")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL
    assert lead.stage_changes.filter(to_stage=Stage.SAL).count() == 1


def test_without_a_key_the_retry_is_refused_by_the_lifecycle(api_as, sdr):
    client = api_as(sdr)
    lead = LeadFactory(stage=Stage.MQL)
    assert post(client, lead, {"stage": "sal"}).status_code == 200
    retry = post(client, lead, {"stage": "sal"})
    assert retry.status_code == 400
    assert "already" in retry.json()["error"]["fields"]["stage"][0]


def test_the_same_key_for_another_request_is_refused(api_as, sdr):
    client = api_as(sdr)
    lead = LeadFactory(stage=Stage.MQL)
    post(client, lead, {"stage": "sal"}, key="k1")
    response = post(client, lead, {"stage": "disqualified", "reason": "Spam"}, key="k1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL


def test_won_and_lost_outcomes(api_as, sdr):
    from datetime import date
    from decimal import Decimal

    from leads import conversion

    client = api_as(sdr)
    won, lost = LeadFactory(stage=Stage.SQL), LeadFactory(stage=Stage.SQL)
    for lead in (won, lost):
        conversion.open_opportunity(lead, by=sdr, amount="5000", expected_close_date=date(2027, 1, 31))

    response = post(client, won, {"outcome": "won", "value": "4800.00", "won_date": "2026-12-01"}, key="w1")
    assert response.status_code == 200 and response.json()["stage"] == Stage.CUSTOMER
    assert Lead.objects.get(pk=won.pk).opportunity.won_value == Decimal("4800.00")

    reason = LostReason.objects.filter(active=True).first()
    response = post(client, lost, {"outcome": "lost", "lost_reason": reason.name.upper()}, key="l1")
    assert response.status_code == 200 and response.json()["stage"] == Stage.LOST
    unknown = post(client, LeadFactory(stage=Stage.OPPORTUNITY), {"outcome": "lost", "lost_reason": "Moon"})
    assert unknown.status_code == 400 and "lost_reason" in unknown.json()["error"]["fields"]


def test_a_manager_cannot_push_stage_changes(api_as, manager):
    lead = LeadFactory(stage=Stage.MQL)
    assert post(api_as(manager), lead, {"stage": "sal"}, key="m1").status_code == 403
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_a_patch_with_a_key_is_replayed(api_as, sdr):
    client = api_as(sdr)
    lead = LeadFactory(stage=Stage.MQL, job_title="CTO")
    for _ in range(2):
        response = client.patch(
            f"/api/leads/{lead.pk}/", {"stage": "sal"}, format="json", HTTP_IDEMPOTENCY_KEY="p1"
        )
        assert response.status_code == 200
    assert lead.stage_changes.filter(to_stage=Stage.SAL).count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_twice_at_once_moves_the_lead_once(api_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)
    answers = []

    def send():
        try:
            answers.append(post(api_as(sdr), lead, {"stage": "sal"}, key="race").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    assert Lead.objects.get(pk=lead.pk).stage_changes.filter(to_stage=Stage.SAL).count() == 1
