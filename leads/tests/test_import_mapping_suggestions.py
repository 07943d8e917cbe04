"""The mapping is suggested from the headers; a choice field only when the values fit."""

import pytest

from leads import imports
from leads.tests.importing import uploaded

pytestmark = pytest.mark.django_db


def test_common_header_spellings_map_to_lead_fields(page_as, marketer):
    header = "E-mail Address,First Name,Surname,Company,Job Title,Phone Number,"
    header += "Country,UTM Campaign,Website,Shoe size"
    lead_import = uploaded(
        page_as(marketer), header + "\na@example.com,A,B,C,D,1,Germany,spring,c.example,42\n"
    )

    assert lead_import.mapping == {
        "E-mail Address": "email",
        "First Name": "first_name",
        "Surname": "last_name",
        "Company": "company_name",
        "Job Title": "job_title",
        "Phone Number": "phone",
        "Country": "country",
        "UTM Campaign": "utm_campaign",
        "Website": "website",
        "Shoe size": "custom:shoe_size",
    }


@pytest.mark.parametrize("header", ["email", "Email", "E-mail", "e_mail", "Email address", "E_Mail"])
def test_email_spellings(header):
    assert imports.suggest_mapping([header], [])[header] == "email"


def test_lead_source_maps_to_source_only_when_its_values_are_sources():
    fits = imports.suggest_mapping(["Lead Source"], [["Organic search"], ["paid_social"], ["Referral"], [""]])
    does_not = imports.suggest_mapping(["Lead Source"], [["Google"], ["Olark Chat"]])

    assert fits == {"Lead Source": "source"}
    assert does_not == {"Lead Source": "custom:lead_source"}


def test_a_field_is_suggested_for_one_column_only():
    mapping = imports.suggest_mapping(["Email", "Work email"], [])

    assert mapping == {"Email": "email", "Work email": "custom:work_email"}


def test_the_mapping_page_shows_the_suggestion_and_the_preview(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, "Email,Company,Mood\na@example.com,Acme,happy\nb@example.com,Beta,calm\n")

    html = client.get(lead_import.get_absolute_url()).content.decode()

    assert '<option value="email" selected>E-mail</option>' in html
    assert '<option value="company_name" selected>Company</option>' in html
    assert '<option value="custom:mood" selected>custom attribute “mood”</option>' in html
    assert "<td>happy</td>" in html and "<td>calm</td>" in html
    assert "Start import" in html
