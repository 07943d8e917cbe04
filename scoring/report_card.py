"""The scoring report card: does the published rule set pick the leads that convert?

Read-side only, and set-based: whatever the number of leads, the card is four statements over
them — grades and the AUC from one histogram (GROUP BY grade, total, outcome), the deciles from
one window query, every rule from one statement (a 0/1 column per fit rule on the lead rows,
one GROUP BY lead of the activities for the engagement rules), a count of the leads left out —
plus reading the rule set. Never a query per lead.

Definitions (the page shows the same text):

- A lead **has an outcome** when its stage is *customer* (converted = 1), *lost* or
  *disqualified* (converted = 0), or *recycled* (sent back by sales) longer ago than the
  predictive settings' ``recycled_after_days`` (converted = 0): the definition of
  ``features.closed_q``, which the predictive model, the suggested points and the preview
  share. Leads in any other stage, and leads recycled more recently, are still open: left out.
- The scores are the **current stored scores** (``LeadScore``: total and grade). Only leads
  scored with the published rule set count; during a rescore the others are left out (and
  counted, so the page can say so).
- **Conversion rate** of a group: its converted leads / its leads with an outcome. **Lift**: a
  group's conversion rate / the overall conversion rate (1.0 = average).
- **ROC AUC** of the total: the chance that a converted lead has a higher total than a lost one,
  a tie counting half (Mann–Whitney), computed from the histogram of totals
  (``preview.roc_auc``, the one the draft preview uses). Without at least one converted and one
  lost lead there are not enough outcomes: no AUC.
- **Deciles**: the leads ordered by total, highest first (ties by lead id), cut into 10 groups
  of equal count (``NTILE(10)``: sizes differ by one lead at most). Decile 1 is the top 10 %.
- **Per rule**: a lead matches a fit rule when the rule's condition holds for it — the engine's
  own condition (``engine.fit_condition``); group maximums do not matter. It matches an
  engagement rule when it has at least one activity the rule counts
  (``engine.engagement_condition``), at any time: windows, occurrence caps and decay are left
  out, the question being whether the behaviour goes with conversion.
- **Suggestion**, only for a rule that at least ``MIN_MATCHED`` (30) leads with an outcome
  match, when some of them converted::

      typical   = median of |points| over the rule set's rules with points (10 if none)
      suggested = round(typical × log2(lift)),  lift clamped to [1/8, 8]

  so leads that convert at twice the average rate are worth the typical points of the rule
  set, at half of it the same points taken away, at the average nothing. A rule gets a
  suggestion when its points disagree with the data: lift ≥ 1.5 and points below half the
  suggested value ("consider more"); lift ≤ 2/3 and points > 0 ("consider fewer"); points < 0
  and lift > 1.2 (it takes points from leads that convert more) — unless the suggested value
  is the rule's points. An engagement rule's points are per occurrence, and so is its
  suggestion.
"""

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Ntile

from leadapp.db import without_jit
from leads.models import Activity, Lead, Stage

from .engine import engagement_condition, fit_condition
from .features import closed_q, recycled_cutoff
from .models import EngagementRule, FitRule, Grade, RuleSet
from .preview import roc_auc
from .services import published_rule_set

DECILES = 10
MIN_MATCHED = 30
DEFAULT_TYPICAL_POINTS = 10
LIFT_CLAMP = 8.0
# Where a rule's points disagree with its lift (see the module docstring).
MORE_FROM_LIFT = 1.5
FEWER_UP_TO_LIFT = 2 / 3
NO_PENALTY_FROM_LIFT = 1.2

FIT = "fit"
ENGAGEMENT = "engagement"
RULE_KINDS = (FIT, ENGAGEMENT)

CONVERTED = Case(When(stage=Stage.CUSTOMER, then=Value(1)), default=Value(0), output_field=IntegerField())


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def lift(group_rate: float | None, overall_rate: float | None) -> float | None:
    if group_rate is None or not overall_rate:
        return None
    return group_rate / overall_rate


def percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


@dataclass(frozen=True)
class Group:
    """Leads with an outcome in a grade or a decile."""

    label: str
    leads: int
    converted: int
    rate: float | None
    lift: float | None
    lowest: int | None = None  # deciles: the range of totals in it
    highest: int | None = None

    @property
    def percent(self) -> float | None:
        return percent(self.rate)


@dataclass(frozen=True)
class Suggestion:
    points: int
    text: str


