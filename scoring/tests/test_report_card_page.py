"""The report card page (/scoring/report/): what it shows, its CSV downloads (safe to open in a
spreadsheet), "Try it in a draft" (the suggested points land in the draft, the published
version stays as it was), and who may do what: Sales and Managers read, Marketing and Admin
also try suggestions, anyone else gets 403."""

import csv
import html as html_lib
import io
import re
from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from leads.models import Activity, Lead
from scoring import services
from scoring.models import EngagementRule, FitRule, LeadScore, PredictiveSettings, RuleSet
from scoring.report_card import copy_in_draft
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.scoring_page import cell as raw_cell
from scoring.tests.scoring_page import snapshot

pytestmark = pytest.mark.django_db

URL = "/scoring/report/"
_emails = count()


def lead(stage: str, *, rules: RuleSet, total: int = 0, grade: str = "D", **fields) -> Lead:
    new = Lead.objects.create(email=f"page{next(_emails)}@example.com", stage=stage, **fields)
    LeadScore.objects.create(lead=new, rule_set=rules, total=total, grade=grade)
    return new


@pytest.fixture
def card_data():
    """100 leads with an outcome, 20 converted (20 %). The 30 from events convert at 60 %
    (3× the average) but get +1; the rule set's other rules give 10 (typical points: 10), so
    the card suggests round(10 × log2 3) = +16 for events."""
    rules = published_rule_set(
        fit=[
            fit_group("Source", [fit_rule("source", "equals", "event", 1)]),
            fit_group("Title", [fit_rule("job_title", "contains", "ceo", 10)]),
            fit_group("Industry", [fit_rule("industry", "equals", "software", 10)]),
        ]
    )
    for _ in range(18):
        lead("customer", rules=rules, total=40, grade="A", source="event")
    for _ in range(12):
        lead("lost", rules=rules, total=10, grade="C", source="event")
    for _ in range(2):
        lead("customer", rules=rules, total=20, grade="B", source="referral")
    for _ in range(68):
        lead("lost", rules=rules, total=0, grade="D", source="referral")
    lead("new", rules=rules, total=40, grade="A", source="event")  # open: not on the card
    return rules


def event_rule(rule_set: RuleSet) -> FitRule:
    return FitRule.objects.get(group__rule_set=rule_set, field="source")


def state_of(rule_set: RuleSet) -> list:
    """The rule set's settings and rules (see ``snapshot``)."""
    return [state for state in snapshot() if state[0] == rule_set.pk]


def try_url(rule: FitRule) -> str:
    return f"/scoring/report/rules/fit/{rule.pk}/try/"


# --- what the page shows --------------------------------------------------------------------------


def test_the_page_shows_the_summary_grades_deciles_and_rules(page_as, manager, card_data):
    response = page_as(manager).get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "How these numbers are made" in html
    assert (cell_strong(html, "leads"), cell_strong(html, "converted"), cell_strong(html, "rate")) == (
        "100",
        "20",
        "20.0 %",
    )
    # Every converted lead (40 or 20) is above every lost one (10 or 0): a perfect AUC.
    assert cell_strong(html, "auc") == "1.000"
    assert [cell(html, f"grade-{g}-rate") for g in "ABCD"] == ["100.0 %", "100.0 %", "0.0 %", "0.0 %"]
    assert cell(html, "grade-A-lift") == "5.00×"
    # Ten leads a decile: the 18 at 40 and 2 at 20 fill the first two.
    assert [cell(html, f"decile-{d}-rate") for d in range(1, 11)] == ["100.0 %"] * 2 + ["0.0 %"] * 8
    assert cell(html, "decile-1-totals") == "40"
    rule = event_rule(card_data)
    assert cell(html, f"rule-fit-{rule.pk}-matched") == "30"
    assert cell(html, f"rule-fit-{rule.pk}-rate-matched") == "60.0 %"
    assert cell(html, f"rule-fit-{rule.pk}-rate-unmatched") == "2.9 %"  # 2 of 70
    assert cell(html, f"rule-fit-{rule.pk}-lift") == "3.00×"
    assert "the rule gives +1: consider more, about +16" in html
    assert 'id="report-card-data"' in html and "js/report-card.js" in html
    assert "chartjs-4.6.1/chart.umd.min.js" in html


