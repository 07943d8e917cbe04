"""While an import runs, its page polls (htmx, every second) for the progress; once done,
it shows the counts and stops polling."""

import pytest

from leads import imports
from leads.models import LeadImport
from leads.tests.importing import start, uploaded

pytestmark = pytest.mark.django_db


def test_starting_queues_the_import_once_the_transaction_commits(
    page_as, marketer, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("leads.tasks.run_import.delay", sent.append)
    client = page_as(marketer)
    lead_import = uploaded(client, "email\na@example.com\n")

    with django_capture_on_commit_callbacks(execute=True):
        response = start(client, lead_import, source="event", on_existing="skip")

    assert response.status_code == 302
    assert sent == [lead_import.pk]
    lead_import.refresh_from_db()
    assert (lead_import.status, lead_import.source, lead_import.on_existing) == ("queued", "event", "skip")
    assert start(client, lead_import).status_code == 200  # started: the page shows progress instead


def test_a_queued_import_page_polls_its_status(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, "email\na@example.com\nb@example.com\n")
    start(client, lead_import)

    html = client.get(lead_import.get_absolute_url()).content.decode()

    assert 'hx-trigger="every 1s"' in html
    assert f'hx-get="/leads/imports/{lead_import.pk}/status/"' in html
    assert "0 of 2 rows (0 %)" in html


def test_the_status_fragment_stops_polling_when_done(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, "email\na@example.com\nb@example.com\nnope\n")
    start(client, lead_import)
    imports.run_import(lead_import.pk)

    html = client.get(f"/leads/imports/{lead_import.pk}/status/", HTTP_HX_REQUEST="true").content.decode()

    assert html.lstrip().startswith('<section id="import-status"')
    assert "<html" not in html
    assert "hx-trigger" not in html
    assert "3 of 3 rows (100 %)" in html
    assert '<dd data-count="created">2</dd>' in html
    assert '<dd data-count="errors">1</dd>' in html
    assert LeadImport.objects.get().status == "done"


def test_the_import_list_shows_the_imports(page_as, marketer):
    client = page_as(marketer)
    uploaded(client, "email\na@example.com\n", name="spring-fair.csv")

    html = client.get("/leads/imports/").content.decode()

    assert "spring-fair.csv" in html
    assert "Uploaded (to map)" in html