@dataclass
class RuleRow:
    """How the leads that match a rule convert, beside those that do not."""

    kind: str
    rule: FitRule | EngagementRule
    group: str
    label: str
    points: int
    matched: int
    matched_converted: int
    unmatched: int
    unmatched_converted: int
    rate_matched: float | None
    rate_unmatched: float | None
    lift: float | None
    suggestion: Suggestion | None = None
    note: str = ""

    @property
    def percent_matched(self) -> float | None:
        return percent(self.rate_matched)

    @property
    def percent_unmatched(self) -> float | None:
        return percent(self.rate_unmatched)


@dataclass
class ReportCard:
    rule_set: RuleSet
    leads: int
    converted: int
    rate: float | None
    auc: float | None
    left_out: int
    typical_points: float
    grades: list[Group] = field(default_factory=list)
    deciles: list[Group] = field(default_factory=list)
    rules: list[RuleRow] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return percent(self.rate)

    @property
    def lost(self) -> int:
        return self.leads - self.converted

    def chart_data(self) -> dict:
        """What ``static/js/report-card.js`` draws (read from a json_script block)."""
        return {
            "deciles": {
                "labels": [d.label for d in self.deciles],
                "lift": [_round(d.lift, 2) for d in self.deciles],
                "rate": [_round(d.percent, 1) for d in self.deciles],
            },
            "grades": {
                "labels": [g.label for g in self.grades],
                "rate": [_round(g.percent, 1) for g in self.grades],
                "leads": [g.leads for g in self.grades],
            },
            "overall_rate": _round(self.percent, 1),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# --- who counts -----------------------------------------------------------------------------------


def has_outcome() -> Q:
    """The leads with a known outcome, as everything that learns from outcomes has them
    (``features.closed_q``): customer, lost, disqualified, or recycled long enough ago."""
    return closed_q(recycled_cutoff())


def outcome_leads(rule_set: RuleSet, known: Q | None = None) -> QuerySet[Lead]:
    """The leads with an outcome (``known``: ``has_outcome()`` if not given) whose stored
    score is from ``rule_set``, with ``converted``."""
    known = has_outcome() if known is None else known
    return Lead.objects.filter(known, score__rule_set=rule_set).annotate(converted=CONVERTED).order_by()


# --- the card -------------------------------------------------------------------------------------


def report_card(rule_set: RuleSet | None = None) -> ReportCard | None:
    """The card of ``rule_set`` (default: the published one); None when nothing is published."""
    rule_set = rule_set or published_rule_set()
    if rule_set is None:
        return None
    with without_jit():
        return _card(rule_set)


def _card(rule_set: RuleSet) -> ReportCard:
    known = has_outcome()  # one cut-off for the whole card
    leads = outcome_leads(rule_set, known)
    histogram = _histogram(leads)
    n = sum(histogram.values())
    converted = sum(count for (_, _, won), count in histogram.items() if won)
    overall = rate(converted, n)
    positives: dict[int, int] = defaultdict(int)
    negatives: dict[int, int] = defaultdict(int)
    per_grade: dict[str, list[int]] = {grade: [0, 0] for grade in Grade.values}
    for (grade, total, won), count in histogram.items():
        (positives if won else negatives)[total] += count
        per_grade[grade][0] += count
        per_grade[grade][1] += count if won else 0
    grades = [
        Group(grade, n_grade, won, rate(won, n_grade), lift(rate(won, n_grade), overall))
        for grade, (n_grade, won) in per_grade.items()
    ]
    rules, typical = rule_rows(rule_set, leads=leads)
    return ReportCard(
        rule_set=rule_set,
        leads=n,
        converted=converted,
        rate=overall,
        auc=roc_auc(positives, negatives),
        left_out=Lead.objects.filter(known).count() - n,
        typical_points=typical,
        grades=grades,
        deciles=_deciles(leads, overall),
        rules=rules,
    )


def _histogram(leads: QuerySet[Lead]) -> dict[tuple[str, int, int], int]:
    """Leads per (grade, total, converted): one GROUP BY."""
    rows = leads.values_list("score__grade", "score__total", "converted").annotate(n=Count("pk"))
    return {(grade, total, won): n for grade, total, won, n in rows}


def _deciles(leads: QuerySet[Lead], overall: float | None) -> list[Group]:
    ranked = leads.annotate(
        t=F("score__total"),
        decile=Window(Ntile(DECILES), order_by=[F("score__total").desc(), F("pk").asc()]),
    ).values("decile", "converted", "t")
    sql, params = ranked.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.decile, COUNT(*), SUM(d.converted), MIN(d.t), MAX(d.t) "  # noqa: S608
            f"FROM ({sql}) d GROUP BY d.decile ORDER BY d.decile",
            params,
        )
        rows = cursor.fetchall()
    return [
        Group(str(decile), n, int(won), rate(int(won), n), lift(rate(int(won), n), overall), low, high)
        for decile, n, won, low, high in rows
    ]