def cell(html: str, name: str) -> str:
    """The text of the table cell marked data-cell="name", entities read (``&nbsp;`` a blank)."""
    return html_lib.unescape(raw_cell(html, name)).replace("\xa0", " ")


def cell_strong(html: str, name: str) -> str:
    """The figure of the summary marked data-cell="name"."""
    match = re.search(rf'<strong data-cell="{name}">(.*?)</strong>', html, re.S)
    assert match, name
    return match.group(1).strip()


def test_the_chart_data_is_in_a_json_script_block(page_as, manager, card_data):
    response = page_as(manager).get(URL)

    data = response.context["card"].chart_data()
    assert data["grades"] == {
        "labels": ["A", "B", "C", "D"],
        "rate": [100.0, 100.0, 0.0, 0.0],
        "leads": [18, 2, 12, 68],
    }
    assert data["deciles"]["lift"] == [5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert data["overall_rate"] == 20.0


def test_without_outcomes_the_page_says_so(page_as, manager):
    rules = published_rule_set(fit=[fit_group("Title", [fit_rule("job_title", "contains", "ceo", 10)])])
    lead("new", rules=rules)

    html = page_as(manager).get(URL).content.decode()

    assert "No lead has an outcome yet" in html
    assert "Not enough outcomes for the ROC AUC" in html
    assert 'data-testid="export-grades"' not in html


def test_without_a_published_version_the_page_says_so(page_as, manager):
    RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).update(status=RuleSet.Status.ARCHIVED)

    response = page_as(manager).get(URL)

    assert response.status_code == 200
    assert "Nothing is published" in response.content.decode()
    assert page_as(manager).get(URL + "?export=rules").status_code == 404


def test_a_recycled_lead_counts_as_not_converted_once_back_from_sales_for_the_predictive_days(
    page_as, manager
):
    """The same leads as the predictive model learns from: its setting says how long a lead
    sent back by sales must stay away before it counts as not converted."""
    PredictiveSettings.objects.update_or_create(pk=1, defaults={"recycled_after_days": 30})
    rules = published_rule_set()
    lead("customer", rules=rules, grade="A")
    long_ago = lead("recycled", rules=rules, grade="A")
    recently = lead("recycled", rules=rules, grade="A")
    Lead.objects.filter(pk=long_ago.pk).update(stage_changed_at=timezone.now() - timedelta(days=31))
    Lead.objects.filter(pk=recently.pk).update(stage_changed_at=timezone.now() - timedelta(days=29))

    html = page_as(manager).get(URL).content.decode()

    assert (cell(html, "grade-A-leads"), cell(html, "grade-A-rate")) == ("2", "50.0 %")
    assert "(30 days)" in html


def test_the_scoring_overview_links_to_the_report_card(page_as, sdr):
    html = page_as(sdr).get("/scoring/").content.decode()

    assert 'href="/scoring/report/"' in html and 'data-testid="report-card-link"' in html


