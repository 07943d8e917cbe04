"""The scoring engine: turns a rule set into one SQL query that scores a set of leads.

Every score, whether for one lead after an event, for a batch of events, for every lead after
publishing, or for a draft in a preview, comes out of ``ScoreQuery``: the rule conditions are
Django expressions (so the same rules run on PostgreSQL and SQLite), compiled into

    fit        one row per lead:      CASE per fit rule, summed and capped per group
    engagement one row per activity:  CASE per engagement rule, a running count per rule
                                      (for occurrence caps) and a decay factor,
                                      then summed per lead and rule, capped per rule
    scores     fit LEFT JOIN engagement: totals, grade, temperature

A score is a pure function of (rule set, lead, activities, moment): the real-time path
recomputes the touched leads from their whole history rather than adding deltas, so it cannot
drift from the bulk result and concurrent events cannot lose points.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import add

from django.db import connection
from django.db.models import Case, F, FloatField, Func, IntegerField, Q, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Least, Length, Lower
from django.db.models.lookups import (
    Contains as ContainsLookup,
)
from django.db.models.lookups import (
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
    StartsWith,
)

from leadapp.db import without_jit
from leads.models import Activity, LastActivity, Lead

from .models import (
    FIT_FIELDS,
    Drive,
    EngagementRule,
    FitGroup,
    FitRule,
    LeadScore,
    Operator,
    RuleSet,
    attribute_name,
)

SECONDS_PER_DAY = 86400.0


class NumberOrNull(Func):
    """The number a text holds, or NULL when it holds none (never an error)."""

    output_field = FloatField()
    NUMBER = "'^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$'"

    def _as_sql(self, compiler, connection, template, **extra):
        # The template names the expression more than once: its parameters (a custom
        # attribute's key) go with each mention.
        sql, params = self.as_sql(compiler, connection, template=template, **extra)
        return sql, list(params) * template.count("%(expressions)s")

    def as_postgresql(self, compiler, connection, **extra):
        template = f"(CASE WHEN %(expressions)s ~ {self.NUMBER} THEN (%(expressions)s)::float8 END)"
        return self._as_sql(compiler, connection, template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # REGEXP is Django's Python function: the same pattern as on PostgreSQL, so that
        # "51-200" or "1." is no number here either.
        template = (
            f"(CASE WHEN %(expressions)s REGEXP {self.NUMBER} THEN CAST(trim(%(expressions)s) AS REAL) END)"
        )
        return self._as_sql(compiler, connection, template, **extra)


PATTERN_LOOKUPS = {
    Operator.CONTAINS: ContainsLookup,
    Operator.STARTS_WITH: StartsWith,
    Operator.ENDS_WITH: EndsWith,
}


def condition(rule, text, raw):
    """The boolean expression for a rule's operator on ``text`` (the lower-cased value) or,
    for ranges, ``raw`` (the value as stored)."""
    op = rule.operator
    value = rule.value.strip().lower()
    if op == Operator.EQUALS:
        return Exact(text, value)
    if op == Operator.ONE_OF:
        return In(text, rule.values or [""])
    if op in PATTERN_LOOKUPS:
        # A comma-separated value lists alternatives: any of them matches.
        lookup = PATTERN_LOOKUPS[op]
        return reduce(lambda a, b: Q(a) | Q(b), [lookup(text, v) for v in rule.values or [""]])
    if op == Operator.IS_SET:
        return GreaterThan(Length(text), 0)
    if op == Operator.IN_RANGE:
        number = NumberOrNull(raw)
        parts = []
        if rule.value.strip():
            parts.append(GreaterThanOrEqual(number, float(rule.value)))
        if rule.value_max.strip():
            parts.append(LessThanOrEqual(number, float(rule.value_max)))
        return reduce(lambda a, b: Q(a) & Q(b), parts)
    raise ValueError(f"Unknown operator {op!r}")


def fit_condition(rule: FitRule):
    # Checked again here, not only in the model's clean(): a name reaches the query as a
    # column or a JSON key, and ``__`` would reach through relations or nested keys.
    if rule.field.startswith("custom."):
        raw = KT(f"custom__{attribute_name(rule.field.removeprefix('custom.'))}")
    elif rule.field in FIT_FIELDS:
        raw = F(rule.field)
    else:
        raise ValueError(f"A fit rule cannot read {rule.field!r}.")
    return condition(rule, Lower(raw), raw)


def engagement_condition(rule: EngagementRule) -> Q:
    """What an activity must be to match ``rule`` (its window is applied per moment, in SQL)."""
    q = Q(kind=rule.activity_kind)
    if rule.property_name:
        raw = KT(f"properties__{attribute_name(rule.property_name)}")
        q &= Q(condition(rule, Lower(raw), raw))
    return q


def _vendor_min(a: str, b: str) -> str:
    return f"MIN({a}, {b})" if connection.vendor == "sqlite" else f"LEAST({a}, {b})"


def _vendor_max(a: str, b: str) -> str:
    return f"MAX({a}, {b})" if connection.vendor == "sqlite" else f"GREATEST({a}, {b})"


def epoch_sql(column: str) -> str:
    if connection.vendor == "sqlite":
        return f"((julianday({column}) - 2440587.5) * 86400.0)"
    return f"EXTRACT(EPOCH FROM {column})::float8"


@dataclass(frozen=True)
class LeadSet:
    """Which leads to score: ``ids``, an id range ``lo <= id <= hi``, or all of them."""

    ids: tuple[int, ...] | None = None
    lo: int | None = None
    hi: int | None = None

    def where(self, column: str) -> tuple[str, list]:
        """A condition on ``column`` (SQL, parameters); one parameter for any number of ids."""
        if self.ids is not None:
            if connection.vendor == "postgresql":
                return f"{column} = ANY(%s)", [list(self.ids)]
            ids = json.dumps(list(self.ids))
            return f"{column} IN (SELECT value FROM json_each(%s))", [ids]  # noqa: S608
        parts, params = [], []
        if self.lo is not None:
            parts.append(f"{column} >= %s")
            params.append(self.lo)
        if self.hi is not None:
            parts.append(f"{column} <= %s")
            params.append(self.hi)
        return " AND ".join(parts) or "1 = 1", params


ALL_LEADS = LeadSet()


class Rules:
    """A rule set's rules, loaded, with the parts of its SQL that depend on nothing but the
    rules: compiled once per content of the rule set (the ORM's compiler is the slow part of
    a real-time rescore) and shared by every query for any moment and any leads."""

    def __init__(self, groups: list[FitGroup], engagement_rules: list[EngagementRule]):
        self.groups = groups
        self.fit_rules = [rule for group in groups for rule in group.rules.all()]
        self.engagement_rules = engagement_rules
        self.fit_sql, self.fit_params = self._fit_queryset().query.sql_with_params()
        self.activity_sql, self.activity_params = "", ()
        if engagement_rules:
            self.activity_sql, self.activity_params = self._activity_queryset().query.sql_with_params()

    def _fit_queryset(self):
        annotations = {}
        for rule in self.fit_rules:
            annotations[f"f{rule.pk}"] = Case(
                When(fit_condition(rule), then=Value(rule.points)),
                default=Value(0),
                output_field=IntegerField(),
            )
        group_totals = []
        for group in self.groups:
            parts = [F(f"f{rule.pk}") for rule in group.rules.all()]
            if not parts:
                continue
            total = reduce(add, parts)
            if group.max_points is not None:
                total = Least(total, Value(group.max_points))
            annotations[f"g{group.pk}"] = total
            group_totals.append(F(f"g{group.pk}"))
        annotations["fit"] = reduce(add, group_totals) if group_totals else Value(0)
        return Lead.objects.order_by().annotate(**annotations).values("id", "created_at", *annotations)

    def _activity_queryset(self):
        annotations = {
            f"m{rule.pk}": Case(
                When(engagement_condition(rule), then=Value(1)), default=Value(0), output_field=IntegerField()
            )
            for rule in self.engagement_rules
        }
        kinds = sorted({rule.activity_kind for rule in self.engagement_rules})
        return (
            Activity.objects.filter(kind__in=kinds)
            .order_by()
            .annotate(**annotations)
            .values("id", "lead_id", "occurred_at", *annotations)
        )


_compiled: dict[tuple, Rules] = {}


def _content(instance) -> tuple:
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


def compiled_rules(rule_set: RuleSet) -> Rules:
    """The rule set's ``Rules``, from the cache when a rule set with the very same content
    was compiled before (a draft being edited simply gets a new entry)."""
    groups = list(rule_set.fit_groups.prefetch_related("rules"))
    engagement_rules = list(rule_set.engagement_rules.all())
    key = (
        connection.vendor,
        tuple((_content(g), tuple(_content(r) for r in g.rules.all())) for g in groups),
        tuple(_content(r) for r in engagement_rules),
    )
    rules = _compiled.get(key)
    if rules is None:
        if len(_compiled) >= 64:
            _compiled.clear()
        rules = _compiled[key] = Rules(groups, engagement_rules)
    return rules


class ScoreQuery:
    """A rule set compiled for one moment. ``sql(leads)`` gives the query with the columns
    lead_id, fit, engagement, total, grade, temperature, inactivity (and, with
    ``breakdown``, one column per rule: ``f<id>`` fit points, ``g<id>`` a fit group's points
    after its maximum, ``e<id>`` engagement points, ``c<id>`` occurrences counted).

    ``before_activity``: also score the leads as they were before the activities with
    greater ids (columns ``e<id>`` and ``eb<id>`` per engagement rule, ``total_before``), for
    the history of a real-time change."""

    def __init__(self, rule_set: RuleSet, *, as_of: datetime):
        self.rule_set = rule_set
        self.as_of = as_of
        self.rules = compiled_rules(rule_set)
        self.groups = self.rules.groups
        self.fit_rules = self.rules.fit_rules
        self.engagement_rules = self.rules.engagement_rules

    def _moment(self, days: int | None = None):
        moment = self.as_of - timedelta(days=days) if days else self.as_of
        return connection.ops.adapt_datetimefield_value(moment)

    def _activity_sql(self, leads: LeadSet, before_activity: int | None) -> tuple[str, list]:
        """One row per activity: which rules it counts for (windows applied), the running
        count of each rule's matches newest first (for occurrence caps), its decay factor."""
        rules = self.engagement_rules
        where, params = leads.where("y.lead_id")
        conditions = [where, "y.occurred_at <= %s"]
        params = [*self.rules.activity_params, *params, self._moment()]
        if all(rule.window_days for rule in rules):
            conditions.append("y.occurred_at > %s")
            params.append(self._moment(max(rule.window_days for rule in rules)))
        columns, column_params = ["y.lead_id"], []
        splits = [False, True] if before_activity is not None else [False]
        for rule in rules:
            match, match_params = f"y.m{rule.pk} = 1", []
            if rule.window_days:
                match += " AND y.occurred_at > %s"
                match_params.append(self._moment(rule.window_days))
            for before in splits:
                suffix = "b" if before else ""
                matched = match + (" AND y.id <= %s" if before else "")
                matched_params = [*match_params, *([before_activity] if before else [])]
                columns.append(f"CASE WHEN {matched} THEN 1 ELSE 0 END AS m{suffix}{rule.pk}")
                column_params += matched_params
                if rule.max_occurrences:
                    columns.append(f"SUM(CASE WHEN {matched} THEN 1 ELSE 0 END) OVER w AS n{suffix}{rule.pk}")
                    column_params += matched_params
        if self.rule_set.half_life_days:
            columns.append(f"POWER(0.5, (%s - {epoch_sql('y.occurred_at')}) / %s) AS decay")
            column_params += [self.as_of.timestamp(), self.rule_set.half_life_days * SECONDS_PER_DAY]
        sql = (
            f"SELECT {', '.join(columns)} FROM ({self.rules.activity_sql}) y "  # noqa: S608
            f"WHERE {' AND '.join(conditions)} "
            "WINDOW w AS (PARTITION BY y.lead_id ORDER BY y.occurred_at DESC, y.id DESC)"
        )
        # Parameters in the order their placeholders appear: columns, then the FROM, then WHERE.
        inner_params = params[: len(self.rules.activity_params)]
        where_params = params[len(self.rules.activity_params) :]
        return sql, [*column_params, *inner_params, *where_params]

    def _engagement_sql(
        self, leads: LeadSet, before_activity: int | None, breakdown: bool
    ) -> tuple[str, list]:
        inner, params = self._activity_sql(leads, before_activity)
        has_decay = bool(self.rule_set.half_life_days)
        columns = []
        for rule in self.engagement_rules:
            worth = "a.decay" if has_decay and rule.decays else "1.0"
            for suffix in ("", "b") if before_activity is not None else ("",):
                counted = f"a.m{suffix}{rule.pk} = 1"
                if rule.max_occurrences:
                    counted += f" AND a.n{suffix}{rule.pk} <= {int(rule.max_occurrences)}"
                points = int(rule.points)
                columns.append(
                    f"SUM(CASE WHEN {counted} THEN {worth} ELSE 0 END) * {points} AS e{suffix}{rule.pk}"
                )
                if breakdown and not suffix:
                    columns.append(f"SUM(CASE WHEN {counted} THEN 1 ELSE 0 END) AS c{rule.pk}")
        select = ", ".join(["a.lead_id AS lead_id", *columns])
        return f"SELECT {select} FROM ({inner}) a GROUP BY a.lead_id", params  # noqa: S608

    def _capped(self, rule: EngagementRule, suffix: str = "") -> str:
        value = f"COALESCE(e.e{suffix}{rule.pk}, 0)"
        if rule.max_points is None:
            return value
        cap = int(rule.max_points)
        return _vendor_max(_vendor_min(value, str(cap)), str(-cap))

    def sql(
        self, leads: LeadSet = ALL_LEADS, *, before_activity: int | None = None, breakdown: bool = False
    ) -> tuple[str, list]:
        rs = self.rule_set
        params: list = []
        inactivity, inactivity_params = "0", []
        if rs.inactivity_days and rs.inactivity_points:
            inactivity = (
                "(CASE WHEN la.at < %s OR (la.at IS NULL AND f.created_at < %s) "
                f"THEN {int(rs.inactivity_points)} ELSE 0 END)"
            )
            inactivity_params = [self._moment(rs.inactivity_days)] * 2
        extra = []
        if breakdown:
            extra += [f"f.f{rule.pk} AS f{rule.pk}" for rule in self.fit_rules]
            extra += [f"f.g{group.pk} AS g{group.pk}" for group in self.groups if group.rules.all()]
        sums = {"": [inactivity], "b": [inactivity]}
        join, join_params = "", []
        if self.engagement_rules:
            join_sql, join_params = self._engagement_sql(leads, before_activity, breakdown)
            join = f"LEFT JOIN ({join_sql}) e ON e.lead_id = f.id"
            for rule in self.engagement_rules:
                sums[""].append(self._capped(rule))
                sums["b"].append(self._capped(rule, "b"))
                if breakdown or before_activity is not None:
                    extra.append(f"{self._capped(rule)} AS e{rule.pk}")
                if breakdown:
                    extra.append(f"COALESCE(e.c{rule.pk}, 0) AS c{rule.pk}")
                if before_activity is not None:
                    extra.append(f"{self._capped(rule, 'b')} AS eb{rule.pk}")
        # The inactivity CASE appears once per sum below and once on its own.
        columns = [
            f"CAST(ROUND({' + '.join(sums[''])}) AS INTEGER) AS engagement",
            f"{inactivity} AS inactivity",
        ]
        params += inactivity_params * 2
        if before_activity is not None:
            columns.append(f"CAST(ROUND({' + '.join(sums['b'])}) AS INTEGER) AS engagement_before")
            params += inactivity_params
        where, where_params = leads.where("f.id")
        # The same condition on the last activity table too: PostgreSQL then reads just those
        # rows of it, where it would read all of them to join a few thousand leads.
        last_activity_where, last_activity_params = leads.where("la.lead_id")
        inner = (
            f"SELECT f.id AS lead_id, f.fit AS fit, {', '.join(columns + extra)} "  # noqa: S608
            f"FROM ({self.rules.fit_sql}) f "
            f"LEFT JOIN {LastActivity._meta.db_table} la ON la.lead_id = f.id AND {last_activity_where} "
            f"{join} WHERE {where}"
        )
        params += [*self.rules.fit_params, *last_activity_params, *join_params, *where_params]
        # Where the predictive score drives grades, the chance is the one the lead has now.
        stored = f"(SELECT p.probability FROM {LeadScore._meta.db_table} p WHERE p.lead_id = s.lead_id)"  # noqa: S608
        grade = grade_sql(rs, "s.fit", stored)
        temperature = (
            f"CASE WHEN s.engagement >= {int(rs.hot_threshold)} THEN 3 "
            f"WHEN s.engagement >= {int(rs.warm_threshold)} THEN 2 ELSE 1 END"
        )
        before = ", s.fit + s.engagement_before AS total_before" if before_activity is not None else ""
        # OFFSET 0 keeps PostgreSQL from inlining fit and engagement into each of the places
        # below that use them (it would evaluate every rule condition several times).
        fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
        outer = (
            f"SELECT s.*, s.fit + s.engagement AS total, {grade} AS grade, "  # noqa: S608
            f"{temperature} AS temperature{before} FROM ({inner}{fence}) s"
        )
        return outer, params

    def rows(
        self, leads: LeadSet, *, before_activity: int | None = None, breakdown: bool = False
    ) -> dict[int, dict]:
        sql, params = self.sql(leads, before_activity=before_activity, breakdown=breakdown)
        # Over a few thousand leads (a batch's follow-up) PostgreSQL would JIT-compile the
        # query's many CASEs: 55 ms, about a sixth of the query.
        with without_jit(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def grade_sql(rule_set: RuleSet, fit: str, chance: str) -> str:
    """The grade as SQL from the fit points and the chance (0–100), as the rule set's
    ``drive`` says: the one definition used by the scoring engine and by ``write_chances``."""
    if rule_set.drive == Drive.POINTS:
        return (
            f"CASE WHEN {fit} >= {int(rule_set.grade_a_threshold)} THEN 'A' "
            f"WHEN {fit} >= {int(rule_set.grade_b_threshold)} THEN 'B' "
            f"WHEN {fit} >= {int(rule_set.grade_c_threshold)} THEN 'C' ELSE 'D' END"
        )
    rank = blended_sql(rule_set, fit, chance)
    return (
        f"CASE WHEN {rank} IS NULL THEN 'D' "
        f"WHEN {rank} >= {int(rule_set.chance_grade_a)} THEN 'A' "
        f"WHEN {rank} >= {int(rule_set.chance_grade_b)} THEN 'B' "
        f"WHEN {rank} >= {int(rule_set.chance_grade_c)} THEN 'C' ELSE 'D' END"
    )


def blended_sql(rule_set: RuleSet, fit: str, chance: str) -> str:
    """0–100: the chance, or (blend) the weighted mean of the chance and the fit points on the
    same scale (the grade-A fit threshold as 100). A lead not scored by a model yet blends its
    points alone."""
    if rule_set.drive == Drive.PREDICTIVE:
        return f"({chance})"
    a = max(1, int(rule_set.grade_a_threshold))
    points = f"(CASE WHEN {fit} <= 0 THEN 0 WHEN {fit} >= {a} THEN 100 ELSE {fit} * 100.0 / {a} END)"
    w = int(rule_set.blend_weight)
    blend = f"({w} * {chance} + {100 - w} * {points}) / 100.0"
    return f"(CASE WHEN {chance} IS NULL THEN {points} ELSE {blend} END)"
