"""The points a model suggests for the published rules (``scoring.suggestions``), and the
scoring page's "Model suggests" column with its "Make a draft with these points" button.

The main data set is synthetic with a known truth: 1,200 closed leads whose odds of
conversion are multiplied by 4 in the software industry, divided by 4 for students, and not
moved at all by being in Germany; the published rules give these the wrong points on purpose
(software +5, student +10, DE +20). Every cell of (software, student, DE) converts at exactly the
rate that truth gives, so the model should find log2 4 = 2 doublings of the odds for software
(2 × the typical 10 points), −2 for students and none for Germany."""

import random
from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from leads.models import Activity, Lead, Stage
from scoring import services
from scoring.models import EngagementRule, FitRule, RuleSet
from scoring.report_card import ENGAGEMENT, FIT
from scoring.suggestions import suggestions, training_data
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.scoring_page import HTMX, cell, snapshot

pytestmark = pytest.mark.django_db

URL = "/scoring/suggestions/"
DRAFT_URL = "/scoring/suggestions/draft/"
LEADS = 1200
TYPICAL = 10  # the median of 5, 10, 10, 20
_emails = count()


def rules() -> RuleSet:
    return published_rule_set(
        fit=[
            fit_group("Industry", [fit_rule("industry", "equals", "software", 5)]),
            fit_group("Title", [fit_rule("job_title", "contains", "student", 10)]),
            fit_group("Country", [fit_rule("country", "equals", "DE", 20)]),
        ],
        engagement=[engagement_rule("Webinar", "webinar_attended", 10)],
    )


def closed_leads(n: int = LEADS, *, seed: int = 7) -> list[Lead]:
    """``n`` closed leads with the known truth (module docstring); their outcome 30 days ago.
    Every won lead attends a webinar two days *after* its outcome; every fifth lost lead
    attended one three days *before* it."""
    rng = random.Random(seed)
    outcome_at = timezone.now() - timedelta(days=30)
    cells: dict[tuple[bool, bool, bool], list[Lead]] = {}
    for _ in range(n):
        software, student, germany = rng.random() < 1 / 3, rng.random() < 1 / 4, rng.random() < 1 / 3
        lead = Lead(
            email=f"suggest{next(_emails)}@example.com",
            industry="software" if software else rng.choice(["finance", "retail", "healthcare"]),
            job_title="Student of economics" if student else rng.choice(["Engineer", "CFO", "Analyst"]),
            country="DE" if germany else rng.choice(["FR", "US", "GB"]),
            stage_changed_at=outcome_at,
        )
        cells.setdefault((software, student, germany), []).append(lead)
    for (software, student, _), members in cells.items():
        odds = 0.5 * (4 if software else 1) / (4 if student else 1)
        won = round(len(members) * odds / (1 + odds))
        for i, lead in enumerate(members):
            lead.stage = Stage.CUSTOMER if i < won else (Stage.LOST if i % 2 else Stage.DISQUALIFIED)
    created = Lead.objects.bulk_create([lead for members in cells.values() for lead in members])
    lost = [lead for lead in created if lead.stage != Stage.CUSTOMER]
    Activity.objects.bulk_create(
        [
            Activity(lead=lead, kind="webinar_attended", occurred_at=outcome_at + timedelta(days=2))
            for lead in created
            if lead.stage == Stage.CUSTOMER
        ]
        + [
            Activity(lead=lead, kind="webinar_attended", occurred_at=outcome_at - timedelta(days=3))
            for lead in lost[::5]
        ]
    )
    return created


@pytest.fixture
def data() -> RuleSet:
    rule_set = rules()
    closed_leads()
    return rule_set


def suggested(result, kind: str, **condition):
    model = FitRule if kind == FIT else EngagementRule
    rule = model.objects.get(**condition)
    return next(row for row in result.rules if (row.kind, row.rule.pk) == (kind, rule.pk))


# --- the numbers ----------------------------------------------------------------------------------


