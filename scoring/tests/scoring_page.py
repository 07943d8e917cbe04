"""Helpers for the tests of the scoring page: htmx requests, the editor's form data, and
reading what the page shows."""

import re

from scoring.forms import RuleSetSettingsForm
from scoring.models import EngagementRule, FitRule, RuleSet

HTMX = {"HTTP_HX_REQUEST": "true"}


def start_draft(client) -> RuleSet:
    """Press "Edit draft" as the user of ``client``."""
    response = client.post("/scoring/draft/")
    assert response.status_code == 302
    return RuleSet.objects.get(status=RuleSet.Status.DRAFT)


def settings_data(rule_set: RuleSet, **changes) -> dict:
    names = RuleSetSettingsForm.Meta.fields
    values = {name: getattr(rule_set, name) for name in names} | changes
    return {f"settings-{name}": "" if value is None else value for name, value in values.items()}


def fit_rule_data(rule: FitRule | None = None, prefix: str = "", **changes) -> dict:
    values = {"field": "job_title", "custom_name": "", "operator": "contains", "value": "x", "points": 1}
    values["value_max"] = ""
    if rule is not None:
        prefix = prefix or f"fit-rule-{rule.pk}"
        values |= {
            name: getattr(rule, name) for name in ("field", "operator", "value", "value_max", "points")
        }
        if rule.field.startswith("custom."):
            values |= {"field": "custom", "custom_name": rule.field.removeprefix("custom.")}
    values |= changes
    return {f"{prefix}-{name}": value for name, value in values.items()}


def engagement_data(rule: EngagementRule | None = None, prefix: str = "", **changes) -> dict:
    names = ["name", "activity_kind", "property_name", "operator", "value", "value_max", "points"]
    names += ["max_occurrences", "max_points", "window_days"]
    values = {
        "name": "Visit",
        "activity_kind": "page_view",
        "operator": "equals",
        "points": 1,
        "decays": "on",
    }
    if rule is not None:
        prefix = prefix or f"engagement-{rule.pk}"
        values = {name: getattr(rule, name) for name in names}
        if rule.decays:
            values["decays"] = "on"
    values |= changes
    return {f"{prefix}-{n}": "" if v is None else v for n, v in values.items() if v is not False}


def error_beside(html: str, field_id: str) -> str:
    """The error message shown beside the input with this id."""
    match = re.search(rf'<small class="error" id="{field_id}_error" role="alert">(.*?)</small>', html, re.S)
    assert match, f"no error beside {field_id}"
    return match.group(1)


def cell(html: str, name: str) -> str:
    """The text of the table cell marked data-cell="name"."""
    match = re.search(rf'data-cell="{name}"[^>]*>(.*?)</td>', html, re.S)
    assert match, f"no cell {name}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def snapshot() -> list:
    """Every rule set with its settings and rules, to show that nothing changed."""
    state = []
    for rule_set in RuleSet.objects.order_by("pk"):
        state.append(
            (
                rule_set.pk,
                rule_set.status,
                rule_set.version,
                rule_set.name,
                rule_set.warm_threshold,
                rule_set.hot_threshold,
                rule_set.updated_at,
                sorted((g.name, g.max_points) for g in rule_set.fit_groups.all()),
                sorted(
                    (g.name, g.max_points, r.field, r.operator, r.value, r.value_max, r.points)
                    for g in rule_set.fit_groups.all()
                    for r in g.rules.all()
                ),
                sorted(
                    (r.name, r.activity_kind, r.property_name, r.value, r.points)
                    for r in rule_set.engagement_rules.all()
                ),
            )
        )
    return state
