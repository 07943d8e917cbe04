"""The bad rows of an import download as CSV: line, reason, then the row as it was."""

import csv
import io

import pytest

from leads.tests.importing import import_csv

pytestmark = pytest.mark.django_db

FILE = 'Email;Name;Note\nok@example.com;Ok;\nnope;Bad;=HYPERLINK("http://x")\n;No mail;x\n'


def download(client, lead_import):
    response = client.get(f"/leads/imports/{lead_import.pk}/bad-rows.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="leads-bad-rows.csv"'
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_the_bad_rows_download_with_line_and_reason(page_as, marketer):
    client = page_as(marketer)
    lead_import = import_csv(client, FILE)

    rows = list(csv.reader(io.StringIO(download(client, lead_import))))

    assert rows == [
        ["line", "reason", "Email", "Name", "Note"],
        ["3", "E-mail: 'nope' is not a valid address.", "nope", "Bad", '\'=HYPERLINK("http://x")'],
        ["4", "E-mail: missing.", "", "No mail", "x"],
    ]


def test_the_link_is_on_the_import_page(page_as, marketer):
    client = page_as(marketer)
    lead_import = import_csv(client, FILE)

    html = client.get(lead_import.get_absolute_url()).content.decode()

    assert f'href="/leads/imports/{lead_import.pk}/bad-rows.csv"' in html


def test_a_sales_user_cannot_download_them(page_as, marketer, sdr):
    lead_import = import_csv(page_as(marketer), FILE)

    assert page_as(sdr).get(f"/leads/imports/{lead_import.pk}/bad-rows.csv").status_code == 403