# --- CSV ------------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_each_table_downloads_as_csv(page_as, sdr, card_data):
    client = page_as(sdr)

    grades = read_csv(client.get(URL + "?export=grades"))
    deciles = read_csv(client.get(URL + "?export=deciles"))
    rules = read_csv(client.get(URL + "?export=rules"))

    assert grades == [
        ["grade", "leads with an outcome", "converted", "conversion rate %", "lift"],
        ["A", "18", "18", "100.0", "5.00"],
        ["B", "2", "2", "100.0", "5.00"],
        ["C", "12", "0", "0.0", "0.00"],
        ["D", "68", "0", "0.0", "0.00"],
    ]
    assert deciles[0][0] == "decile" and len(deciles) == 11
    assert deciles[1] == ["1", "40", "40", "10", "10", "100.0", "5.00"]
    # Highest first: 18 at 40 and 2 at 20 (converted), then 12 at 10 and 68 at 0 (lost).
    assert deciles[2] == ["2", "20", "40", "10", "10", "100.0", "5.00"]
    assert deciles[3] == ["3", "10", "10", "10", "0", "0.0", "0.00"]
    assert deciles[4] == ["4", "0", "10", "10", "0", "0.0", "0.00"]
    assert rules[0][:4] == ["kind", "group", "rule", "points"]
    assert rules[1] == [
        "fit",
        "Source",
        "Source equals “event”",
        "1",
        "30",
        "18",
        "60.0",
        "70",
        "2",
        "2.9",
        "3.00",
        "16",
        "Leads that match convert 3.0× the average; the rule gives +1: consider more, about +16.",
    ]
    assert client.get(URL + "?export=leads").status_code == 404


def test_the_csv_cannot_run_a_formula_in_a_spreadsheet(page_as, marketer):
    rules = published_rule_set(
        fit=[
            fit_group('=HYPERLINK("http://evil")', [fit_rule("job_title", "equals", "x", 5)]),
            fit_group("@SUM(A1)", [fit_rule("job_title", "equals", "y", 5)]),
            fit_group("+1", [fit_rule("job_title", "equals", "z", 5)]),
        ]
    )
    lead("customer", rules=rules)
    lead("lost", rules=rules)

    rows = read_csv(page_as(marketer).get(URL + "?export=rules"))

    assert [row[1] for row in rows[1:]] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)", "'+1"]
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


# --- Try it in a draft ----------------------------------------------------------------------------


def test_try_it_in_a_draft_starts_a_draft_with_the_suggested_points(page_as, marketer, card_data):
    client = page_as(marketer)
    published_before = state_of(card_data)
    rule = event_rule(card_data)
    assert f'action="{try_url(rule)}"' in client.get(URL).content.decode()

    response = client.post(try_url(rule), follow=True)

    draft = RuleSet.objects.get(status=RuleSet.Status.DRAFT)
    copy = event_rule(draft)
    assert response.redirect_chain == [(f"/scoring/draft/#fit-rule-{copy.pk}", 302)]
    assert copy.points == 16
    assert "In the draft, Source equals “event” now gives +16 points (was +1)" in response.content.decode()
    # The published version is as it was; the draft's other rules are the published ones.
    assert state_of(card_data) == published_before
    assert event_rule(card_data).points == 1
    assert sorted(FitRule.objects.filter(group__rule_set=draft).values_list("field", "points")) == [
        ("industry", 10),
        ("job_title", 10),
        ("source", 16),
    ]


def test_try_it_in_a_draft_reuses_the_draft_there_is(page_as, marketer, card_data):
    draft = services.start_draft()
    FitRule.objects.filter(group__rule_set=draft, field="industry").update(points=7)  # an edit in progress

    page_as(marketer).post(try_url(event_rule(card_data)))

    assert list(RuleSet.objects.filter(status=RuleSet.Status.DRAFT)) == [draft]
    assert sorted(FitRule.objects.filter(group__rule_set=draft).values_list("field", "points")) == [
        ("industry", 7),
        ("job_title", 10),
        ("source", 16),
    ]


def test_a_draft_whose_copy_of_the_rule_was_changed_is_left_alone(page_as, marketer, card_data):
    draft = services.start_draft()
    FitRule.objects.filter(group__rule_set=draft, field="source").update(value="webinar")
    before = snapshot()

    response = page_as(marketer).post(try_url(event_rule(card_data)), follow=True)

    assert response.redirect_chain == [("/scoring/draft/", 302)]
    assert "set its points by hand (suggested: +16)" in response.content.decode()
    assert snapshot() == before


