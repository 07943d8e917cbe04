"""Bad rows are reported by line number (the header is line 1) with the reason; the good
rows are imported all the same."""

import pytest

from leads.models import ImportRowError, Lead
from leads.tests.factories import LeadFactory
from leads.tests.importing import import_csv

pytestmark = pytest.mark.django_db

FILE = "\n".join(
    [
        "Email,First Name,Job Title,Industry,Country,Company Size",  # line 1
        "good1@example.com,Ann,CTO,Software,DE,11-50",  # 2
        "not-an-address,Bob,,,,",  # 3
        ",Carl,,,,",  # 4
        "good2@example.com,Dora,,Finance,France,",  # 5
        "good3@example.com,Eve,,Knitting,,",  # 6
        f"good4@example.com,Finn,{'x' * 151},,,",  # 7
        "GOOD1@example.com,Ann again,,,,",  # 8
        'good5@example.com,"Gus,',  # 9: a quoted cell over two lines
        'the second",,,,',  # 10
        "good6@example.com,Hal,,,Atlantis,huge",  # 11
        "good7@example.com,Ida,,,,,,surplus",  # 12
        "",  # 13: blank, not a row
        "good8@example.com,Jo,,,,",  # 14
    ]
)
# Where the sample has an unknown value the suggestion is a custom attribute: choose the field.
MAPPING = {"Industry": "industry", "Country": "country", "Company Size": "company_size"}


def reasons() -> dict[int, str]:
    return dict(ImportRowError.objects.values_list("line", "reason"))


def test_each_bad_row_is_reported_by_line_with_its_reason(page_as, marketer):
    lead_import = import_csv(page_as(marketer), FILE, **MAPPING)

    found = reasons()
    assert sorted(found) == [3, 4, 6, 7, 8, 11, 12]
    assert found[3] == "E-mail: 'not-an-address' is not a valid address."
    assert found[4] == "E-mail: missing."
    assert found[6] == "Industry: unknown value 'Knitting'."
    assert found[7] == "Job title: longer than 150 characters (151)."
    assert found[8] == "E-mail: good1@example.com is on line 2 already."
    assert found[11] == "Country: unknown value 'Atlantis'. Company size: unknown value 'huge'."
    assert found[12] == "8 cells, but the header has 6."
    assert lead_import.error_count == 7
    assert ImportRowError.objects.get(line=3).row == ["not-an-address", "Bob", "", "", "", ""]


def test_the_good_rows_are_imported_with_their_values(page_as, marketer):
    lead_import = import_csv(page_as(marketer), FILE, **MAPPING)

    assert set(Lead.objects.values_list("email", flat=True)) == {
        "good1@example.com",
        "good2@example.com",
        "good5@example.com",
        "good8@example.com",
    }
    assert (lead_import.total_rows, lead_import.processed_rows, lead_import.created_count) == (11, 11, 4)
    first = Lead.objects.get(email="good1@example.com")
    assert (first.first_name, first.industry, first.country.code, first.company_size) == (
        "Ann",
        "software",
        "DE",
        "11-50",
    )
    second = Lead.objects.get(email="good2@example.com")
    assert (second.industry, second.country.code) == ("finance", "FR")  # labels and names count too
    assert Lead.objects.get(email="good5@example.com").first_name == "Gus,\nthe second"


def test_a_file_duplicate_of_a_known_lead_is_still_an_error_not_a_second_update(page_as, marketer):
    LeadFactory(email="known@example.com", first_name="Old")

    import_csv(page_as(marketer), "email,first name\nknown@example.com,New\nKNOWN@example.com,Newer\n")

    assert reasons() == {3: "E-mail: known@example.com is on line 2 already."}
    assert Lead.objects.get().first_name == "New"


def test_the_bad_rows_are_shown_on_the_import_page(page_as, marketer):
    client = page_as(marketer)
    lead_import = import_csv(client, FILE, **MAPPING)

    html = client.get(lead_import.get_absolute_url()).content.decode()

    assert "Bad rows" in html
    assert (
        "<td>3</td><td>not-an-address</td><td>E-mail: &#x27;not-an-address&#x27; is not a valid address.</td>"
        in html
    )
    assert "Download all 7 bad rows as CSV" in html


def test_a_website_that_is_not_a_web_address_is_a_bad_row_never_a_link(page_as, marketer):
    file = "\n".join(
        [
            "Email,Website",
            "safe@example.com,www.example.com",
            "evil@example.com,javascript://%0aalert(document.cookie)",
        ]
    )
    import_csv(page_as(marketer), file, Website="website")

    assert Lead.objects.get().website == "https://www.example.com"
    assert "not a web address" in reasons()[3]
