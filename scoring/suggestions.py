"""Suggested point values from a model: what each rule of a rule set is worth, learned from the
leads whose outcome is known (the scoring page's "Model suggests" column).

The report card (``report_card``) judges each rule on its own (its lift); here every rule is
weighed together, so a rule that only looks good because its leads also match a better rule
gets little. Read-side and set-based: two statements whatever the number of leads — a 0/1
column per fit rule on the lead rows, one GROUP BY lead of the activities for the engagement
rules — then one logistic regression in memory. Never a query per lead.

Definitions (the page shows the same text):

- **Training leads**: the leads with a known outcome, as the predictive model has them
  (``features.closed_condition``): *customer* (won), *lost* or *disqualified* (not), and
  *recycled* longer ago than ``PredictiveSettings.recycled_after_days`` (not).
- **Per lead and rule**, a column: for a fit rule 1 when its condition holds (the engine's own,
  ``engine.fit_condition``; group maximums aside), else 0; for an engagement rule the number of
  activities it counts (``engine.engagement_condition``) that occurred **at or before the
  lead's outcome** (its last stage change) — nothing after the outcome is used, or the rules
  that follow a sale would look like its cause — at most the rule's ``max_occurrences``.
  Windows, decay and maximum points are left out.
- **The model**: scikit-learn's ``LogisticRegression`` (L2, C = 1) of won on those columns. A
  rule's coefficient is the change in the log-odds of conversion per match (per occurrence for
  an engagement rule), the other rules held equal; its odds ratio is ``exp(coefficient)``.
- **Points**, on the rule set's own scale (the report card's convention: the typical points
  are worth doubling the odds)::

      typical   = median of |points| over the rule set's rules with points (10 if none)
      suggested = round(typical × coefficient / ln 2) = typical × log2(odds ratio),
                  clamped to ±5 × typical

- **No suggestion** for a rule that fewer than ``MIN_MATCHED`` (30) training leads match, or
  that every one of them matches (nothing to tell apart): its points stay as they are.
- **Refused** without enough outcomes: at least ``predictive.MIN_CLOSED`` closed leads, with
  ``predictive.MIN_EACH`` customers and as many lost or disqualified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from django.db.models import Case, IntegerField, Value, When

from leadapp.db import without_jit
from leads.models import Activity, Lead

from .engine import engagement_condition, fit_condition
from .features import WON, closed_condition, recycled_cutoff
from .models import EngagementRule, FitRule, RuleSet
from .predictive import MIN_CLOSED, MIN_EACH
from .report_card import ENGAGEMENT, FIT, MIN_MATCHED, rules_of, typical_points
from .services import published_rule_set

CLAMP = 5  # a suggestion stays within ±5 × the typical points
MAX_ITER = 5000
FETCH = 20_000  # lead rows read at a time


@dataclass
class RuleSuggestion:
    """What the model makes of one rule."""

    kind: str  # report_card.FIT or ENGAGEMENT
    rule: FitRule | EngagementRule
    group: str
    label: str
    points: int  # the rule's points now
    matched: int  # training leads that match it (engagement: with at least one counted activity)
    coefficient: float  # log-odds per match or occurrence
    suggested: int | None = None
    note: str = ""  # why there is no suggestion

    @property
    def odds_ratio(self) -> float:
        return math.exp(self.coefficient)

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.rule.pk}"

    @property
    def changes(self) -> bool:
        return self.suggested is not None and self.suggested != self.points


@dataclass
class Suggestions:
    rule_set: RuleSet
    leads: int = 0  # training leads learned from
    converted: int = 0
    typical_points: float = 0
    rules: list[RuleSuggestion] = field(default_factory=list)
    refused: str = ""  # why there are no suggestions

    @property
    def changes(self) -> list[RuleSuggestion]:
        """The rules whose suggested points differ from their points."""
        return [row for row in self.rules if row.changes]

    def by_key(self) -> dict[str, RuleSuggestion]:
        return {row.key: row for row in self.rules}


@dataclass
class TrainingData:
    """The training leads' columns: ``x`` one row per lead (``ids`` order), one column per rule
    (``rules`` order); ``won`` 1 for a customer."""

    rules: list[tuple]  # (kind, rule, group, label), as report_card._rules gives them
    ids: list[int]
    x: np.ndarray
    won: np.ndarray


def suggestions(rule_set: RuleSet | None = None) -> Suggestions | None:
    """The model's points for every rule of ``rule_set`` (default: the published one); None when
    nothing is published. ``refused`` says why there are none."""
    rule_set = rule_set or published_rule_set()
    if rule_set is None:
        return None
    with without_jit():
        data = training_data(rule_set)
    rules = data.rules
    result = Suggestions(rule_set, leads=len(data.ids), converted=int(data.won.sum()))
    result.typical_points = typical_points(rules)
    refused = _too_few(result)
    if refused or not rules:
        result.refused = refused or "The rule set has no rules to suggest points for."
        return result
    coefficients = fit(data.x, data.won)
    typical = result.typical_points
    for (kind, rule, group, label), column, coefficient in zip(rules, data.x.T, coefficients, strict=True):
        matched = int(np.count_nonzero(column))
        row = RuleSuggestion(kind, rule, group, label, rule.points, matched, float(coefficient))
        if matched < MIN_MATCHED:
            row.note = f"too few leads with an outcome match it (under {MIN_MATCHED})"
        elif matched == len(data.ids):
            row.note = "every lead with an outcome matches it: nothing to tell apart"
        else:
            row.suggested = points_for(coefficient, typical)
        result.rules.append(row)
    return result


def _too_few(result: Suggestions) -> str:
    n, won = result.leads, result.converted
    lost = n - won
    if n >= MIN_CLOSED and won >= MIN_EACH and lost >= MIN_EACH:
        return ""
    return (
        f"Suggestions need at least {MIN_CLOSED} closed leads, with at least {MIN_EACH} customers "
        f"and {MIN_EACH} lost or disqualified; there are {n} ({won} customers, {lost} not). "
        "Import your past leads with their outcomes (Leads → Import, with an Outcome column), "
        "or wait for more leads to close."
    )


def points_for(coefficient: float, typical: float) -> int:
    """``typical`` points per doubling of the odds, within ±CLAMP × typical."""
    limit = CLAMP * typical
    return round(min(max(typical * coefficient / math.log(2), -limit), limit))


def fit(x: np.ndarray, won: np.ndarray) -> np.ndarray:
    """The logistic regression's coefficients, one per column."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, l1_ratio=0.0, max_iter=MAX_ITER)
    model.fit(x, won)
    return model.coef_[0]


