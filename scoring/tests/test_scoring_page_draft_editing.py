"""A marketer edits the draft inline: each row (settings, a group, a rule) swaps itself with
htmx, the change is saved at once, and the published rules stay as they are until the draft
is published. Without htmx the same actions work with plain page loads."""

import re

import pytest

from scoring import services
from scoring.models import EngagementRule, FitGroup, FitRule, RuleSet
from scoring.tests.scoring_page import HTMX, engagement_data, fit_rule_data, settings_data, start_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(page_as, marketer):
    return page_as(marketer)


def director_rule(rule_set: RuleSet) -> FitRule:
    return FitRule.objects.get(group__rule_set=rule_set, value="director, head of")


def test_edit_draft_starts_one_copy_of_the_published_rules(client):
    published = services.published_rule_set()

    response = client.post("/scoring/draft/")
    again = client.post("/scoring/draft/")

    assert response.status_code == again.status_code == 302
    assert response["Location"] == "/scoring/draft/"
    draft = RuleSet.objects.get(status=RuleSet.Status.DRAFT)
    assert draft.based_on == published
    html = client.get("/scoring/draft/").content.decode()
    assert 'id="draft-name">Starter scoring</h1>' in html
    assert "a copy of <a" in html and "Starter scoring v1" in html
    assert "Demo requested" in html
    assert f'data-testid="fit-rule-{director_rule(draft).pk}"' in html


def test_a_marketer_changes_a_point_value_inline(client):
    draft = start_draft(client)
    rule = director_rule(draft)

    response = client.post(f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, points=35), **HTMX)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "scoring-draft-changed"
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="fit-rule-{rule.pk}"')
    assert '<td class="points">+35</td>' in html
    assert "Rule saved." in html
    rule.refresh_from_db()
    assert rule.points == 35
    assert director_rule(services.published_rule_set()).points == 20  # published: unchanged
    page = client.get("/scoring/draft/").content.decode()
    row = page[page.index(f'<tr id="fit-rule-{rule.pk}"') :].split("</tr>")[0]
    assert "+35" in row


def test_the_edit_button_swaps_the_row_for_its_form_and_cancel_swaps_it_back(client):
    draft = start_draft(client)
    rule = director_rule(draft)

    form = client.get(f"/scoring/draft/fit-rules/{rule.pk}/edit/", **HTMX).content.decode()
    shown = client.get(f"/scoring/draft/fit-rules/{rule.pk}/", **HTMX).content.decode()

    assert form.lstrip().startswith(f'<tr id="fit-rule-{rule.pk}"')
    assert f'hx-post="/scoring/draft/fit-rules/{rule.pk}/"' in form
    assert 'value="director, head of"' in form
    assert '<option value="job_title" selected>' in form
    assert f'<label for="id_fit-rule-{rule.pk}-points">Points *</label>' in form
    assert "<form" not in shown.split("row-actions")[0]
    assert '<td class="points">+20</td>' in shown


def test_without_htmx_editing_a_rule_goes_back_to_the_page_at_the_rule(client):
    draft = start_draft(client)
    rule = director_rule(draft)

    edit_page = client.get(f"/scoring/draft/fit-rules/{rule.pk}/edit/")
    response = client.post(f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, value="director"))

    assert edit_page.status_code == 200
    assert f'action="/scoring/draft/fit-rules/{rule.pk}/"' in edit_page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == f"/scoring/draft/#fit-rule-{rule.pk}"
    rule.refresh_from_db()
    assert rule.value == "director"
    assert "Rule saved." in client.get(response["Location"]).content.decode()