def test_the_model_finds_the_known_effects_whatever_the_points_say(data):
    result = suggestions()

    assert result.refused == ""
    assert (result.leads, result.typical_points) == (LEADS, TYPICAL)
    software = suggested(result, FIT, group__rule_set=data, value="software")
    student = suggested(result, FIT, group__rule_set=data, value="student")
    germany = suggested(result, FIT, group__rule_set=data, value="DE")
    # Odds × 4: two doublings, 2 × the typical points.
    assert software.odds_ratio == pytest.approx(4, rel=0.25)
    assert 2 * TYPICAL - 4 <= software.suggested <= 2 * TYPICAL + 4
    assert -2 * TYPICAL - 4 <= student.suggested <= -2 * TYPICAL + 4
    assert student.odds_ratio == pytest.approx(1 / 4, rel=0.3)
    assert abs(germany.suggested) <= 2
    assert (software.points, student.points, germany.points) == (5, 10, 20)
    assert software.matched == Lead.objects.filter(industry="software").count()
    assert software.changes and student.changes and germany.changes


def test_activities_after_the_outcome_earn_no_credit(data):
    """Every customer attended a webinar, but only after becoming one: the model must not see
    it. Before their outcome only lost leads attended, so the webinar counts against."""
    result = suggestions()

    webinar = suggested(result, ENGAGEMENT, rule_set=data)
    attended_before = Activity.objects.filter(lead__stage__in=[Stage.LOST, Stage.DISQUALIFIED]).count()
    assert webinar.matched == attended_before
    assert webinar.coefficient < 0
    assert webinar.suggested < 0


def test_too_few_closed_leads_are_refused_with_the_reason():
    rules()
    closed_leads(150)
    Lead.objects.create(email="open@example.com", stage=Stage.SQL)  # still open: not counted

    result = suggestions()

    assert result.rules == []
    assert result.refused.startswith("Suggestions need at least 200 closed leads, with at least 20 customers")
    assert "there are 150 (" in result.refused


def test_nothing_published_means_no_suggestions():
    RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).update(status=RuleSet.Status.ARCHIVED)

    assert suggestions() is None


def test_the_columns_count_matches_and_occurrences_up_to_the_outcome_within_the_cap():
    rule_set = published_rule_set(
        fit=[fit_group("Title", [fit_rule("job_title", "contains", "director", 10)])],
        engagement=[
            engagement_rule("Pages", "page_view", 1),
            engagement_rule(
                "Pricing",
                "page_view",
                5,
                property_name="url",
                operator="contains",
                value="/pricing",
                max_occurrences=2,
            ),
        ],
    )
    now = timezone.now()
    outcome = now - timedelta(days=10)
    won = Lead.objects.create(email="won@example.com", job_title="Director", stage="customer")
    lost = Lead.objects.create(email="lost@example.com", job_title="Analyst", stage="lost")
    old_recycled = Lead.objects.create(email="old@example.com", stage="recycled")
    new_recycled = Lead.objects.create(email="new@example.com", stage="recycled")
    Lead.objects.create(email="open@example.com", job_title="Director", stage="sql")
    Lead.objects.filter(pk__in=[won.pk, lost.pk]).update(stage_changed_at=outcome)
    Lead.objects.filter(pk=old_recycled.pk).update(stage_changed_at=now - timedelta(days=100))
    Lead.objects.filter(pk=new_recycled.pk).update(stage_changed_at=now - timedelta(days=5))
    pricing = {"url": "https://example.com/pricing"}
    views = [(outcome - timedelta(hours=hours), pricing) for hours in (1, 2, 3)]
    views += [(outcome, {"url": "/blog"}), (outcome + timedelta(hours=1), pricing)]  # at the outcome; after
    Activity.objects.bulk_create(
        [Activity(lead=won, kind="page_view", occurred_at=at, properties=url) for at, url in views]
        + [Activity(lead=lost, kind="download", occurred_at=outcome - timedelta(days=1))]
    )

    data = training_data(rule_set)

    # The open lead and the lead recycled 5 days ago (under the 90 days) have no outcome yet.
    assert data.ids == [won.pk, lost.pk, old_recycled.pk]
    assert data.won.tolist() == [1, 0, 0]
    # Director; page views up to the outcome (4, not the one after); pricing views capped at 2.
    assert data.x.tolist() == [[1, 4, 2], [0, 0, 0], [0, 0, 0]]


# --- the page ---------------------------------------------------------------------------------------


def test_the_scoring_page_has_the_column_and_loads_it_with_htmx(page_as, marketer, data):
    html = page_as(marketer).get("/scoring/").content.decode()

    assert "Model suggests" in html
    assert f'hx-get="{URL}" hx-trigger="load"' in html
    rule = FitRule.objects.get(group__rule_set=data, value="software")
    assert cell(html, f"suggest-fit-{rule.pk}") == "…"  # until htmx brings the numbers


