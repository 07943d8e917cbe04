"""The scoring overview: the published rule set with its thresholds, decay and rules, the
grid of leads per fit grade and temperature, and every version, each with a read-only page."""

import pytest

from leads.tests.factories import LeadFactory
from scoring import services
from scoring.models import LeadScore, RuleSet, Temperature
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.scoring_page import HTMX, cell

pytestmark = pytest.mark.django_db


def test_the_overview_shows_the_published_rules(page_as, sdr):
    published_rule_set(
        name="Autumn scoring",
        fit=[fit_group("Seniority", [fit_rule("job_title", "contains", "director", 20)], max_points=30)],
        engagement=[
            engagement_rule(
                "Pricing page",
                "page_view",
                8,
                property_name="url",
                operator="contains",
                value="/pricing",
                max_occurrences=3,
                window_days=30,
            )
        ],
        warm_threshold=12,
        hot_threshold=35,
        half_life_days=14,
        inactivity_days=60,
        inactivity_points=-7,
    )

    html = page_as(sdr).get("/scoring/").content.decode()

    assert "<strong>Autumn scoring v2</strong>" in html
    assert "warm from 12, hot from 35 engagement points" in html
    assert "A from 40, B from 25, C from 10 fit points" in html
    assert "engagement points halve every 14 days" in html
    assert "-7 points after 60 days without activity" in html
    assert "Seniority" in html and "at most 30 points" in html
    assert "contains “director”" in html and "+20" in html
    assert "url contains “/pricing”" in html
    assert "the latest 3" in html and "last 30 days" in html


def test_the_grid_counts_the_leads_per_grade_and_temperature(page_as, sdr):
    rule_set = services.published_rule_set()
    cells = [("A", Temperature.HOT), ("A", Temperature.HOT), ("A", Temperature.COLD), ("C", Temperature.WARM)]
    for grade, temperature in cells:
        LeadScore.objects.create(lead=LeadFactory(), rule_set=rule_set, grade=grade, temperature=temperature)

    client = page_as(sdr)
    html = client.get("/scoring/").content.decode()
    fragment = client.get("/scoring/grid/", **HTMX).content.decode()

    assert (cell(html, "A-hot"), cell(html, "A-warm"), cell(html, "A-cold"), cell(html, "A-all")) == (
        "2",
        "0",
        "1",
        "3",
    )
    assert cell(html, "C-warm") == "1"
    assert cell(html, "D-all") == "0"
    assert "4 scored leads" in html
    assert fragment.lstrip().startswith('<section id="grade-grid"')
    assert cell(fragment, "A-hot") == "2"


def test_the_versions_are_listed_newest_first_with_the_draft_on_top(page_as, marketer):
    starter = services.published_rule_set()
    draft = services.start_draft(by=marketer)

    html = page_as(marketer).get("/scoring/").content.decode()

    rows = html[html.index('data-testid="versions"') :]
    assert rows.index(f'data-testid="version-{draft.pk}"') < rows.index(f'data-testid="version-{starter.pk}"')
    draft_row = rows[rows.index(f'data-testid="version-{draft.pk}"') :].split("</tr>")[0]
    assert "Draft" in draft_row and 'href="/scoring/draft/"' in draft_row
    starter_row = rows[rows.index(f'data-testid="version-{starter.pk}"') :].split("</tr>")[0]
    assert "v1" in starter_row and "Published" in starter_row
    assert "15 fit, 12 engagement" in starter_row


def test_a_version_page_shows_its_rules_read_only(page_as, marketer):
    starter = services.published_rule_set()
    draft = services.start_draft(by=marketer)
    services.publish(draft, by=marketer)
    client = page_as(marketer)

    archived = client.get(f"/scoring/versions/{starter.pk}/")
    published = client.get(f"/scoring/versions/{draft.pk}/")

    html = archived.content.decode()
    assert archived.status_code == 200
    assert "<h1>Starter scoring v1</h1>" in html
    assert '<span class="badge ruleset-archived" data-testid="version-status">Archived</span>' in html
    assert "Demo requested" in html
    assert "contains “director, head of”" in html
    assert f'action="/scoring/versions/{starter.pk}/restore/"' in html
    assert "/scoring/draft/" not in html  # no editing here
    other = published.content.decode()
    assert "Published" in other and f"by {marketer.username}" in other
    assert "/restore/" not in other


def test_an_unknown_version_is_not_found(page_as, sdr):
    assert page_as(sdr).get(f"/scoring/versions/{RuleSet.objects.count() + 100}/").status_code == 404
