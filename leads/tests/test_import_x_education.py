"""The real X Education file (9,240 leads, 37 columns, ../shared/data): it has no e-mail
column, only its own ids (Prospect ID, Lead Number). LeadApp knows a lead by its e-mail,
so the import says so and imports nothing; with an e-mail column added, the whole file
goes through the import as it is."""

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings

from leads.models import ImportRowError, Lead
from leads.tests.importing import run, start, uploaded

pytestmark = pytest.mark.django_db

DATA = Path(settings.BASE_DIR).parent / "shared" / "data" / "x_education_leads.csv"
needs_file = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not there")


@needs_file
def test_without_an_email_column_the_import_asks_for_one_and_imports_nothing(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, DATA.read_bytes(), name="x_education_leads.csv")

    assert (lead_import.total_rows, len(lead_import.headers)) == (9240, 37)
    assert "email" not in lead_import.mapping.values()
    assert lead_import.mapping["Lead Source"] == "custom:lead_source"  # "Olark Chat" is no source of ours
    assert lead_import.mapping["Country"] == "country"
    response = start(client, lead_import)

    assert response.status_code == 400
    assert "Map a column to E-mail" in response.content.decode()
    lead_import.refresh_from_db()
    assert lead_import.status == "uploaded"
    assert not Lead.objects.exists()


@needs_file
def test_with_an_email_column_added_all_rows_go_through(page_as, marketer):
    rows = list(csv.reader(io.StringIO(DATA.read_text(encoding="utf-8"))))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Email", *rows[0]])
    for row in rows[1:]:
        writer.writerow([f"lead-{row[1]}@x-education.example", *row])
    client = page_as(marketer)
    lead_import = uploaded(client, buffer.getvalue())

    lead_import = run(client, lead_import, source="other")

    assert lead_import.processed_rows == 9240
    assert lead_import.created_count + lead_import.error_count == 9240
    # Countries the file spells in its own way are bad rows, with the reason.
    reasons = set(ImportRowError.objects.values_list("reason", flat=True))
    assert reasons == {"Country: unknown value 'unknown'.", "Country: unknown value 'Asia/Pacific Region'."}
    assert lead_import.error_count == 7
    lead = Lead.objects.get(email="lead-660737@x-education.example")
    assert lead.custom["prospect_id"] == "7927b2df-8bba-4d29-b9a2-b6e0beafe620"
    assert lead.custom["lead_source"] == "Olark Chat"
    assert lead.custom["last_activity"] == "Page Visited on Website"
    assert Lead.objects.get(email="lead-660728@x-education.example").country.code == "IN"
