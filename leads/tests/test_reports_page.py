"""The KPI dashboard page: who may see it, its period and filters, its CSV exports."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import reports, services
from leads.models import LeadFunnel, MarketingCost, Stage

from .factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_leads():
    """One lead created yesterday that became a customer; one created 100 days ago."""
    now = timezone.now()
    won = LeadFactory(company_name='=HYPERLINK("http://evil")')
    for stage in (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER):
        services.change_stage(won, to_stage=stage, reason="Test", forced=True)
    old = LeadFactory()
    LeadFactory._meta.model.objects.filter(pk=old.pk).update(created_at=now - datetime.timedelta(days=100))
    reports.refresh_funnel()
    return won, old


@pytest.mark.parametrize("role", ["sdr", "manager", "marketer"])
def test_every_role_that_works_leads_reads_the_dashboard(page_as, request, role, two_leads):
    response = page_as(request.getfixturevalue(role)).get(reverse("leads:reports"))
    assert response.status_code == 200
    assert 'data-testid="funnel"' in response.content.decode()


def test_a_user_without_a_role_gets_403(page_as, nobody):
    assert page_as(nobody).get(reverse("leads:reports")).status_code == 403


def test_the_default_period_is_the_last_90_days_and_counts_its_leads(page_as, manager, two_leads):
    html = page_as(manager).get(reverse("leads:reports")).content.decode()
    # Only the lead created yesterday is in the last 90 days; it became a customer.
    assert 'data-testid="kpi-leads"><small>New leads</small><strong>1</strong>' in html
    assert 'data-testid="kpi-conversion"><small>Lead → customer</small><strong>100.0 %</strong>' in html


def test_a_wider_period_counts_both_and_the_htmx_swap_returns_only_the_dashboard(page_as, manager, two_leads):
    start = (timezone.localdate() - datetime.timedelta(days=200)).isoformat()
    response = page_as(manager).get(reverse("leads:reports"), {"start": start}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="dashboard"')
    assert 'data-testid="kpi-leads"><small>New leads</small><strong>2</strong>' in html
    assert "50.0 %" in html


def test_a_period_that_ends_before_it_starts_is_refused_with_the_reason(page_as, manager):
    response = page_as(manager).get(reverse("leads:reports"), {"start": "2026-05-02", "end": "2026-05-01"})
    assert response.status_code == 400
    assert "The period starts after it ends." in response.content.decode()


def test_an_empty_period_shows_dashes_not_errors(page_as, manager):
    html = (
        page_as(manager)
        .get(reverse("leads:reports"), {"start": "2001-01-01", "end": "2001-01-31"})
        .content.decode()
    )
    assert 'data-testid="kpi-conversion"><small>Lead → customer</small><strong>—</strong>' in html
    assert "No leads in this period." in html


def test_csv_exports_are_formula_safe(page_as, manager, two_leads):
    won, _ = two_leads
    response = page_as(manager).get(reverse("leads:reports"), {"by": "owner", "export": "conversion"})
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0] == "value,leads,customers,conversion %"
    assert "Unassigned,1,1,100.0" in body


def test_marketing_adds_a_monthly_cost_and_roi_uses_it(page_as, marketer, manager, two_leads):
    month = timezone.localdate().replace(day=1)
    client = page_as(marketer)
    response = client.post(
        reverse("leads:report-costs"),
        {"month": month.strftime("%Y-%m"), "source": "paid_search", "amount": "1000"},
    )
    assert response.status_code == 302
    assert MarketingCost.objects.get().month == month

    again = client.post(
        reverse("leads:report-costs"),
        {"month": month.strftime("%Y-%m"), "source": "paid_search", "amount": "5"},
    )
    assert again.status_code == 400
    assert "There is a cost for that month and source already" in again.content.decode()
    both = client.post(
        reverse("leads:report-costs"), {"month": month.strftime("%Y-%m"), "source": "", "amount": "5"}
    )
    assert both.status_code == 400
    assert MarketingCost.objects.count() == 1

    html = page_as(manager).get(reverse("leads:reports")).content.decode()
    assert "1,000" in html  # the cost shows in the ROI table


def test_sales_and_managers_read_costs_but_cannot_add_them(page_as, sdr, manager):
    for user in (sdr, manager):
        client = page_as(user)
        assert client.get(reverse("leads:report-costs")).status_code == 200
        response = client.post(
            reverse("leads:report-costs"), {"month": "2026-01", "source": "event", "amount": "1"}
        )
        assert response.status_code == 403
    assert not MarketingCost.objects.exists()


def test_the_funnel_rows_follow_the_history(two_leads):
    won, old = two_leads
    row = LeadFunnel.objects.get(lead=won)
    assert row.mql_at and row.customer_at and row.customer_at >= row.mql_at
    assert LeadFunnel.objects.get(lead=old).mql_at is None


def test_csv_cells_quote_text_that_looks_like_a_formula_but_not_numbers():
    from decimal import Decimal

    from leads.exports import safe_cell

    assert safe_cell("=1+2") == "'=1+2"
    assert safe_cell("-cmd") == "'-cmd"
    assert safe_cell(-10) == "-10"
    assert safe_cell(Decimal("-2.50")) == "-2.50"
    assert safe_cell(-0.5) == "-0.5"


def test_the_comparison_period_is_computed_with_the_period(page_as, manager, two_leads):
    # The last 90 days (the lead created yesterday) against the 90 before (the one of 100 days
    # ago): both in the funnel table, the deltas on the cards.
    html = page_as(manager).get(reverse("leads:reports")).content.decode()
    assert "<tr><td>Created</td><td>1</td><td></td><td>1</td></tr>" in html
    assert 'data-testid="kpi-customers"><small>Customers among them</small><strong>1</strong>' in html
    assert '<small class="delta">new</small>' in html  # 1 customer against none before
