"""A bad value in the draft editor comes back in its row with the error beside the field
(status 400, which the page swaps in), and nothing is saved: not the bad value, not the
other values of the same form, and the draft does not count as changed."""

import pytest

from scoring.tests.scoring_page import (
    HTMX,
    engagement_data,
    error_beside,
    fit_rule_data,
    settings_data,
    snapshot,
    start_draft,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(page_as, marketer):
    return page_as(marketer)


@pytest.fixture
def draft(client):
    return start_draft(client)


def test_hot_below_warm_is_refused_beside_the_hot_threshold(client, draft):
    before = snapshot()

    response = client.post(
        "/scoring/draft/settings/",
        settings_data(draft, name="Renamed", warm_threshold=30, hot_threshold=25),
        **HTMX,
    )

    assert response.status_code == 400
    assert "HX-Trigger" not in response
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="draft-settings"')
    assert error_beside(html, "id_settings-hot_threshold") == "Hot must be above warm."
    assert 'aria-invalid="true"' in html
    assert 'name="settings-hot_threshold" value="25"' in html  # the value typed stays to correct it
    assert "Settings saved." not in html
    assert snapshot() == before


def test_grade_thresholds_out_of_order_and_inactivity_without_points(client, draft):
    before = snapshot()

    response = client.post(
        "/scoring/draft/settings/",
        settings_data(draft, grade_b_threshold=50, inactivity_days=30, inactivity_points=0),
        **HTMX,
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "A &gt; B &gt; C" in error_beside(html, "id_settings-grade_b_threshold")
    assert "Give the points" in error_beside(html, "id_settings-inactivity_points")
    assert snapshot() == before


def test_a_range_with_a_word_is_refused_beside_the_value(client, draft):
    rule = draft.fit_groups.get(name="Company size").rules.first()
    before = snapshot()

    response = client.post(
        f"/scoring/draft/fit-rules/{rule.pk}/",
        fit_rule_data(rule, operator="in_range", value="fifty", value_max="500", points=99),
        **HTMX,
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="fit-rule-{rule.pk}"')
    assert error_beside(html, f"id_fit-rule-{rule.pk}-value") == "Enter a number."
    assert 'value="fifty"' in html
    assert snapshot() == before


def test_contains_without_a_value_is_refused(client, draft):
    rule = draft.fit_groups.get(name="Job title").rules.get(value="manager")
    before = snapshot()

    response = client.post(
        f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, value="  ", points=50), **HTMX
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert error_beside(html, f"id_fit-rule-{rule.pk}-value") == "Enter the value the field is compared with."
    assert snapshot() == before


def test_a_custom_attribute_needs_a_proper_name(client, draft):
    group = draft.fit_groups.get(name="Industry")
    prefix = f"new-rule-{group.pk}"
    before = snapshot()

    blank = client.post(
        f"/scoring/draft/groups/{group.pk}/rules/",
        fit_rule_data(prefix=prefix, field="custom", custom_name=""),
        **HTMX,
    )
    spaced = client.post(
        f"/scoring/draft/groups/{group.pk}/rules/",
        fit_rule_data(prefix=prefix, field="custom", custom_name="annual revenue"),
        **HTMX,
    )

    assert blank.status_code == spaced.status_code == 400
    assert error_beside(blank.content.decode(), f"id_{prefix}-custom_name") == (
        "Enter the name of the custom attribute."
    )
    assert "letters, digits, - and _ only" in error_beside(
        spaced.content.decode(), f"id_{prefix}-custom_name"
    )
    assert f'id="id_{prefix}-field_error"' not in spaced.content.decode()
    assert "<details open>" in spaced.content.decode()  # the add form stays open with its errors
    assert snapshot() == before


def test_a_bad_engagement_rule_is_refused(client, draft):
    rule = draft.engagement_rules.get(name="Pricing page")
    before = snapshot()

    bad_property = client.post(
        f"/scoring/draft/engagement-rules/{rule.pk}/",
        engagement_data(rule, property_name="page url", points=50),
        **HTMX,
    )
    stage_change = client.post(
        "/scoring/draft/engagement-rules/",
        engagement_data(prefix="new-engagement", activity_kind="stage_changed"),
        **HTMX,
    )
    no_name = client.post(
        "/scoring/draft/engagement-rules/", engagement_data(prefix="new-engagement", name=""), **HTMX
    )

    assert bad_property.status_code == stage_change.status_code == no_name.status_code == 400
    assert "letters, digits, - and _ only" in error_beside(
        bad_property.content.decode(), f"id_engagement-{rule.pk}-property_name"
    )
    assert "Select a valid choice" in error_beside(
        stage_change.content.decode(), "id_new-engagement-activity_kind"
    )
    assert error_beside(no_name.content.decode(), "id_new-engagement-name") == "This field is required."
    assert snapshot() == before


def test_without_htmx_the_page_comes_back_with_the_row_open_and_its_error(client, draft):
    rule = draft.fit_groups.get(name="Job title").rules.get(value="manager")
    before = snapshot()

    response = client.post(f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, points="lots"))

    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" in html
    assert error_beside(html, f"id_fit-rule-{rule.pk}-points") == "Enter a whole number."
    assert snapshot() == before