def test_a_rule_without_a_suggestion_changes_nothing(page_as, marketer, card_data):
    ceo = FitRule.objects.get(group__rule_set=card_data, field="job_title")
    before = snapshot()

    response = page_as(marketer).post(try_url(ceo), follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "There is no suggestion" in response.content.decode()
    assert snapshot() == before
    assert not RuleSet.objects.filter(status=RuleSet.Status.DRAFT).exists()


def test_only_a_rule_of_the_published_version_can_be_tried(page_as, marketer, card_data):
    draft = services.start_draft()
    client = page_as(marketer)
    before = snapshot()

    assert client.post(try_url(event_rule(draft))).status_code == 302  # back to the card, with a message
    assert client.post(f"/scoring/report/rules/bogus/{event_rule(card_data).pk}/try/").status_code == 404
    assert client.get(try_url(event_rule(card_data))).status_code == 405
    assert snapshot() == before


def test_a_suggestion_for_an_engagement_rule_goes_into_the_drafts_copy_of_it(page_as, marketer):
    rules = published_rule_set(
        fit=[fit_group("Title", [fit_rule("job_title", "contains", "ceo", 10)])],
        engagement=[
            engagement_rule("Webinar attended", "webinar_attended", 1),
            engagement_rule("Demo", "demo_requested", 10),
        ],
    )
    # 100 leads, 20 converted; the 30 who attended a webinar convert at 60 %: 3× the average.
    attendees = [lead("customer", rules=rules) for _ in range(18)] + [
        lead("lost", rules=rules) for _ in range(12)
    ]
    for attendee in attendees:
        Activity.objects.create(lead=attendee, kind="webinar_attended", occurred_at=timezone.now())
    for stage, n in (("customer", 2), ("lost", 68)):
        for _ in range(n):
            lead(stage, rules=rules)
    webinar = EngagementRule.objects.get(rule_set=rules, activity_kind="webinar_attended")

    response = page_as(marketer).post(f"/scoring/report/rules/engagement/{webinar.pk}/try/")

    copy = EngagementRule.objects.get(rule_set__status=RuleSet.Status.DRAFT, activity_kind="webinar_attended")
    assert response["Location"] == f"/scoring/draft/#engagement-rule-{copy.pk}"
    assert (copy.points, EngagementRule.objects.get(pk=webinar.pk).points) == (16, 1)


def test_of_two_rules_alike_the_draft_copy_at_the_same_place_is_changed():
    rules = published_rule_set(
        fit=[
            fit_group(
                "Title",
                [fit_rule("job_title", "contains", "vp", 5), fit_rule("job_title", "contains", "vp", 7)],
            )
        ]
    )
    draft = services.start_draft()
    first, second = FitRule.objects.filter(group__rule_set=rules).order_by("position")

    assert copy_in_draft(draft, "fit", first).points == 5
    assert copy_in_draft(draft, "fit", second).points == 7


# --- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_read_the_card_but_cannot_try_suggestions(page_as, request, role, card_data):
    client = page_as(request.getfixturevalue(role))
    before = snapshot()

    html = client.get(URL).content.decode()

    assert "consider more, about +16" in html
    assert "Try it in a draft" not in html and "/try/" not in html
    assert client.get(URL + "?export=rules").status_code == 200
    assert client.post(try_url(event_rule(card_data))).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("role", ["marketer", "admin_user"])
def test_marketing_and_admin_see_try_it_in_a_draft(page_as, request, role, card_data):
    html = page_as(request.getfixturevalue(role)).get(URL).content.decode()

    assert "Try it in a draft" in html


def test_a_user_without_a_role_gets_403(page_as, nobody, card_data):
    client = page_as(nobody)

    assert client.get(URL).status_code == 403
    assert client.get(URL + "?export=grades").status_code == 403
    assert client.post(try_url(event_rule(card_data))).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, card_data):
    before = snapshot()

    for response in (client.get(URL), client.post(try_url(event_rule(card_data)))):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert snapshot() == before
