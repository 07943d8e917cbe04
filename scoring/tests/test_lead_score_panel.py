"""The score panel of the lead page: the score, rule by rule, its history and its chart."""

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.utils import timezone
from playwright.sync_api import expect

from conftest import log_in
from leads import services as lead_services
from leads.models import Lead
from leads.tests.factories import LeadFactory
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def director_and_pricing(**settings):
    """Job titles with "director" are worth 20, each pricing page view 10."""
    return published_rule_set(
        fit=[fit_group("Job title", [fit_rule("job_title", "contains", "director", 20)])],
        engagement=[engagement_rule("Pricing page", "page_view", 10, property_name="url", value="/pricing")],
        **settings,
    )


def new_lead(**data) -> Lead:
    return lead_services.create_lead(email=f"lead{Lead.objects.count()}@example.com", data=data)


def view_pricing(lead: Lead, *, at=None) -> None:
    lead_services.record_activity(lead, kind="page_view", occurred_at=at, properties={"url": "/pricing"})


def panel(client, lead) -> str:
    response = client.get(f"/scoring/leads/{lead.pk}/", headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def rows(html: str, css_class: str) -> list[str]:
    """The text of each table row (or list item) with this class, tags and spacing removed."""
    return [text(m) for m in re.findall(rf'<(?:tr|li) class="{css_class}">(.*?)</(?:tr|li)>', html, re.S)]


def test_the_lead_page_loads_the_score_panel_with_htmx(page_as, sdr):
    lead = LeadFactory()

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    placeholder = re.search(r'<section id="lead-score"[^>]*>', html).group(0)
    assert f'hx-get="/scoring/leads/{lead.pk}/"' in placeholder
    assert 'hx-trigger="load"' in placeholder
    assert "/static/vendor/chartjs-4.6.1/chart.umd.min.js" in html
    assert "/static/js/score-chart.js" in html


def test_the_lead_page_has_no_score_panel_for_a_user_who_may_not_read_scores(page_as, make_user):
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(content_type__app_label="leads", codename="view_lead"))
    lead = LeadFactory()

    response = page_as(reader).get(f"/leads/{lead.pk}/")

    assert response.status_code == 200
    assert 'id="lead-score"' not in response.content.decode()
    assert page_as(reader).get(f"/scoring/leads/{lead.pk}/").status_code == 403


def test_the_panel_shows_total_fit_engagement_grade_temperature_and_the_rule_set(page_as, sdr):
    rule_set = director_and_pricing(
        grade_a_threshold=20, grade_b_threshold=10, grade_c_threshold=5, warm_threshold=10, hot_threshold=20
    )
    lead = new_lead(job_title="Marketing Director")
    view_pricing(lead)
    view_pricing(lead)

    html = panel(page_as(sdr), lead)

    assert re.search(r'data-testid="score-total">40</strong>', html)
    assert re.search(r'data-testid="score-label">A · hot</span>', html)
    assert "fit 20 · engagement 20" in html
    assert f"Lead scoring v{rule_set.version}, scored" in text(html)


def test_the_panel_explains_the_score_rule_by_rule(page_as, manager):
    published_rule_set(
        fit=[
            fit_group("Job title", [fit_rule("job_title", "contains", "director", 20)]),
            fit_group("Company size", [fit_rule("company_size", "equals", "1-10", -10)]),
        ],
        engagement=[
            engagement_rule("Pricing page", "page_view", 10, property_name="url", value="/pricing"),
            engagement_rule("Webinar attended", "webinar_attended", 12),
        ],
    )
    lead = new_lead(job_title="Marketing Director", company_size="201-500")
    view_pricing(lead)
    view_pricing(lead)

    html = panel(page_as(manager), lead)

    assert rows(html, "score-group-head") == ["Job title 20", "Company size 0"]
    assert rows(html, "score-rule") == [
        "Job title contains “director” +20",
        "No rule matched.",
        "Pricing page 2 × +10 +20",
    ]
    assert "Webinar attended" not in html
    assert re.search(r"<th scope=\"row\">Total</th><th class=\"points\">40</th>", html)


def test_a_group_over_its_maximum_says_it_is_capped(page_as, sdr):
    published_rule_set(
        fit=[
            fit_group(
                "Job title",
                [
                    fit_rule("job_title", "contains", "director", 20),
                    fit_rule("job_title", "contains", "marketing", 15),
                ],
                max_points=25,
            )
        ]
    )
    lead = new_lead(job_title="Marketing Director")

    html = panel(page_as(sdr), lead)

    assert rows(html, "score-group-head") == ["Job title (capped at 25) 25"]
    assert rows(html, "score-rule") == [
        "Job title contains “director” +20",
        "Job title contains “marketing” +15",
    ]
    assert re.search(r'data-testid="score-total">25</strong>', html)


def test_decay_and_rule_caps_are_explained(page_as, sdr):
    published_rule_set(
        engagement=[
            engagement_rule("Pricing page", "page_view", 10, property_name="url", value="/pricing"),
            engagement_rule("Downloads", "download", 10, max_points=15, decays=False),
        ],
        half_life_days=30,
    )
    lead = new_lead()
    view_pricing(lead, at=timezone.now() - timedelta(days=30))
    lead_services.record_activity(lead, kind="download")
    lead_services.record_activity(lead, kind="download")

    html = panel(page_as(sdr), lead)

    assert rows(html, "score-rule") == [
        "Pricing page 1 × +10, decayed (half-life 30 days) +5",
        "Downloads 2 × +10, capped at 15 +15",
    ]
    assert re.search(r'data-testid="score-total">20</strong>', html)


