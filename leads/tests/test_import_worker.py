"""An import started on the page runs in a real Celery worker process, fed through the
real broker, until the page says it is done."""

import time

import pytest

from leads.models import Lead, LeadImport
from leads.tests.importing import start, uploaded

ROWS = 12_000  # more than two chunks


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_import_runs_in_the_worker_until_done(celery_worker_process, page_as, marketer):
    client = page_as(marketer)
    content = "Email,First Name,Plan\n" + "".join(f"w{i}@example.com,W{i},pro\n" for i in range(ROWS))
    content += "broken,Nope,pro\n"
    lead_import = uploaded(client, content)

    assert start(client, lead_import).status_code == 302  # queued on commit, sent through the broker

    deadline = time.monotonic() + 60
    while (status := LeadImport.objects.values_list("status", flat=True).get(pk=lead_import.pk)) != "done":
        assert status in ("queued", "running"), LeadImport.objects.get(pk=lead_import.pk).failure
        assert time.monotonic() < deadline, f"the import is still {status} after 60 s"
        time.sleep(0.2)

    lead_import.refresh_from_db()
    assert (lead_import.processed_rows, lead_import.created_count, lead_import.error_count) == (
        ROWS + 1,
        ROWS,
        1,
    )
    assert lead_import.started_at and lead_import.finished_at
    assert Lead.objects.count() == ROWS
    assert Lead.objects.get(email="w7@example.com").custom == {"plan": "pro"}
    html = client.get(f"/leads/imports/{lead_import.pk}/status/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html
    assert f'<dd data-count="created">{ROWS:,}</dd>' in html
