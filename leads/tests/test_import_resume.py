"""An import runs in chunks, each committed with its progress: re-run after a worker died,
it carries on after the last committed chunk; run twice, it writes nothing twice."""

import pytest

from leads import imports
from leads.models import ImportRowError, Lead, LeadImport, StageChange
from leads.tests.importing import start, uploaded

pytestmark = pytest.mark.django_db

FILE = (
    "email,name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(7)) + "bad,Bad\np0@example.com,Dup\n"
)


class WorkerDied(BaseException):
    """Not an Exception: like a killed process, it leaves the import running."""


@pytest.fixture
def queued(page_as, marketer, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    client = page_as(marketer)
    lead_import = uploaded(client, FILE)
    assert start(client, lead_import).status_code == 302
    return lead_import


def test_a_run_that_died_mid_way_resumes_after_the_last_committed_chunk(queued, monkeypatch):
    real_write = imports._write_leads
    calls = []

    def dies_on_the_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            raise WorkerDied
        return real_write(*args)

    monkeypatch.setattr(imports, "_write_leads", dies_on_the_second_chunk)
    with pytest.raises(WorkerDied):
        imports.run_import(queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.processed_rows, queued.created_count) == ("running", 3, 3)
    assert Lead.objects.count() == 3

    monkeypatch.setattr(imports, "_write_leads", real_write)
    imports.run_import(queued.pk)  # the re-delivered task

    queued.refresh_from_db()
    assert queued.status == "done"
    assert (queued.processed_rows, queued.created_count, queued.error_count) == (9, 7, 2)
    assert Lead.objects.count() == 7
    assert StageChange.objects.count() == 7
    # The duplicate of a row imported before the restart is still recognized as one.
    assert dict(ImportRowError.objects.values_list("line", "reason")) == {
        9: "E-mail: 'bad' is not a valid address.",
        10: "E-mail: p0@example.com is on line 2 already.",
    }


def test_running_a_finished_import_again_changes_nothing(queued):
    imports.run_import(queued.pk)
    before = LeadImport.objects.defer("content").values().get(pk=queued.pk)

    imports.run_import(queued.pk)
    # A late duplicate that still saw it running: every chunk is committed already.
    LeadImport.objects.filter(pk=queued.pk).update(status="running")
    imports.run_import(queued.pk)

    after = LeadImport.objects.defer("content").values().get(pk=queued.pk)
    assert {k: after[k] for k in ("processed_rows", "created_count", "error_count", "status")} == {
        k: before[k] for k in ("processed_rows", "created_count", "error_count", "status")
    }
    assert Lead.objects.count() == 7
    assert ImportRowError.objects.count() == 2


def test_a_chunk_another_run_has_written_is_not_written_again(queued):
    imports.run_import(queued.pk)
    lead_import = LeadImport.objects.defer("content").get(pk=queued.pk)
    LeadImport.objects.filter(pk=queued.pk).update(status="running")
    plan = imports._Plan(lead_import)

    written = imports._write_chunk(lead_import, plan, [(2, ["late@example.com", "Late"])], 0, {})

    assert written is False
    assert not Lead.objects.filter(email="late@example.com").exists()