def test_inactivity_is_a_line_of_its_own(page_as, sdr):
    published_rule_set(
        fit=[fit_group("Job title", [fit_rule("job_title", "contains", "director", 20)])],
        inactivity_days=30,
        inactivity_points=-10,
    )
    lead = new_lead(job_title="Director")
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=60))
    lead.refresh_from_db()
    lead_services.update_lead(lead, data={"phone": "+49 30 1234"})

    html = panel(page_as(sdr), lead)

    assert rows(html, "score-rule")[-1] == "Inactivity no activity for 30 days -10"
    assert re.search(r'data-testid="score-total">10</strong>', html)


def test_the_history_shows_each_change_with_its_reason_and_the_rules_that_moved(page_as, sdr):
    director_and_pricing()
    lead = new_lead(job_title="Director")
    view_pricing(lead)

    changes = rows(panel(page_as(sdr), lead), "score-change")

    assert len(changes) == 2
    newest, first = changes
    assert newest.endswith("+10 → 30 Page view (LeadApp user) Pricing page +10")
    assert first.endswith("+20 → 20 Lead created")


def test_the_history_shows_the_last_ten_changes(page_as, sdr):
    director_and_pricing()
    lead = new_lead()
    for _ in range(12):
        view_pricing(lead)

    changes = rows(panel(page_as(sdr), lead), "score-change")

    assert len(changes) == 10
    assert "→ 120" in changes[0]
    assert "→ 30" in changes[-1]


def test_the_chart_shows_the_total_over_time_oldest_first(page_as, sdr):
    director_and_pricing()
    lead = new_lead(job_title="Director")
    view_pricing(lead)
    view_pricing(lead)

    html = panel(page_as(sdr), lead)

    assert '<canvas data-score-chart="score-chart-data"' in html
    data = re.search(r'<script id="score-chart-data" type="application/json">(.*?)</script>', html, re.S)
    chart = json.loads(data.group(1))
    assert chart["totals"] == [20, 30, 40]
    assert len(chart["labels"]) == 3
    # No code in the fragment: the chart is drawn by static/js/score-chart.js.
    assert re.findall(r"<script[^>]*>", html) == ['<script id="score-chart-data" type="application/json">']


def test_a_lead_with_a_single_score_has_no_chart(page_as, sdr):
    director_and_pricing()
    lead = new_lead(job_title="Director")

    html = panel(page_as(sdr), lead)

    assert "<canvas" not in html
    assert len(rows(html, "score-change")) == 1


def test_a_lead_without_a_score_says_not_scored_yet(page_as, sdr):
    director_and_pricing()
    lead = LeadFactory()  # the factory stores the lead without going through scoring

    html = panel(page_as(sdr), lead)

    assert "Not scored yet." in html
    assert "score-total" not in html


def test_an_htmx_request_gets_the_panel_only_and_a_plain_one_a_page_with_the_chart_script(page_as, sdr):
    director_and_pricing()
    lead = new_lead(job_title="Director")
    client = page_as(sdr)

    fragment = panel(client, lead)
    page = client.get(f"/scoring/leads/{lead.pk}/").content.decode()

    assert fragment.strip().startswith('<article class="score-panel"')
    assert "<html" not in fragment
    assert "<html" in page
    assert 'data-testid="score-total">20</strong>' in page
    assert "/static/js/score-chart.js" in page
    assert "/static/vendor/chartjs-4.6.1/chart.umd.min.js" in page


def test_the_chart_script_and_chartjs_are_static_files():
    assert finders.find("js/score-chart.js")
    assert finders.find("vendor/chartjs-4.6.1/chart.umd.min.js")


def test_an_unknown_lead_is_not_found(page_as, sdr):
    assert page_as(sdr).get("/scoring/leads/999999/", headers=HTMX).status_code == 404


def test_a_user_without_a_role_may_not_see_the_panel(page_as, nobody):
    lead = LeadFactory()

    assert page_as(nobody).get(f"/scoring/leads/{lead.pk}/", headers=HTMX).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_lead_page_loads_the_panel_and_draws_the_chart(page, sdr):
    director_and_pricing()
    lead = new_lead(job_title="Marketing Director")
    view_pricing(lead)
    view_pricing(lead)

    log_in(page, "sdr")
    page.goto(f"/leads/{lead.pk}/")

    panel = page.locator("#lead-score")
    expect(panel.get_by_test_id("score-total")).to_have_text("40")
    expect(panel).to_contain_text("Job title contains “director”")
    expect(panel).to_contain_text("Pricing page")
    # static/js/score-chart.js drew the three totals into the canvas.
    page.wait_for_function(
        "() => { const c = document.querySelector('#lead-score canvas');"
        " const chart = c && window.Chart && window.Chart.getChart(c);"
        " return chart && chart.data.datasets[0].data.join() === '20,30,40'; }"
    )
