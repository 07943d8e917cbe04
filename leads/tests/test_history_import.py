"""The history import: past leads with their outcomes go through the CSV import. A new lead with
an outcome is created at its stage (customer, lost, ...) with its own dates and stage history;
a file without e-mail addresses names its leads by their record id (a placeholder address that
never receives mail); importing again finds the same leads. Closed leads start no sales work:
no handoff, no MQL, no campaign, no e-mail."""

import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads import imports
from leads.history_presets import X_EDUCATION
from leads.models import Handoff, ImportRowError, Lead, LeadImport, Stage, StageChange
from leads.tests.factories import LeadFactory
from leads.tests.importing import import_csv, start, uploaded
from nurturing import sending
from nurturing import services as nurturing
from nurturing.models import Campaign, Enrollment, Message
from nurturing.tests.factories import campaign, send
from scoring.models import LeadScore
from scoring.tests.factories import fit_group, fit_rule, published_rule_set

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
DATA = ROOT.parent / "shared" / "data" / "x_education_leads.csv"
needs_file = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not there")
BERLIN = ZoneInfo("Europe/Berlin")


def history(client, content: str, **mapping) -> LeadImport:
    """Upload ``content``, map its columns (header=target; spaces in headers as
    ``**{"Record ID": ...}``) and run it as the worker would."""
    return import_csv(client, content, **mapping)


def stages() -> dict[str, str]:
    return dict(Lead.objects.values_list("email", "stage"))


def reasons(lead_import: LeadImport) -> dict[int, str]:
    return dict(ImportRowError.objects.filter(lead_import=lead_import).values_list("line", "reason"))


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("import_history", *args, stdout=out)
    return out.getvalue()


# --- the outcome ---------------------------------------------------------------------------------


def test_each_spelling_of_an_outcome_creates_the_lead_at_its_stage(page_as, marketer):
    spellings = {
        "1": "customer",
        "Yes": "customer",
        " TRUE ": "customer",
        "won": "customer",
        "Converted": "customer",
        "customer": "customer",
        "0": "lost",
        "no": "lost",
        "False": "lost",
        "LOST": "lost",
        "Disqualified": "disqualified",
        "recycled": "recycled",
        "": "new",
    }
    lines = [f"l{n}@example.com,{value}" for n, value in enumerate(spellings)]

    lead_import = history(page_as(marketer), "email,result\n" + "\n".join(lines) + "\n", result="outcome")

    assert (lead_import.created_count, lead_import.error_count) == (13, 0)
    assert stages() == {f"l{n}@example.com": stage for n, stage in enumerate(spellings.values())}
    counts = {"customer": 6, "lost": 4, "disqualified": 1, "recycled": 1, "new": 1}
    assert lead_import.outcome_counts == counts
    assert all(via == "import" for via in Lead.objects.values_list("created_via", flat=True))


def test_an_unknown_outcome_refuses_the_row_saying_what_is_understood(page_as, marketer):
    content = "email,result\nok@example.com,won\nm@example.com,maybe\nt@example.com,2\n"

    lead_import = history(page_as(marketer), content, result="outcome")

    assert (lead_import.created_count, lead_import.error_count) == (1, 2)
    assert reasons(lead_import) == {
        3: "Outcome: unknown value 'maybe' (use won/lost, 1/0, yes/no, customer, disqualified, recycled).",
        4: "Outcome: unknown value '2' (use won/lost, 1/0, yes/no, customer, disqualified, recycled).",
    }
    assert stages() == {"ok@example.com": "customer"}


# --- dates ---------------------------------------------------------------------------------------------


