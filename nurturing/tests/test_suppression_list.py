"""/nurturing/suppressions/: the addresses LeadApp never e-mails. Everyone with a nurturing
role sees it; only Marketing adds or removes addresses; it exports as a CSV that is safe
to open in a spreadsheet."""

import csv
import io
import re

import pytest

from leads.models import Lead
from nurturing import tracking
from nurturing.models import Enrollment, Suppression

from .sent import consenting_lead, enrollment_of, sent_message

pytestmark = pytest.mark.django_db


def listed(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<tr data-testid="suppression-row">\s*<td>([^<]*)</td>', response.content.decode())


def export(client, query: str = "") -> list[dict]:
    response = client.get(f"/nurturing/suppressions/export.csv{query}")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="suppressions-')
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in ["/nurturing/suppressions/", "/nurturing/suppressions/export.csv"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_sales_sees_the_list_but_cannot_change_it(page_as, sdr):
    kept = tracking.suppress("kept@example.com", Suppression.Reason.BOUNCED, "550 no such user")
    client = page_as(sdr)

    response = client.get("/nurturing/suppressions/")
    assert listed(response) == ["kept@example.com"]
    assert "Add an address by hand" not in response.content.decode()
    assert "Remove" not in response.content.decode()

    assert client.post("/nurturing/suppressions/", {"email": "x@example.com"}).status_code == 403
    assert client.post(f"/nurturing/suppressions/{kept.pk}/delete/").status_code == 403
    assert list(Suppression.objects.values_list("email", flat=True)) == ["kept@example.com"]


def test_marketing_adds_an_address_and_its_lead_leaves_the_campaigns(page_as, marketer):
    message = sent_message(consenting_lead(email="stop@example.com"))

    response = page_as(marketer).post(
        "/nurturing/suppressions/", {"email": " Stop@Example.com ", "detail": "Asked by phone"}, follow=True
    )

    assert listed(response) == ["stop@example.com"]
    assert "stop@example.com is on the suppression list" in response.content.decode()
    suppression = Suppression.objects.get()
    assert suppression.reason == Suppression.Reason.MANUAL
    assert "Asked by phone" in suppression.detail
    assert "marketer" in suppression.detail
    enrollment = enrollment_of(message)
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == Enrollment.ExitReason.UNSUBSCRIBED


def test_adding_an_address_twice_or_a_bad_one_says_why(page_as, marketer):
    tracking.suppress("dup@example.com", Suppression.Reason.BOUNCED)
    client = page_as(marketer)

    twice = client.post("/nurturing/suppressions/", {"email": "DUP@example.com"})
    bad = client.post("/nurturing/suppressions/", {"email": "not an address"})

    assert twice.status_code == 400
    assert "dup@example.com is on the list already (Bounced)" in twice.content.decode()
    assert bad.status_code == 400
    assert Suppression.objects.get().reason == Suppression.Reason.BOUNCED


def test_marketing_removes_an_address(page_as, marketer):
    lead = consenting_lead(email="back@example.com")
    suppression = tracking.suppress("back@example.com", Suppression.Reason.MANUAL)

    response = page_as(marketer).post(f"/nurturing/suppressions/{suppression.pk}/delete/", follow=True)

    assert listed(response) == []
    assert "back@example.com was removed from the suppression list" in response.content.decode()
    assert not Suppression.objects.exists()
    assert Lead.objects.get(pk=lead.pk).marketing_consent


def test_filter_by_reason_and_search(page_as, sdr):
    tracking.suppress("a@acme.example", Suppression.Reason.BOUNCED)
    tracking.suppress("b@acme.example", Suppression.Reason.COMPLAINED)
    tracking.suppress("c@other.example", Suppression.Reason.BOUNCED)
    client = page_as(sdr)

    assert listed(client.get("/nurturing/suppressions/?reason=bounced")) == [
        "c@other.example",
        "a@acme.example",
    ]
    assert listed(client.get("/nurturing/suppressions/?q=ACME")) == ["b@acme.example", "a@acme.example"]
    assert listed(client.get("/nurturing/suppressions/?q=acme&reason=complained")) == ["b@acme.example"]


def test_the_export_is_formula_safe(page_as, manager):
    tracking.suppress("f@example.com", Suppression.Reason.MANUAL, '=HYPERLINK("http://evil.example")')
    tracking.suppress("g@example.com", Suppression.Reason.BOUNCED, "550 no such user")

    rows = export(page_as(manager))

    assert list(rows[0]) == ["email", "reason", "detail", "created_at"]
    by_email = {row["email"]: row for row in rows}
    assert by_email["f@example.com"]["detail"] == '\'=HYPERLINK("http://evil.example")'
    assert by_email["f@example.com"]["reason"] == "manual"
    assert by_email["g@example.com"]["detail"] == "550 no such user"
    assert by_email["g@example.com"]["created_at"]


def test_the_export_follows_the_filters(page_as, marketer):
    tracking.suppress("a@example.com", Suppression.Reason.BOUNCED)
    tracking.suppress("b@example.com", Suppression.Reason.UNSUBSCRIBED)

    assert [row["email"] for row in export(page_as(marketer), "?reason=unsubscribed")] == ["b@example.com"]


def test_sales_may_not_export(page_as, sdr):
    assert page_as(sdr).get("/nurturing/suppressions/export.csv").status_code == 403
