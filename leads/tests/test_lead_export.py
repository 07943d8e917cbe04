"""GET /leads/export.csv: the lead list as CSV, with its filters, safe to open in a spreadsheet."""

import csv
import io

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from leads.tests.importing import import_csv

pytestmark = pytest.mark.django_db


def export(client, query: str = "") -> list[dict]:
    response = client.get(f"/leads/export.csv{query}")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # so that Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"], ids=repr)
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_prefixed_with_a_quote(page_as, manager, start):
    LeadFactory(email="f@example.com", first_name=f"{start}cmd|' /C calc'!A0", company_name="Safe Co")

    [row] = export(page_as(manager))

    assert row["first_name"] == f"'{start}cmd|' /C calc'!A0"
    assert row["company_name"] == "Safe Co"


def test_custom_attributes_and_owner_are_exported(page_as, manager, sdr):
    LeadFactory(email="c@example.com", custom={"plan": "=1+1"}, owner=sdr, country="DE")

    [row] = export(page_as(manager))

    assert row["email"] == "c@example.com"
    assert row["owner"] == "sdr"
    assert row["country"] == "DE"
    assert row["custom"] == '{"plan": "=1+1"}'  # JSON text starts with {: nothing to run


def test_the_lead_lists_filters_and_sort_apply(page_as, manager):
    LeadFactory(email="mql-de@example.com", stage="mql", country="DE", last_name="B")
    LeadFactory(email="mql-fr@example.com", stage="mql", country="FR")
    LeadFactory(email="new-de@example.com", stage="new", country="DE")
    LeadFactory(email="mql-de2@example.com", stage="mql", country="DE", last_name="A")

    rows = export(page_as(manager), "?stage=mql&country=DE&sort=name")

    assert [row["email"] for row in rows] == ["mql-de2@example.com", "mql-de@example.com"]


def test_an_export_imports_back_as_it_was(page_as, admin_user):
    LeadFactory(email="round@example.com", phone="+49 30 1234", job_title="-", custom={"plan": "pro"})
    client = page_as(admin_user)
    body = b"".join(client.get("/leads/export.csv").streaming_content)
    Lead.objects.update(phone="", job_title="")

    import_csv(client, body, **{"id": "", "custom": "", "owner": "", "created_at": "", "updated_at": ""})

    lead = Lead.objects.get()
    assert (lead.phone, lead.job_title) == ("+49 30 1234", "-")


@pytest.mark.parametrize("role", ["marketer", "manager", "admin_user"])
def test_marketing_managers_and_admins_see_the_export_link(page_as, request, role):
    html = page_as(request.getfixturevalue(role)).get("/leads/?stage=mql").content.decode()

    assert 'href="/leads/export.csv?stage=mql"' in html


def test_sales_can_neither_export_nor_see_the_link(page_as, sdr):
    client = page_as(sdr)

    assert client.get("/leads/export.csv").status_code == 403
    assert "export.csv" not in client.get("/leads/").content.decode()