def test_dates_set_when_the_lead_was_created_and_when_it_closed(page_as, marketer, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # naive dates and times are the site's
    content = (
        "email,outcome,created,closed\n"
        "a@example.com,won,2024-03-01,2024-06-15 10:30\n"
        "b@example.com,lost,2024-03-01T08:00:00+02:00,2024-03-02 09:00Z\n"
        "c@example.com,,2023-12-24,\n"
        "d@example.com,lost,,2024-05-01\n"
        "e@example.com,lost,,\n"
    )
    before = timezone.now()

    lead_import = history(
        page_as(marketer), content, outcome="outcome", created="created_at", closed="closed_at"
    )

    assert lead_import.error_count == 0
    leads = {lead.email: lead for lead in Lead.objects.all()}
    a, b, c, d, e = (leads[f"{x}@example.com"] for x in "abcde")
    assert a.created_at == datetime(2024, 3, 1, tzinfo=BERLIN)
    assert a.stage_changed_at == datetime(2024, 6, 15, 10, 30, tzinfo=BERLIN)
    assert b.created_at == datetime(2024, 3, 1, 6, 0, tzinfo=ZoneInfo("UTC"))
    assert b.stage_changed_at == datetime(2024, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC"))
    christmas = datetime(2023, 12, 24, tzinfo=BERLIN)
    assert (c.stage, c.created_at, c.stage_changed_at) == ("new", christmas, christmas)
    # Closed only: created then too (never after it closed).
    assert d.created_at == d.stage_changed_at == datetime(2024, 5, 1, tzinfo=BERLIN)
    assert before <= e.created_at == e.stage_changed_at <= timezone.now()


def test_ambiguous_impossible_future_and_out_of_order_dates_refuse_the_row(page_as, marketer):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    content = (
        "email,outcome,created,closed\n"
        "a@example.com,won,03/04/2024,\n"
        "b@example.com,won,2024-02-30,\n"
        f"c@example.com,won,2024-01-01,{tomorrow}\n"
        "d@example.com,lost,2024-05-02,2024-05-01\n"
        "e@example.com,,2024-05-01,2024-06-01\n"
        "f@example.com,won,1 May 2024,\n"
        "g@example.com,won,2024-05-02,2024-05-02\n"
    )

    lead_import = history(
        page_as(marketer), content, outcome="outcome", created="created_at", closed="closed_at"
    )

    assert reasons(lead_import) == {
        2: "Created on: '03/04/2024' is ambiguous (day or month first?); write dates as YYYY-MM-DD.",
        3: "Created on: '2024-02-30' is not a date (use YYYY-MM-DD or YYYY-MM-DD HH:MM).",
        4: f"Closed on: '{tomorrow}' is in the future.",
        5: "Closed on: '2024-05-01' is before Created on ('2024-05-02').",
        6: "Closed on: a date without an outcome (leave it blank for open leads).",
        7: "Created on: '1 May 2024' is not a date (use YYYY-MM-DD or YYYY-MM-DD HH:MM).",
    }
    assert stages() == {"g@example.com": "customer"}


# --- identity: e-mail or record id ----------------------------------------------------------------


def test_a_file_without_email_needs_a_record_id_and_the_page_says_so(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, "id,name,outcome\n17,Kim,won\n")

    response = start(client, lead_import, id="custom:id")

    assert response.status_code == 400
    assert "Map a column to E-mail or to Record ID" in response.content.decode()
    response = start(client, lead_import, id="external_id", outcome="custom:outcome", name="closed_at")
    assert "Closed on is the date of an outcome; map a column to Outcome too." in response.content.decode()
    assert not Lead.objects.exists()

    assert start(client, lead_import, id="external_id", outcome="outcome").status_code == 302


def test_rows_without_email_get_a_placeholder_address_and_a_second_import_finds_them_again(page_as, marketer):
    client = page_as(marketer)
    mapping = {"Record ID": "external_id", "Converted": "outcome", "Visits": "custom:visits"}
    first = history(client, "Record ID,Visits,Converted\nA-17,3,1\nb 18/x,5,0\n", **mapping)

    assert (first.created_count, first.error_count) == (2, 0)
    assert stages() == {"a-17@history.invalid": "customer", "b-18x@history.invalid": "lost"}

    # The same leads again, one visit later; the file now says A-17 was lost: its stage stays.
    again = history(client, "Record ID,Visits,Converted\nA-17,4,0\nb 18/x,6,0\n", **mapping)

    assert (again.created_count, again.updated_count, again.error_count) == (0, 2, 0)
    assert again.outcome_counts == {}
    assert Lead.objects.count() == 2
    assert stages() == {"a-17@history.invalid": "customer", "b-18x@history.invalid": "lost"}
    assert Lead.objects.get(email="a-17@history.invalid").custom == {"visits": "4"}
    assert StageChange.objects.count() == 4  # the first import's history, nothing added


def test_the_email_wins_when_a_row_has_both_and_duplicate_record_ids_are_refused(page_as, marketer):
    content = "email,crm id,outcome\nkim@example.com,C1,won\n,C2,lost\n,,lost\n,c2,won\n,%%,won\n"

    lead_import = history(page_as(marketer), content, **{"crm id": "external_id", "outcome": "outcome"})

    assert stages() == {"kim@example.com": "customer", "c2@history.invalid": "lost"}
    assert reasons(lead_import) == {
        4: "E-mail and Record ID: both missing.",
        5: "Record ID: 'c2' gives c2@history.invalid, which line 3 has already.",
        6: "Record ID: '%%' has no letters or digits.",
    }
    assert ImportRowError.objects.get(line=6).email == "%%"  # the bad-rows list shows the id


# --- stage history ----------------------------------------------------------------------------------


def test_a_closed_lead_gets_its_two_steps_of_history_and_a_known_lead_keeps_its_stage(page_as, marketer):
    known = LeadFactory(email="known@example.com", stage=Stage.MQL, first_name="Old")
    content = (
        "email,first name,outcome,created,closed\n"
        "won@example.com,Wyn,won,2024-01-10,2024-04-02\n"
        "known@example.com,Kai,lost,2024-01-10,2024-04-02\n"
    )

    lead_import = history(
        page_as(marketer), content, outcome="outcome", created="created_at", closed="closed_at"
    )

    assert (lead_import.created_count, lead_import.updated_count) == (1, 1)
    won = Lead.objects.get(email="won@example.com")
    steps = list(
        StageChange.objects.filter(lead=won)
        .order_by("changed_at")
        .values_list("from_stage", "to_stage", "changed_at", "reason", "changed_by")
    )
    utc = ZoneInfo("UTC")
    assert steps == [
        ("", "new", datetime(2024, 1, 10, tzinfo=utc), "Imported history from leads.csv", marketer.pk),
        ("new", "customer", datetime(2024, 4, 2, tzinfo=utc), "Imported history from leads.csv", marketer.pk),
    ]
    known.refresh_from_db()
    assert (known.stage, known.first_name) == ("mql", "Kai")  # updated, but its stage is its own
    assert not StageChange.objects.filter(lead=known).exists()
    assert lead_import.outcome_counts == {"customer": 1}


# --- no sales work ------------------------------------------------------------------------------------


def test_closed_leads_with_a_high_score_stay_closed_and_are_not_handed_to_sales(
    page_as, marketer, django_capture_on_commit_callbacks
):
    published_rule_set(
        fit=[fit_group("Time on site", rules=[fit_rule("custom.minutes", "in_range", "100", 90)])],
        mql_threshold=50,
    )
    client = page_as(marketer)
    lead_import = uploaded(
        client,
        "email,minutes,outcome\nwon@example.com,500,won\nlost@example.com,500,0\nopen@example.com,500,\n",
    )
    assert start(client, lead_import, minutes="custom:minutes", outcome="outcome").status_code == 302

    with django_capture_on_commit_callbacks(execute=True):  # scoring promotes after the commit
        imports.run_import(lead_import.pk)

    assert LeadScore.objects.filter(total__gte=90).count() == 3
    # The open lead of the same file shows that the threshold was reached and acted on.
    assert stages() == {"won@example.com": "customer", "lost@example.com": "lost", "open@example.com": "mql"}
    assert list(Handoff.objects.values_list("lead__email", flat=True)) == ["open@example.com"]


def test_placeholder_addresses_are_never_enrolled_nor_sent_campaign_email(page_as, marketer):
    onboarding = campaign(steps=[send()], trigger=Campaign.Trigger.STAGE, trigger_stage=Stage.CUSTOMER)
    mapping = {"Record ID": "external_id", "Converted": "outcome"}
    history(page_as(marketer), "Record ID,Converted\nP1,1\nP2,1\n", **mapping)
    Lead.objects.update(marketing_consent=True)  # whatever else is true of them

    nurturing.enroll_triggered()  # what beat does every minute
    manual = campaign(name="Everyone", steps=[send()])
    assert nurturing.enroll(manual, Lead.objects.all()) == 0
    assert not Enrollment.objects.filter(campaign__in=[onboarding, manual]).exists()

    # A lead that was enrolled with a real address and has a placeholder one now.
    lead = LeadFactory(email="real@example.com", marketing_consent=True)
    nurturing.enroll(manual, Lead.objects.filter(pk=lead.pk))
    Lead.objects.filter(pk=lead.pk).update(email="p3@history.invalid")
    queued = nurturing.dispatch(hand_over=False).messages
    # And an outbox row queued to such an address before this rule existed.
    Message.objects.filter(lead=lead).update(status=Message.Status.QUEUED, error="")

    result = sending.send_messages(list(Message.objects.values_list("pk", flat=True)))

    assert queued == [] and result.sent == []
    assert mail.outbox == []
    assert list(Message.objects.values_list("to_email", "status", "error")) == [
        ("p3@history.invalid", "skipped", "A placeholder address (.invalid): it cannot receive e-mail.")
    ]


# --- the pages ---------------------------------------------------------------------------------------


def test_the_mapping_page_offers_the_history_targets_in_their_own_group(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, "Record ID,Converted,Created,Closed\nA1,1,2024-01-01,2024-02-01\n")

    html = client.get(lead_import.get_absolute_url()).content.decode()

    group = re.search(r'<optgroup label="History \(closed leads\)">(.*?)</optgroup>', html, re.S).group(1)
    assert re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', group) == [
        ("outcome", "Outcome (won / lost)"),
        ("created_at", "Created on"),
        ("closed_at", "Closed on (outcome date)"),
        ("external_id", "Record ID (when there is no e-mail)"),
    ]
    assert "its lifecycle stage and creation date stay as they are" in html
    assert "@history.invalid" in html


def test_a_history_import_through_the_pages_shows_the_new_leads_by_outcome(page_as, marketer):
    client = page_as(marketer)
    lead_import = uploaded(client, "Record ID,Converted\nA1,1\nA2,1\nA3,0\nA4,\nA5,maybe\n", name="past.csv")
    mapping = {"Record ID": "external_id", "Converted": "outcome"}
    assert start(client, lead_import, **mapping).status_code == 302

    html = client.get(lead_import.get_absolute_url()).content.decode()
    assert "New leads by outcome" in html and "No new leads yet." in html  # queued, polling

    imports.run_import(lead_import.pk)
    html = client.get(f"/leads/imports/{lead_import.pk}/status/", HTTP_HX_REQUEST="true").content.decode()

    assert '<dd data-count="created">4</dd>' in html
    assert '<dd data-count="errors">1</dd>' in html
    assert '<dt>Customer</dt><dd data-outcome="customer">2 (50.0 %)</dd>' in html
    assert '<dt>Lost</dt><dd data-outcome="lost">1 (25.0 %)</dd>' in html
    assert '<dt>Open (no outcome)</dt><dd data-outcome="new">1 (25.0 %)</dd>' in html
    assert "Outcome: unknown value &#x27;maybe&#x27;" in html


def test_an_ordinary_import_shows_no_outcomes(page_as, marketer):
    client = page_as(marketer)
    lead_import = import_csv(client, "email\na@example.com\n")

    html = client.get(lead_import.get_absolute_url()).content.decode()

    assert "New leads by outcome" not in html
    assert lead_import.outcome_counts == {}


# --- the command ---------------------------------------------------------------------------------------


def test_the_command_imports_with_a_mapping_file_and_again_without_duplicates(tmp_path):
    csv_file = tmp_path / "deals.csv"
    csv_file.write_text("Deal,Status,Closed,Company\nD-1,won,2024-02-01,Acme\nD-2,lost,2024-03-01,Initech\n")
    mapping = tmp_path / "mapping.json"
    targets = {"Deal": "external_id", "Status": "outcome", "Closed": "closed_at", "Company": "company_name"}
    mapping.write_text(json.dumps(targets))

    first = run_command(str(csv_file), "--mapping", str(mapping), "--source", "partner")
    again = run_command(str(csv_file), "--mapping", str(mapping))

    assert "Created: 2\nUpdated: 0\nErrors: 0\nNew leads by outcome:\n  Customer: 1 (50.0 %)\n" in first
    assert "  Lost: 1 (50.0 %)\n" in first
    assert "Created: 0\nUpdated: 2\nErrors: 0\n" in again
    assert "none (leads that existed already keep their stage)" in again
    d1 = Lead.objects.get(email="d-1@history.invalid")
    assert (d1.stage, d1.company_name, d1.source) == ("customer", "Acme", "partner")
    assert Lead.objects.count() == 2
    assert LeadImport.objects.filter(status="done").count() == 2


def test_the_command_refuses_a_mapping_that_cannot_run_and_keeps_nothing(tmp_path):
    csv_file = tmp_path / "deals.csv"
    csv_file.write_text("Deal,Status\nD-1,won\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Status": "outcome"}))

    with pytest.raises(CommandError, match="Map a column to E-mail or to Record ID"):
        run_command(str(csv_file), "--mapping", str(mapping))
    with pytest.raises(CommandError, match="does not fit the preset 'x-education'"):
        run_command(str(csv_file), "--preset", "x-education")

    assert not LeadImport.objects.exists()
    assert not Lead.objects.exists()


