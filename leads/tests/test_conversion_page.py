"""The lead page's "Conversion" section: the form that fits the lead's stage, for the roles
that work leads; refusals beside the field (400), success back to the lead."""

import datetime

import pytest

from leads import conversion
from leads.models import Lead, LostReason, Opportunity, Qualification, Stage
from leads.tests.factories import LeadFactory
from leads.tests.test_lead_edit_page import field_error

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2031, 3, 31)


def forms_on(html: str) -> list[str]:
    import re

    return re.findall(r'class="conversion-form" id="([a-z]+)-form"', html)


@pytest.mark.parametrize(
    "stage, shown",
    [
        (Stage.MQL, []),
        (Stage.SAL, ["qualify"]),
        (Stage.SQL, ["opportunity"]),
        (Stage.CUSTOMER, []),
    ],
)
def test_the_page_offers_the_form_that_fits_the_stage(page_as, sdr, stage, shown):
    lead = LeadFactory(stage=stage)

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    assert forms_on(html) == shown


def test_an_open_opportunity_offers_won_and_lost_with_the_active_reasons_only(page_as, sdr):
    lead = LeadFactory(stage=Stage.SQL)
    conversion.open_opportunity(lead, by=sdr, amount="12500", expected_close_date=CLOSE)
    LostReason.objects.create(name="Retired reason", active=False)

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    assert forms_on(html) == ["won", "lost"]
    assert "12500.00 EUR" in html
    assert "Chose a competitor" in html
    assert "Retired reason" not in html


def test_an_sdr_qualifies_a_lead_from_the_page(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/qualify/",
        {"budget": "20k", "authority": "CFO", "need": "Routing", "timeline": "Q2"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/leads/{lead.pk}/", 302)]
    html = response.content.decode()
    assert "Lead qualified" in html
    assert "Routing" in html  # the qualification is shown
    assert forms_on(html) == ["opportunity"]
    assert Qualification.objects.get(lead=lead).qualified_by == sdr


def test_a_missing_need_is_shown_beside_the_field(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)

    response = page_as(sdr).post(f"/leads/{lead.pk}/qualify/", {"need": "", "timeline": "Q2"})

    assert response.status_code == 400
    assert "required" in field_error(response.content.decode(), "need")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL


def test_a_negative_amount_is_shown_beside_the_field(page_as, sdr):
    lead = LeadFactory(stage=Stage.SQL)

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/opportunity/", {"amount": "-10", "expected_close_date": "2031-03-31"}
    )

    assert response.status_code == 400
    assert field_error(response.content.decode(), "amount")
    assert not Opportunity.objects.exists()


def test_an_sdr_opens_an_opportunity_then_marks_it_won(page_as, sdr):
    lead = LeadFactory(stage=Stage.SQL)
    client = page_as(sdr)

    opened = {"amount": "9000", "currency": "", "expected_close_date": "2031-03-31"}
    response = client.post(f"/leads/{lead.pk}/opportunity/", opened)
    assert response.status_code == 302
    response = client.post(f"/leads/{lead.pk}/won/", {"value": "", "won_date": "2031-03-01"}, follow=True)

    assert "Won: the lead is a customer now." in response.content.decode()
    opportunity = Opportunity.objects.get(lead=lead)
    assert (opportunity.status, str(opportunity.won_value), opportunity.currency) == ("won", "9000.00", "EUR")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.CUSTOMER


def test_a_marketer_marks_an_opportunity_lost_with_a_reason(page_as, marketer, sdr):
    lead = LeadFactory(stage=Stage.SQL)
    conversion.open_opportunity(lead, by=sdr, amount="1", expected_close_date=CLOSE)
    reason = LostReason.objects.get(name="No budget")

    lost = {"lost_reason": reason.pk, "lost_note": "Frozen"}
    response = page_as(marketer).post(f"/leads/{lead.pk}/lost/", lost)

    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).stage == Stage.LOST
    html = page_as(marketer).get(f"/leads/{lead.pk}/").content.decode()
    assert "No budget" in html and "Frozen" in html


def test_an_inactive_reason_posted_is_refused_beside_the_select(page_as, sdr):
    lead = LeadFactory(stage=Stage.SQL)
    conversion.open_opportunity(lead, by=sdr, amount="1", expected_close_date=CLOSE)
    retired = LostReason.objects.create(name="Retired", active=False)

    response = page_as(sdr).post(f"/leads/{lead.pk}/lost/", {"lost_reason": retired.pk})

    assert response.status_code == 400
    assert field_error(response.content.decode(), "lost_reason")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.OPPORTUNITY


def test_a_double_submit_is_told_the_lead_moved_on(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)
    client = page_as(sdr)
    data = {"need": "Routing", "timeline": "Q2"}

    assert client.post(f"/leads/{lead.pk}/qualify/", data).status_code == 302
    response = client.post(f"/leads/{lead.pk}/qualify/", data)

    assert response.status_code == 400
    assert "The lead is in SQL, not SAL" in response.content.decode()
    assert Qualification.objects.filter(lead=lead).count() == 1


def test_a_manager_reads_the_conversion_but_may_not_change_it(page_as, manager, sdr):
    lead = LeadFactory(stage=Stage.SAL)
    conversion.qualify(lead, by=sdr, need="Routing", timeline="Q2")

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()
    assert "Routing" in html
    assert forms_on(html) == []

    response = page_as(manager).post(
        f"/leads/{lead.pk}/opportunity/", {"amount": "1", "expected_close_date": "2031-03-31"}
    )
    assert response.status_code == 403
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize("action", ["qualify", "opportunity", "won", "lost"])
def test_users_without_a_role_get_403_and_get_is_not_allowed(page_as, nobody, sdr, action):
    lead = LeadFactory(stage=Stage.SAL)

    assert page_as(nobody).post(f"/leads/{lead.pk}/{action}/", {}).status_code == 403
    assert page_as(sdr).get(f"/leads/{lead.pk}/{action}/").status_code == 405


def test_the_forms_carry_a_csrf_token(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    form = html[html.index('id="qualify-form"') :]
    assert 'name="csrfmiddlewaretoken"' in form[: form.index("</form>")]