def test_the_column_shows_each_rules_suggested_points(page_as, marketer, data):
    response = page_as(marketer).get(URL, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="published-rules"')
    assert "<html" not in html
    result = suggestions()
    for row in result.rules:
        assert cell(html, f"suggest-{row.kind}-{row.rule.pk}") == f"{row.suggested:+d}"
    assert f'learned from <strong data-cell="suggestions-leads">{LEADS:,}</strong> leads' in html
    assert 'data-testid="suggestions-draft"' in html


def test_without_htmx_the_suggestions_are_a_page_of_their_own(page_as, manager, data):
    response = page_as(manager).get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Suggested points</h1>" in html and "How these points are made" in html
    rule = FitRule.objects.get(group__rule_set=data, value="software")
    assert int(cell(html, f"suggest-fit-{rule.pk}")) > TYPICAL
    assert 'data-testid="suggestions-draft"' not in html  # a manager does not edit rules


def test_the_page_says_why_there_are_no_suggestions_yet(page_as, marketer):
    rule_set = rules()
    closed_leads(60)

    html = page_as(marketer).get(URL, **HTMX).content.decode()

    assert "Suggestions need at least 200 closed leads" in html
    rule = FitRule.objects.get(group__rule_set=rule_set, value="software")
    assert cell(html, f"suggest-fit-{rule.pk}") == "—"
    assert 'data-testid="suggestions-draft"' not in html


def test_make_a_draft_sets_the_suggested_points_and_leaves_the_published_version(page_as, marketer, data):
    client = page_as(marketer)
    expected = {(row.kind, row.rule.pk): row.suggested for row in suggestions().rules}
    published_before = [state for state in snapshot() if state[0] == data.pk]

    response = client.post(DRAFT_URL)

    assert response.status_code == 302
    assert response["Location"] == "/scoring/draft/#draft-preview"
    draft = services.draft_rule_set()
    assert draft.based_on == data
    for (kind, pk), points in expected.items():
        original = (FitRule if kind == FIT else EngagementRule).objects.get(pk=pk)
        from scoring.report_card import copy_in_draft

        assert copy_in_draft(draft, kind, original).points == points
    assert [state for state in snapshot() if state[0] == data.pk] == published_before
    assert services.published_rule_set() == data
    page = client.get("/scoring/draft/").content.decode()
    assert "the points the model suggests" in page and "Preview the draft" in page


def test_make_a_draft_uses_the_draft_there_is(page_as, marketer, data):
    client = page_as(marketer)
    draft = services.start_draft(by=marketer)

    client.post(DRAFT_URL)

    assert RuleSet.objects.filter(status=RuleSet.Status.DRAFT).get() == draft
    software = FitRule.objects.get(group__rule_set=draft, value="software")
    assert software.points > TYPICAL


def test_a_sales_rep_sees_the_suggestions_but_cannot_make_a_draft(page_as, sdr, data):
    client = page_as(sdr)

    html = client.get(URL, **HTMX).content.decode()
    response = client.post(DRAFT_URL)

    assert 'data-testid="suggestions-draft"' not in html
    assert response.status_code == 403
    assert not RuleSet.objects.filter(status=RuleSet.Status.DRAFT).exists()


def test_someone_without_a_role_sees_no_suggestions(page_as, nobody):
    assert page_as(nobody).get(URL).status_code == 403
    assert page_as(nobody).post(DRAFT_URL).status_code == 403


def test_make_a_draft_needs_a_post(page_as, marketer, data):
    assert page_as(marketer).get(DRAFT_URL).status_code == 405


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_column_fills_in_and_the_button_makes_the_draft(page, marketer):
    from playwright.sync_api import expect

    from conftest import log_in

    rule_set = rules()
    closed_leads()
    software = FitRule.objects.get(group__rule_set=rule_set, value="software")
    expected = suggested(suggestions(), FIT, pk=software.pk).suggested

    log_in(page, "marketer")
    page.goto("/scoring/")

    expect(page.locator(f'[data-cell="suggest-fit-{software.pk}"]')).to_have_text(f"{expected:+d}")
    page.get_by_role("button", name="Make a draft with these points").click()

    expect(page.get_by_text("the points the model suggests")).to_be_visible()
    expect(page).to_have_url("/scoring/draft/#draft-preview")
    assert (
        FitRule.objects.get(group__rule_set__status=RuleSet.Status.DRAFT, value="software").points == expected
    )
    assert FitRule.objects.get(pk=software.pk).points == 5
