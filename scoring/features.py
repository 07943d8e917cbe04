"""What the predictive model sees of a lead: its features, read set-based from the database.

A lead is described by its profile (the lead's columns and custom attributes) and its
engagement (per activity kind: how many, how many in the last 30 days, days since the last
one), all **as of a moment**: now for an open lead; for a closed lead, the moment of its
outcome, so that nothing that happened after the outcome can teach the model the answer.
Activities written by sales (calls, meetings, notes, e-mails from sales, stage changes) are
never features: they follow the handoff, and they would leak the outcome.

``load`` reads the raw values of a set of leads in two statements (the lead rows, then the
activity counts grouped by lead and kind); ``FeatureSpec.fit`` decides, from the training
leads, which features exist and how categories are coded; ``FeatureSpec.matrix`` turns raw
values into the model's numbers. The spec is stored with the model, so scoring codes a lead
exactly as training did.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from leadapp.db import without_jit
from leads.models import Activity, ActivityKind, Lead, Stage

from .engine import LeadSet, epoch_sql
from .models import PredictiveSettings

RECENT_DAYS = 30
WON = (Stage.CUSTOMER,)
LOST = (Stage.LOST, Stage.DISQUALIFIED)
CLOSED = WON + LOST
# Written by sales after the handoff, or by LeadApp about the lifecycle: never a feature.
SALES_KINDS = (ActivityKind.CALL, ActivityKind.SALES_EMAIL, ActivityKind.MEETING, ActivityKind.NOTE)
ENGAGEMENT_KINDS = tuple(
    kind for kind in ActivityKind.values if kind not in (*SALES_KINDS, ActivityKind.STAGE_CHANGED)
)
_FREE_MAIL_WORDS = (
    "gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr hotmail.com hotmail.co.uk hotmail.fr "
    "outlook.com live.com msn.com aol.com icloud.com me.com mac.com gmx.de gmx.net gmx.com web.de "
    "mail.com mail.ru yandex.ru yandex.com protonmail.com proton.me zoho.com qq.com 163.com "
    "126.com free.fr orange.fr laposte.net libero.it t-online.de"
)
FREE_MAIL = frozenset(_FREE_MAIL_WORDS.split())

# Lead columns read as categories, and yes/no facts: (name, label).
FIELD_CATEGORIES = [
    ("source", "Source"),
    ("industry", "Industry"),
    ("company_size", "Company size"),
    ("country", "Country"),
    ("utm_source", "UTM source"),
    ("utm_medium", "UTM medium"),
    ("utm_campaign", "UTM campaign"),
    ("job_title", "Job title"),
    ("email_kind", "E-mail address"),
]
FIELD_FLAGS = [
    ("has_phone", "Phone number given"),
    ("has_company", "Company given"),
    ("has_website", "Website given"),
    ("marketing_consent", "Marketing consent"),
]
STATS = {
    "count": "Number of “{kind}”",
    "recent": "“{kind}” in the last 30 days",
    "days_since": "Days since the last “{kind}”",
}

MAX_CATEGORIES = 60  # values of one category kept; rarer ones are "other"
MIN_CATEGORY_LEADS = 5
MIN_ATTRIBUTE_SHARE = 0.005  # a custom attribute set on fewer training leads is ignored
NUMERIC_SHARE = 0.95  # an attribute whose values are numbers this often is a number
TYPE_SAMPLE = 20_000  # leads looked at to decide that
CUSTOM_PREFIX = "custom_"  # a custom attribute's feature is named CUSTOM_PREFIX + its key


@dataclass
class LeadData:
    """Raw values of a set of leads, column by column (lists in ``ids`` order)."""

    ids: list[int]
    fields: dict[str, list]
    custom: list[dict]
    activity: dict[tuple[str, str], np.ndarray]
    as_of: list[float]  # epoch seconds
    won: list[bool] = field(default_factory=list)  # closed leads only

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: np.ndarray) -> LeadData:
        pick = rows.tolist()
        return LeadData(
            ids=[self.ids[i] for i in pick],
            fields={name: [values[i] for i in pick] for name, values in self.fields.items()},
            custom=[self.custom[i] for i in pick],
            activity={key: values[rows] for key, values in self.activity.items()},
            as_of=[self.as_of[i] for i in pick],
            won=[self.won[i] for i in pick] if self.won else [],
        )


def _days_before(moment: str, days: int) -> str:
    """SQL: the moment ``days`` days before ``moment`` (comparable with a datetime column)."""
    if connection.vendor == "postgresql":
        return f"({moment} - interval '{int(days)} days')"
    return f"datetime({moment}, '-{int(days)} days')"


def _email_kind_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"lower(split_part({column}, '@', 2))"
    return f"lower(substr({column}, instr({column}, '@') + 1))"


# --- which leads have a known outcome: the one definition -----------------------------------------
# The predictive model, the suggested points, the report card and the preview of a draft all
# learn from or judge by these leads: a customer converted; a lost or disqualified lead did not;
# nor did a lead that sales sent back (recycled) and that has not come back for
# ``PredictiveSettings.recycled_after_days`` (a lead recycled last week may still come back).


def recycled_cutoff(now: datetime | None = None, *, days: int | None = None) -> datetime:
    """Recycled before this moment and not back since: the lead counts as not converted.
    ``days``: the setting to use, by default the saved ``recycled_after_days``."""
    if days is None:
        days = PredictiveSettings.load().recycled_after_days
    return (now or timezone.now()) - timedelta(days=days)


def closed_q(recycled_before: datetime) -> Q:
    """The leads with a known outcome, for the ORM: ``closed_condition`` as a ``Q``."""
    return Q(stage__in=CLOSED) | Q(stage=Stage.RECYCLED, stage_changed_at__lt=recycled_before)


def closed_condition(recycled_before: datetime | None) -> tuple[str, list]:
    """SQL (on ``l``) for the leads with a known outcome: won, lost or disqualified, and those
    recycled before ``recycled_before`` (``recycled_cutoff``) that never came back (they did
    not convert). None: the recycled leads are left out."""
    stages = ", ".join(f"'{stage}'" for stage in CLOSED)
    if recycled_before is None:
        return f"l.stage IN ({stages})", []
    before = connection.ops.adapt_datetimefield_value(recycled_before)
    return f"(l.stage IN ({stages}) OR (l.stage = '{Stage.RECYCLED}' AND l.stage_changed_at < %s))", [before]


def open_condition() -> tuple[str, list]:
    stages = ", ".join(f"'{stage}'" for stage in CLOSED)
    return f"l.stage NOT IN ({stages})", []


def load(
    leads: LeadSet,
    *,
    as_of: datetime | None = None,
    closed: bool = False,
    recycled_before: datetime | None = None,
) -> LeadData:
    """The raw features of the leads in ``leads``: the open ones as of ``as_of`` (default now),
    or with ``closed`` the closed ones, each as of its outcome (its last stage change)."""
    lead_table = connection.ops.quote_name(Lead._meta.db_table)
    activity_table = connection.ops.quote_name(Activity._meta.db_table)
    where, params = leads.where("l.id")
    # The same condition on the activities' lead: PostgreSQL then reads only those leads' rows
    # (through activity_lead_time_idx) rather than every activity.
    activity_where, activity_params = leads.where("a.lead_id")
    if closed:
        population, population_params = closed_condition(recycled_before)
        moment, moment_params = "COALESCE(l.stage_changed_at, l.created_at)", []
    else:
        population, population_params = open_condition()
        moment, moment_params = "%s", [connection.ops.adapt_datetimefield_value(as_of or timezone.now())]
    with without_jit(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.id, l.source, l.industry, l.company_size, l.country, l.utm_source, l.utm_medium, "  # noqa: S608
            f"l.utm_campaign, lower(l.job_title), {_email_kind_sql('l.email')}, "
            "CASE WHEN l.phone <> '' THEN 1 ELSE 0 END, CASE WHEN l.company_name <> '' THEN 1 ELSE 0 END, "
            "CASE WHEN l.website <> '' THEN 1 ELSE 0 END, l.marketing_consent, l.custom, l.stage, "
            f"{epoch_sql(moment)} FROM {lead_table} l WHERE {population} AND {where} ORDER BY l.id",
            [*moment_params, *population_params, *params],
        )
        rows = cursor.fetchall()
        kinds = ", ".join(f"'{kind}'" for kind in ENGAGEMENT_KINDS)
        cursor.execute(
            f"SELECT a.lead_id, a.kind, COUNT(*), "  # noqa: S608
            f"SUM(CASE WHEN a.occurred_at > {_days_before(moment, RECENT_DAYS)} THEN 1 ELSE 0 END), "
            f"{epoch_sql('MAX(a.occurred_at)')} "
            f"FROM {activity_table} a JOIN {lead_table} l ON l.id = a.lead_id "
            f"WHERE {population} AND {where} AND {activity_where} AND a.kind IN ({kinds}) "
            f"AND a.occurred_at <= {moment} GROUP BY a.lead_id, a.kind",
            [*moment_params, *population_params, *params, *activity_params, *moment_params],
        )
        counts = cursor.fetchall()
    names = [name for name, _ in FIELD_CATEGORIES] + [name for name, _ in FIELD_FLAGS]
    fields = {name: [row[1 + i] for row in rows] for i, name in enumerate(names)}
    fields["email_kind"] = [_email_kind(domain) for domain in fields["email_kind"]]
    for name, _ in FIELD_FLAGS:
        fields[name] = [bool(value) for value in fields[name]]
    custom = [_json(row[14]) for row in rows]
    as_of_epoch = np.array([float(row[16]) for row in rows])
    activity = _pivot(counts, np.array([row[0] for row in rows], dtype=np.int64), as_of_epoch)
    won = [row[15] in WON for row in rows] if closed else []
    return LeadData(
        ids=[row[0] for row in rows],
        fields=fields,
        custom=custom,
        activity=activity,
        as_of=as_of_epoch.tolist(),
        won=won,
    )


def _pivot(counts: list[tuple], ids: np.ndarray, as_of: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """(lead, kind, count, recent, last) rows as one column per kind and statistic, in the
    order of ``ids`` (sorted): vectorized, since a million leads have millions of such rows."""
    if not counts:
        return {}
    lead_ids = np.fromiter((row[0] for row in counts), dtype=np.int64, count=len(counts))
    kinds, kind_of_row = np.unique(np.array([row[1] for row in counts]), return_inverse=True)
    values = np.array([row[2:] for row in counts], dtype=float)
    at = np.searchsorted(ids, lead_ids)
    activity = {}
    for number, kind in enumerate(kinds.tolist()):
        mine = kind_of_row == number
        rows = at[mine]
        for stat, column in (("count", 0), ("recent", 1)):
            target = activity[(kind, stat)] = np.zeros(len(ids))
            target[rows] = values[mine, column]
        days = activity[(kind, "days_since")] = np.full(len(ids), np.nan)
        days[rows] = (as_of[rows] - values[mine, 2]) / 86400
    return activity


def _json(value) -> dict:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _email_kind(domain: str | None) -> str:
    if not domain or domain.endswith(".invalid"):
        return ""  # none (history placeholders have no real address)
    return "free mail" if domain in FREE_MAIL else "business"


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def attribute_label(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").strip().capitalize()


@dataclass
class Feature:
    name: str  # unique within a spec
    label: str  # what a marketer reads
    kind: str  # "number", "category" or "flag"
    source: str  # "field", "custom" or "activity"
    key: str  # the field, attribute or "kind:stat"
    categories: list[str] = field(default_factory=list)  # coded 0..n-1; n is "other"

    def describe(self, value: float) -> str:
        """The value as a marketer reads it."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "not known" if self.source != "activity" else "never"
        if self.kind == "category":
            index = int(value)
            return self.categories[index] if index < len(self.categories) else "another value"
        if self.kind == "flag":
            return "yes" if value else "no"
        return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"