# --- per rule -------------------------------------------------------------------------------------


def rules_of(rule_set: RuleSet) -> list[tuple[str, FitRule | EngagementRule, str, str]]:
    """(kind, rule, group, label) for every rule of the rule set, in the page's order."""
    rules = []
    for group in rule_set.fit_groups.prefetch_related("rules"):
        for rule in group.rules.all():
            rules.append((FIT, rule, group.name, f"{rule.field_label} {rule.describe()}"))
    for rule in rule_set.engagement_rules.all():
        detail = rule.get_activity_kind_display()
        if rule.property_name:
            detail += f", {rule.property_name} {rule.describe()}"
        label = rule.name if detail == rule.name else f"{rule.name} ({detail})"
        rules.append((ENGAGEMENT, rule, "Engagement", label))
    return rules


def typical_points(rules: list) -> float:
    """The median size of the rule set's points: the scale of the suggestions."""
    sizes = [abs(rule.points) for _, rule, _, _ in rules if rule.points]
    return statistics.median(sizes) if sizes else DEFAULT_TYPICAL_POINTS


def _flag(condition) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _match_counts(leads: QuerySet[Lead], rules: list) -> dict[str, int]:
    """n, converted, and per rule (``f<pk>``, ``e<pk>``) the leads that match it and those of
    them that converted (``…_won``), in one statement: a 0/1 column per fit rule on the lead
    rows, and per engagement rule on one GROUP BY of the activities by lead (joined to them)."""
    fit = {f"f{rule.pk}": _flag(fit_condition(rule)) for kind, rule, _, _ in rules if kind == FIT}
    engagement = {
        f"e{rule.pk}": Max(_flag(engagement_condition(rule)))
        for kind, rule, _, _ in rules
        if kind == ENGAGEMENT
    }
    lead_sql, params = leads.annotate(**fit).values("id", "converted", *fit).query.sql_with_params()
    # OFFSET 0 keeps PostgreSQL from inlining each rule's condition into both sums below.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    sums = ["COUNT(*)", "COALESCE(SUM(p.converted), 0)"]
    sums += [f"COALESCE(SUM(p.{name}), 0), COALESCE(SUM(p.{name} * p.converted), 0)" for name in fit]
    join = ""
    if engagement:
        kinds = sorted({rule.activity_kind for kind, rule, _, _ in rules if kind == ENGAGEMENT})
        per_lead = Activity.objects.filter(kind__in=kinds).order_by().values("lead_id").annotate(**engagement)
        activity_sql, activity_params = per_lead.query.sql_with_params()
        join = f"LEFT JOIN ({activity_sql}) a ON a.lead_id = p.id"
        params = (*params, *activity_params)
        sums += [
            f"COALESCE(SUM(a.{name}), 0), COALESCE(SUM(a.{name} * p.converted), 0)" for name in engagement
        ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(sums)} FROM ({lead_sql}{fence}) p {join}", params)  # noqa: S608
        values = iter(cursor.fetchone())
    counts = {"n": next(values), "won": next(values)}
    for name in (*fit, *engagement):
        counts[name], counts[f"{name}_won"] = next(values), next(values)
    return {key: int(value) for key, value in counts.items()}


def rule_rows(
    rule_set: RuleSet, *, leads: QuerySet[Lead] | None = None, only: tuple[str, int] | None = None
) -> tuple[list[RuleRow], float]:
    """Every rule (or ``only`` the one (kind, pk)) with its counts and suggestion, and the
    typical points of the rule set (of all its rules)."""
    leads = outcome_leads(rule_set) if leads is None else leads
    rules = rules_of(rule_set)
    typical = typical_points(rules)
    if only is not None:
        rules = [entry for entry in rules if (entry[0], entry[1].pk) == only]
    counts = _match_counts(leads, rules)
    n, converted = counts["n"], counts["won"]
    overall = rate(converted, n)
    rows = []
    for kind, rule, group, label in rules:
        name = f"{kind[0]}{rule.pk}"
        matched, matched_won = counts[name], counts[f"{name}_won"]
        row = RuleRow(
            kind=kind,
            rule=rule,
            group=group,
            label=label,
            points=rule.points,
            matched=matched,
            matched_converted=matched_won,
            unmatched=n - matched,
            unmatched_converted=converted - matched_won,
            rate_matched=rate(matched_won, matched),
            rate_unmatched=rate(converted - matched_won, n - matched),
            lift=lift(rate(matched_won, matched), overall),
        )
        row.suggestion, row.note = suggest(row, typical)
        rows.append(row)
    return rows, typical