@needs_file
def test_the_x_education_file_imports_whole_with_its_outcomes(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # with scoring's promotions, as in real life
        output = run_command(str(DATA), "--preset", "x-education")

    assert "Created: 9,240\nUpdated: 0\nErrors: 0\n" in output
    assert "  Customer: 3,561 (38.5 %)\n  Lost: 5,679 (61.5 %)\n" in output
    assert Lead.objects.count() == 9240
    assert Lead.objects.filter(stage="customer").count() == 3561
    assert Lead.objects.filter(stage="lost").count() == 5679
    assert not Handoff.objects.exists()
    first = Lead.objects.get(email="7927b2df-8bba-4d29-b9a2-b6e0beafe620@history.invalid")
    assert first.stage == "lost"
    assert first.custom["lead_source"] == "Olark Chat"
    assert first.custom["lead_number"] == "660737"
    assert first.custom["total_time_spent_on_website"] == "0"
    second = Lead.objects.get(email="2a272436-5132-4136-86fa-dcc88c88f482@history.invalid")
    assert (second.custom["total_time_spent_on_website"], second.custom["country"]) == ("674", "India")
    # Every column but the id and the outcome is a custom attribute (blank cells are not stored).
    names = {target[len("custom:") :] for target in X_EDUCATION.values() if target.startswith("custom:")}
    assert set().union(*Lead.objects.values_list("custom", flat=True)) == names
    assert len(names) == 35


def test_the_x_education_mapping_is_the_one_documented():
    doc = (ROOT / "docs" / "history-import.md").read_text(encoding="utf-8")

    for header, target in X_EDUCATION.items():
        assert re.search(rf"^\| {re.escape(header)} \| [^\n]*`{re.escape(target)}`", doc, re.M), header
    assert len(X_EDUCATION) == 37