# --- the columns ---------------------------------------------------------------------------------


def _flag(condition) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _closed() -> tuple[str, list]:
    """The leads with a known outcome (``features.closed_condition``)."""
    return closed_condition(recycled_cutoff())


def training_data(rule_set: RuleSet) -> TrainingData:
    """The training leads and, per rule, their column (see the module docstring): one
    statement over the lead rows, one GROUP BY lead over the activities."""
    rules = rules_of(rule_set)
    fit_names = [f"f{rule.pk}" for kind, rule, _, _ in rules if kind == FIT]
    engagement = [(f"e{rule.pk}", rule) for kind, rule, _, _ in rules if kind == ENGAGEMENT]
    closed, closed_params = _closed()
    won_stages = ", ".join(f"'{stage}'" for stage in WON)
    flags = {f"f{rule.pk}": _flag(fit_condition(rule)) for kind, rule, _, _ in rules if kind == FIT}
    lead_rows = (
        Lead.objects.order_by()
        .annotate(**flags)
        .values("id", "stage", "stage_changed_at", "created_at", *fit_names)
    )
    lead_sql, lead_params = lead_rows.query.sql_with_params()
    columns = ", ".join(["l.id", f"CASE WHEN l.stage IN ({won_stages}) THEN 1 ELSE 0 END"])
    columns += "".join(f", l.{name}" for name in fit_names)
    with connection.cursor() as cursor:
        # ``l`` is the lead rows with their flags: the alias closed_condition is written for.
        cursor.execute(
            f"SELECT {columns} FROM ({lead_sql}) l WHERE {closed} ORDER BY l.id",  # noqa: S608
            [*lead_params, *closed_params],
        )
        chunks = []
        while batch := cursor.fetchmany(FETCH):
            chunks.append(np.array(batch, dtype=np.int64))
        lead_values = np.vstack(chunks) if chunks else np.empty((0, 2 + len(fit_names)), dtype=np.int64)
        counts = _engagement_counts(cursor, engagement, closed, closed_params)
    ids = lead_values[:, 0].tolist()
    position = {lead_id: i for i, lead_id in enumerate(ids)}
    fit_columns = dict(zip(fit_names, lead_values[:, 2:].T.astype(float), strict=True))
    engagement_columns = {name: np.zeros(len(ids)) for name, _ in engagement}
    for lead_id, *values in counts:
        i = position.get(lead_id)
        if i is None:
            continue  # closed since the first statement read the leads
        for (name, _), value in zip(engagement, values, strict=True):
            engagement_columns[name][i] = value
    for name, rule in engagement:
        if rule.max_occurrences:
            np.minimum(engagement_columns[name], rule.max_occurrences, out=engagement_columns[name])
    ordered = [
        fit_columns[f"f{rule.pk}"] if kind == FIT else engagement_columns[f"e{rule.pk}"]
        for kind, rule, _, _ in rules
    ]
    x = np.column_stack(ordered) if ordered else np.empty((len(ids), 0))
    return TrainingData(rules=rules, ids=ids, x=x, won=lead_values[:, 1].astype(int))


def _engagement_counts(cursor, engagement: list[tuple[str, EngagementRule]], closed: str, params) -> list:
    """(lead id, count per engagement rule) for the training leads with a counted activity at or
    before their outcome."""
    if not engagement:
        return []
    kinds = sorted({rule.activity_kind for _, rule in engagement})
    per_activity = (
        Activity.objects.filter(kind__in=kinds)
        .order_by()
        .annotate(**{name: _flag(engagement_condition(rule)) for name, rule in engagement})
        .values("lead_id", "occurred_at", *(name for name, _ in engagement))
    )
    activity_sql, activity_params = per_activity.query.sql_with_params()
    lead_table = connection.ops.quote_name(Lead._meta.db_table)
    sums = ", ".join(f"SUM(a.{name})" for name, _ in engagement)
    cursor.execute(
        f"SELECT a.lead_id, {sums} FROM ({activity_sql}) a JOIN {lead_table} l ON l.id = a.lead_id "  # noqa: S608
        f"WHERE {closed} AND a.occurred_at <= COALESCE(l.stage_changed_at, l.created_at) "
        "GROUP BY a.lead_id",
        [*activity_params, *params],
    )
    return cursor.fetchall()
