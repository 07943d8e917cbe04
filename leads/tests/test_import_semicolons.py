"""Semicolon-separated files (Excel in much of Europe) are recognized without asking."""

import pytest

from leads.models import Lead
from leads.tests.importing import import_csv, uploaded

pytestmark = pytest.mark.django_db

FILE = (
    "E-Mail;Vorname;Company;Notes\r\n"
    'ada@example.com;Ada;"Analytical Engines; Ltd";"likes commas, too"\r\n'
    "bob@example.com;Bob;Acme, Inc.;\r\n"
)


def test_a_semicolon_file_is_split_on_semicolons(page_as, marketer):
    client = page_as(marketer)

    lead_import = uploaded(client, FILE)

    assert lead_import.delimiter == ";"
    assert lead_import.headers == ["E-Mail", "Vorname", "Company", "Notes"]
    assert lead_import.total_rows == 2


def test_a_semicolon_file_imports_with_commas_and_quoted_semicolons_in_cells(page_as, marketer):
    import_csv(page_as(marketer), FILE)

    ada = Lead.objects.get(email="ada@example.com")
    assert ada.first_name == "Ada"
    assert ada.company_name == "Analytical Engines; Ltd"
    assert ada.custom == {"notes": "likes commas, too"}
    assert Lead.objects.get(email="bob@example.com").company_name == "Acme, Inc."


def test_a_comma_file_with_semicolons_in_cells_stays_a_comma_file(page_as, marketer):
    lead_import = uploaded(page_as(marketer), "email,name,notes\na@example.com,A,x;y;z\nb@example.com,B,\n")

    assert lead_import.delimiter == ","
    assert lead_import.headers == ["email", "name", "notes"]
