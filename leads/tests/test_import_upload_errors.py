"""A file that cannot be imported at all is refused at upload with a clear error."""

import pytest

from leads import imports
from leads.models import LeadImport
from leads.tests.importing import upload

pytestmark = pytest.mark.django_db


def error_of(response) -> str:
    assert response.status_code == 400
    assert not LeadImport.objects.exists()
    return response.content.decode()


def test_a_file_over_the_size_limit_is_refused(page_as, marketer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 1024 * 1024)

    html = error_of(upload(page_as(marketer), "email\n" + "a@example.com\n" * 80_000))

    assert "The file is 1.1 MB; the limit is 1 MB. Split it into smaller files." in html


def test_a_file_that_is_not_utf8_is_refused(page_as, marketer):
    html = error_of(upload(page_as(marketer), "email,name\na@example.com,Müller\n".encode("latin-1")))

    assert "The file is not UTF-8 text" in html
    assert "CSV UTF-8" in html


def test_an_empty_file_is_refused(page_as, marketer):
    assert "The file is empty." in error_of(upload(page_as(marketer), "\n\n"))


def test_a_header_without_rows_is_refused(page_as, marketer):
    assert "no rows to import" in error_of(upload(page_as(marketer), "email,name\n"))


def test_the_file_is_kept_in_the_database_with_its_row_count(page_as, marketer):
    content = b"email,name\na@example.com,A\nb@example.com,B\n"

    response = upload(page_as(marketer), content, name="spring.csv")

    lead_import = LeadImport.objects.get()
    assert response.url == f"/leads/imports/{lead_import.pk}/"
    assert bytes(lead_import.content) == content
    assert (lead_import.filename, lead_import.total_rows, lead_import.status) == ("spring.csv", 2, "uploaded")
    assert lead_import.created_by == marketer


def test_blank_and_repeated_headers_get_names_of_their_own():
    assert imports.unique_headers(["Email", "", "Name", "Name", " "]) == [
        "Email",
        "Column 2",
        "Name",
        "Name (2)",
        "Column 5",
    ]