@dataclass
class FeatureSpec:
    features: list[Feature]

    @classmethod
    def fit(cls, data: LeadData, *, excluded_attributes: list[str] = ()) -> FeatureSpec:
        """The features the training leads support: every column with more than one value."""
        features = [Feature(name, label, "category", "field", name) for name, label in FIELD_CATEGORIES] + [
            Feature(name, label, "flag", "field", name) for name, label in FIELD_FLAGS
        ]
        kind_labels = dict(ActivityKind.choices)
        for kind, stat in sorted(data.activity):
            label = STATS[stat].format(kind=kind_labels.get(kind, kind))
            features.append(Feature(f"{kind}_{stat}", label, "number", "activity", f"{kind}:{stat}"))
        excluded = set(excluded_attributes)
        present = Counter(key for attrs in data.custom for key, v in attrs.items() if _text(v))
        floor = max(10, MIN_ATTRIBUTE_SHARE * len(data))
        for key in sorted(present):
            if key in excluded or present[key] < floor:
                continue
            values = [v for attrs in data.custom[:TYPE_SAMPLE] if (v := _text(attrs.get(key)))]
            numbers = sum(_number(v) is not None for v in values)
            kind = "number" if values and numbers >= NUMERIC_SHARE * len(values) else "category"
            features.append(Feature(CUSTOM_PREFIX + key, attribute_label(key), kind, "custom", key))
        spec = cls([])
        for feature in features:
            raw = spec._raw(feature, data)
            if feature.kind == "category":
                counts = Counter(v for v in raw if v)
                feature.categories = [
                    value for value, n in counts.most_common(MAX_CATEGORIES) if n >= MIN_CATEGORY_LEADS
                ]
            column = spec._column(feature, raw)
            known = column[~np.isnan(column)]
            if len(np.unique(known)) < 2 and not (len(known) and len(known) < len(column)):
                continue  # one value for every lead: nothing to learn from
            spec.features.append(feature)
        return spec

    def _raw(self, feature: Feature, data: LeadData) -> list | np.ndarray:
        if feature.source == "field":
            return data.fields[feature.key]
        if feature.source == "custom":
            return [attrs.get(feature.key) for attrs in data.custom]
        kind, stat = feature.key.split(":")
        column = data.activity.get((kind, stat))
        if column is None:
            return np.full(len(data), np.nan if stat == "days_since" else 0.0)
        return column

    def _column(self, feature: Feature, raw) -> np.ndarray:
        if feature.kind == "number":
            if isinstance(raw, np.ndarray):
                return raw.astype(float)
            return np.array([np.nan if (x := _number(v)) is None else x for v in raw], dtype=float)
        if feature.kind == "flag":
            return np.array(raw, dtype=float)
        codes = {value: float(i) for i, value in enumerate(feature.categories)}
        other = float(len(feature.categories))
        return np.array([codes.get(t, other) if (t := _text(v)) else np.nan for v in raw], dtype=float)

    def matrix(self, data: LeadData) -> np.ndarray:
        """One row per lead, one column per feature (NaN: not known)."""
        if not len(data):
            return np.empty((0, len(self.features)))
        return np.column_stack([self._column(f, self._raw(f, data)) for f in self.features])

    @property
    def categorical(self) -> list[bool]:
        return [feature.kind == "category" for feature in self.features]

    def as_json(self) -> list[dict]:
        return [{"name": f.name, "label": f.label, "kind": f.kind} for f in self.features]