def test_a_rule_on_a_custom_attribute(client):
    draft = start_draft(client)
    group = draft.fit_groups.get(name="Industry")
    data = fit_rule_data(
        prefix=f"new-rule-{group.pk}",
        field="custom",
        custom_name="plan",
        operator="one_of",
        value="pro, team",
    )

    response = client.post(
        f"/scoring/draft/groups/{group.pk}/rules/", {**data, f"new-rule-{group.pk}-points": 15}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<article id="fit-group-{group.pk}"')
    assert "custom.plan" in html and "+15" in html
    rule = group.rules.get(field="custom.plan")
    assert (rule.operator, rule.value, rule.points) == ("one_of", "pro, team", 15)
    assert list(group.rules.values_list("field", flat=True))[-1] == "custom.plan"  # added last
    form = client.get(f"/scoring/draft/fit-rules/{rule.pk}/edit/", **HTMX).content.decode()
    assert '<option value="custom" selected>' in form
    assert f'name="fit-rule-{rule.pk}-custom_name" value="plan"' in form


def test_a_number_range_rule_keeps_its_maximum_and_other_operators_drop_it(client):
    draft = start_draft(client)
    group = draft.fit_groups.get(name="Company size")
    rule = group.rules.first()

    client.post(
        f"/scoring/draft/fit-rules/{rule.pk}/",
        fit_rule_data(
            rule, field="custom", custom_name="employees", operator="in_range", value="50", value_max="500"
        ),
        **HTMX,
    )
    rule.refresh_from_db()
    assert (rule.field, rule.value, rule.value_max) == ("custom.employees", "50", "500")
    shown = client.get(f"/scoring/draft/fit-rules/{rule.pk}/", **HTMX).content.decode()
    assert "in 50 … 500" in shown

    client.post(
        f"/scoring/draft/fit-rules/{rule.pk}/", fit_rule_data(rule, operator="equals", value="x"), **HTMX
    )
    rule.refresh_from_db()
    assert (rule.operator, rule.value_max) == ("equals", "")


def test_deleting_a_rule_removes_its_row(client):
    draft = start_draft(client)
    rule = director_rule(draft)

    response = client.post(f"/scoring/draft/fit-rules/{rule.pk}/delete/", **HTMX)

    assert response.status_code == 200
    assert response.content == b""  # the row asked htmx to delete it (hx-swap="delete")
    assert response["HX-Trigger"] == "scoring-draft-changed"
    assert not FitRule.objects.filter(pk=rule.pk).exists()
    assert f'id="fit-rule-{rule.pk}"' not in client.get("/scoring/draft/").content.decode()


def test_groups_are_added_renamed_capped_and_deleted(client):
    draft = start_draft(client)

    added = client.post(
        "/scoring/draft/groups/", {"new-group-name": "Country", "new-group-max_points": ""}, **HTMX
    )
    group = draft.fit_groups.get(name="Country")
    renamed = client.post(
        f"/scoring/draft/groups/{group.pk}/",
        {f"group-{group.pk}-name": "Region", f"group-{group.pk}-max_points": "15"},
        **HTMX,
    )

    assert added.status_code == 200
    assert added.content.decode().lstrip().startswith('<section id="fit-groups"')
    assert "Group “Country” added." in added.content.decode()
    assert list(draft.fit_groups.all())[-1] == group  # added last
    assert renamed.status_code == 200
    assert renamed.content.decode().lstrip().startswith(f'<div id="fit-group-{group.pk}-head"')
    assert f'<h3 id="fit-group-{group.pk}-name">Region</h3>' in renamed.content.decode()
    assert "At most 15 points" in renamed.content.decode()
    group.refresh_from_db()
    assert (group.name, group.max_points) == ("Region", 15)

    industry = draft.fit_groups.get(name="Industry")
    deleted = client.post(f"/scoring/draft/groups/{industry.pk}/delete/", **HTMX)
    assert deleted.status_code == 200 and deleted.content == b""
    assert not FitGroup.objects.filter(pk=industry.pk).exists()
    assert not FitRule.objects.filter(group_id=industry.pk).exists()
    assert services.published_rule_set().fit_groups.filter(name="Industry").exists()


def test_engagement_rules_are_added_edited_and_deleted(client):
    draft = start_draft(client)

    added = client.post(
        "/scoring/draft/engagement-rules/",
        engagement_data(
            prefix="new-engagement",
            name="Case study",
            activity_kind="download",
            property_name="asset",
            operator="contains",
            value="case-study",
            points=6,
            max_occurrences=2,
            window_days=30,
        ),
        **HTMX,
    )
    rule = draft.engagement_rules.get(name="Case study")
    edited = client.post(
        f"/scoring/draft/engagement-rules/{rule.pk}/", engagement_data(rule, points=9, decays=False), **HTMX
    )

    assert added.status_code == 200
    html = added.content.decode()
    assert html.lstrip().startswith('<section id="engagement"')
    assert "Rule “Case study” added." in html
    assert "asset contains “case-study”" in html
    assert "the latest 2" in html and "last 30 days" in html
    assert edited.status_code == 200
    rule.refresh_from_db()
    assert (rule.points, rule.decays, rule.max_occurrences, rule.window_days) == (9, False, 2, 30)
    row = edited.content.decode()
    assert row.lstrip().startswith(f'<tr id="engagement-rule-{rule.pk}"')
    assert '<td class="points">+9</td>' in row
    assert "<td>no</td>" in row

    deleted = client.post(f"/scoring/draft/engagement-rules/{rule.pk}/delete/", **HTMX)
    assert deleted.content == b""
    assert not EngagementRule.objects.filter(pk=rule.pk).exists()


def test_an_engagement_rule_without_a_property_counts_every_activity(client):
    draft = start_draft(client)
    rule = draft.engagement_rules.get(name="Pricing page")

    client.post(
        f"/scoring/draft/engagement-rules/{rule.pk}/", engagement_data(rule, property_name=""), **HTMX
    )

    rule.refresh_from_db()
    assert (rule.property_name, rule.operator, rule.value) == ("", "equals", "")
    shown = client.get(f"/scoring/draft/engagement-rules/{rule.pk}/", **HTMX).content.decode()
    assert "every one" in shown


def test_the_settings_are_saved_and_the_title_follows_a_rename(client):
    draft = start_draft(client)

    response = client.post(
        "/scoring/draft/settings/",
        settings_data(draft, name="Spring scoring", hot_threshold=60, half_life_days=None, mql_threshold=80),
        **HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "scoring-draft-changed"
    html = response.content.decode()
    assert "Settings saved." in html
    assert '<h1 id="draft-name" hx-swap-oob="true">Spring scoring</h1>' in html
    assert re.search(r'name="settings-hot_threshold" value="60"', html)
    draft.refresh_from_db()
    assert (draft.name, draft.hot_threshold, draft.half_life_days, draft.mql_threshold) == (
        "Spring scoring",
        60,
        None,
        80,
    )
    assert services.published_rule_set().name == "Starter scoring"


def test_without_a_draft_the_editor_sends_the_marketer_to_the_overview(client):
    response = client.get("/scoring/draft/")

    assert response.status_code == 302
    assert response["Location"] == "/scoring/"
    assert "There is no draft." in client.get("/scoring/").content.decode()


def test_without_htmx_every_edit_link_opens_its_row_on_the_page(client):
    draft = start_draft(client)
    group = draft.fit_groups.get(name="Industry")
    engagement = draft.engagement_rules.get(name="Trial started")
    rows = [
        (f"/scoring/draft/groups/{group.pk}/", f"group-{group.pk}-name"),
        (
            f"/scoring/draft/fit-rules/{director_rule(draft).pk}/",
            f"fit-rule-{director_rule(draft).pk}-points",
        ),
        (f"/scoring/draft/engagement-rules/{engagement.pk}/", f"engagement-{engagement.pk}-points"),
    ]

    for url, field in rows:
        response = client.get(f"{url}edit/")
        html = response.content.decode()
        assert response.status_code == 200, url
        assert "<html" in html
        assert f'<form method="post" action="{url}"' in html
        assert f'name="{field}"' in html
        assert client.get(url)["Location"].startswith("/scoring/draft/#")  # Cancel: back to the page


def test_without_htmx_a_bad_engagement_rule_comes_back_on_the_page(client):
    draft = start_draft(client)
    rule = draft.engagement_rules.get(name="Trial started")

    response = client.post(
        f"/scoring/draft/engagement-rules/{rule.pk}/", engagement_data(rule, max_points="-5")
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" in html
    assert f'id="id_engagement-{rule.pk}-max_points_error"' in html
    rule.refresh_from_db()
    assert rule.max_points is None