def rule_report(rule_set: RuleSet, *, kind: str, pk: int) -> RuleRow | None:
    """One rule's row (counts and suggestion, as on the card); None if it is no rule of the set."""
    with without_jit():
        rows, _ = rule_rows(rule_set, only=(kind, pk))
    return rows[0] if rows else None


def suggested_points(lift_value: float, typical: float) -> int:
    clamped = min(max(lift_value, 1 / LIFT_CLAMP), LIFT_CLAMP)
    return round(typical * math.log2(clamped))


def suggest(row: RuleRow, typical: float) -> tuple[Suggestion | None, str]:
    """The suggestion for a rule, or None and why there is none."""
    if row.matched < MIN_MATCHED:
        return None, f"too few leads (under {MIN_MATCHED})"
    if row.lift is None:
        return None, "no conversions yet"
    points, value = row.points, suggested_points(row.lift, typical)
    times = f"Leads that match convert {row.lift:.1f}× the average"
    if row.lift >= MORE_FROM_LIFT and points < value / 2:
        text = f"{times}; the rule gives {points:+d}: consider more, about {value:+d}."
    elif row.lift <= FEWER_UP_TO_LIFT and points > 0:
        text = f"{times}; the rule gives {points:+d}: consider fewer, about {value:+d}."
    elif points < 0 and row.lift > NO_PENALTY_FROM_LIFT:
        text = f"{times}, yet the rule takes points away ({points:+d}): consider about {value:+d}."
    else:
        return None, ""
    if value == points:
        return None, ""
    return Suggestion(value, text), ""


# --- the rule a suggestion changes in the draft ---------------------------------------------------


def copy_in_draft(
    draft: RuleSet, kind: str, rule: FitRule | EngagementRule
) -> FitRule | EngagementRule | None:
    """The draft's copy of a published rule: the rule with the same condition (and group, or
    name), at the same place if there are several (``copy_rule_set`` keeps positions). None if
    the draft changed or removed it."""
    if kind == FIT:
        candidates = FitRule.objects.filter(
            group__rule_set=draft,
            group__name=rule.group.name,
            field=rule.field,
            operator=rule.operator,
            value=rule.value,
            value_max=rule.value_max,
        ).select_related("group")
        place = (rule.group.position, rule.position)
        found = list(candidates.order_by("group__position", "position", "pk"))
        return next(
            (r for r in found if (r.group.position, r.position) == place), found[0] if found else None
        )
    candidates = EngagementRule.objects.filter(
        rule_set=draft,
        name=rule.name,
        activity_kind=rule.activity_kind,
        property_name=rule.property_name,
        operator=rule.operator,
        value=rule.value,
        value_max=rule.value_max,
    )
    found = list(candidates.order_by("position", "pk"))
    return next((r for r in found if r.position == rule.position), found[0] if found else None)


# --- CSV ------------------------------------------------------------------------------------------


def _csv_number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


GRADE_COLUMNS = ["grade", "leads with an outcome", "converted", "conversion rate %", "lift"]
DECILE_COLUMNS = [
    "decile",
    "lowest total",
    "highest total",
    "leads with an outcome",
    "converted",
    "conversion rate %",
    "lift",
]
RULE_COLUMNS = [
    "kind",
    "group",
    "rule",
    "points",
    "matched",
    "matched converted",
    "matched conversion rate %",
    "not matched",
    "not matched converted",
    "not matched conversion rate %",
    "lift",
    "suggested points",
    "suggestion",
]


def grade_csv_rows(card: ReportCard) -> list[list]:
    return [
        [g.label, g.leads, g.converted, _csv_number(g.percent, 1), _csv_number(g.lift, 2)]
        for g in card.grades
    ]


def decile_csv_rows(card: ReportCard) -> list[list]:
    return [
        [
            d.label,
            d.lowest,
            d.highest,
            d.leads,
            d.converted,
            _csv_number(d.percent, 1),
            _csv_number(d.lift, 2),
        ]
        for d in card.deciles
    ]


def rule_csv_rows(card: ReportCard) -> list[list]:
    return [
        [
            r.kind,
            r.group,
            r.label,
            r.points,
            r.matched,
            r.matched_converted,
            _csv_number(r.percent_matched, 1),
            r.unmatched,
            r.unmatched_converted,
            _csv_number(r.percent_unmatched, 1),
            _csv_number(r.lift, 2),
            r.suggestion.points if r.suggestion else "",
            r.suggestion.text if r.suggestion else r.note,
        ]
        for r in card.rules
    ]


# name: (columns, rows) of each table the card exports (``?export=<name>``).
EXPORTS = {
    "grades": (GRADE_COLUMNS, grade_csv_rows),
    "deciles": (DECILE_COLUMNS, decile_csv_rows),
    "rules": (RULE_COLUMNS, rule_csv_rows),
}
