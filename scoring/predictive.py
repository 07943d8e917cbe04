"""The predictive score: a model trained on the team's own outcomes.

Training (a Celery job, see ``train``) learns, from the leads whose outcome is known, the
chance that a lead becomes a customer. The model is scikit-learn's histogram gradient
boosting with trees of depth 2 (each tree looks at one or two features at a time): on the X
Education lead data it matches or beats the reference figures (README, "Predictive score"),
and it trains on a million leads in well under two minutes on two cores.

The newest 20 % of the closed leads (by outcome date) are kept apart: the model learns from
the older 80 % and is judged on the newest, as it will be used — on leads it has never seen,
later than any it learned from. A new version replaces the active one only if it is at least
as good on that same hold-out (or a manager forces it).

Every open lead gets a chance (0–100) in bulk after a version is activated, and again
whenever it changes (``score_leads``, called by the real-time path). ``reasons`` explains one
lead's chance as the sum of what each of its features adds to, or takes from, the chance of an
average lead.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import joblib
import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from leadapp.db import requeue_stale
from leads import handoff
from leads.models import Lead

from .engine import LeadSet, grade_sql
from .features import FeatureSpec, LeadData, load, recycled_cutoff
from .models import Drive, LeadScore, PredictiveModel, PredictiveSettings, RuleSet
from .services import in_own_connection, insert_missing_scores

log = logging.getLogger(__name__)

MIN_CLOSED = 200
MIN_EACH = 20
HOLDOUT_SHARE = 0.2
SCORE_CHUNK = 50_000
COPY_FROM = 1000  # rows from which write_chances copies them in
STALE_AFTER = timedelta(minutes=10)
CALIBRATION_BANDS = 10
BACKGROUND = 25  # training leads the reasons are measured against
MODEL_PARAMS = {"max_depth": 2, "max_iter": 300, "learning_rate": 0.1, "random_state": 0}
Status = PredictiveModel.Status


class TooFewLeads(Exception):
    """Training needs more closed leads (the message says how many)."""


def classifier(categorical: list[bool]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(categorical_features=categorical or None, **MODEL_PARAMS)


@dataclass
class Trained:
    """What a fitted model needs to score: the feature spec and the estimator."""

    spec: FeatureSpec
    estimator: object
    background: np.ndarray  # a sample of training leads' features: the start of reasons

    def probabilities(self, data: LeadData) -> np.ndarray:
        if not len(data):
            return np.empty(0)
        return self.estimator.predict_proba(self.spec.matrix(data))[:, 1]

    def dumps(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer, compress=3)
        return buffer.getvalue()

    @staticmethod
    def loads(blob: bytes) -> Trained:
        return joblib.load(io.BytesIO(bytes(blob)))  # noqa: S301 - our own artefact, from our database


# --- training ----------------------------------------------------------------------------------


def closed_leads(options: PredictiveSettings | None = None) -> LeadData:
    options = options or PredictiveSettings.load()
    recycled_before = recycled_cutoff(days=options.recycled_after_days)
    return load(LeadSet(), closed=True, recycled_before=recycled_before)


def check_enough(data: LeadData) -> None:
    won = sum(data.won)
    lost = len(data) - won
    if len(data) < MIN_CLOSED or won < MIN_EACH or lost < MIN_EACH:
        raise TooFewLeads(
            f"Training needs at least {MIN_CLOSED} closed leads, with at least {MIN_EACH} customers "
            f"and {MIN_EACH} lost or disqualified; there are {len(data)} ({won} customers, {lost} not). "
            "Import your past leads with their outcomes (Leads → Import, with an Outcome column), "
            "or wait for more leads to close."
        )


def check_holdout(data: LeadData, rows: np.ndarray) -> None:
    """A version is judged on the newest closed leads: they need both outcomes."""
    won = int(np.array(data.won, dtype=int)[rows].sum())
    if won in (0, len(rows)):
        outcome = "customers" if won else "lost or disqualified"
        raise TooFewLeads(
            f"The newest {len(rows):,} closed leads, on which a version is judged, are all {outcome}: "
            "a version could not be told good from bad. Import older history with both outcomes, "
            "or wait for more leads to close."
        )


def time_split(data: LeadData) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the older 80 % (training) and the newest 20 % (hold-out) by outcome date."""
    order = np.lexsort((np.array(data.ids), np.array(data.as_of)))
    cut = len(order) - max(1, int(round(len(order) * HOLDOUT_SHARE)))
    return np.sort(order[:cut]), np.sort(order[cut:])


def fit(data: LeadData, *, excluded_attributes=()) -> Trained:
    spec = FeatureSpec.fit(data, excluded_attributes=list(excluded_attributes))
    x = spec.matrix(data)
    estimator = classifier(spec.categorical)
    estimator.fit(x, np.array(data.won, dtype=int))
    sample = np.random.default_rng(0).choice(len(x), size=min(BACKGROUND, len(x)), replace=False)
    return Trained(spec, estimator, x[np.sort(sample)])


def quality(y: np.ndarray, p: np.ndarray) -> dict:
    """ROC AUC, log loss, calibration by band of chance and the top decile's lift."""
    from sklearn.metrics import log_loss, roc_auc_score

    p = np.clip(p, 1e-6, 1 - 1e-6)
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    bands = []
    for b in range(CALIBRATION_BANDS):
        low, high = b / CALIBRATION_BANDS, (b + 1) / CALIBRATION_BANDS
        inside = (p >= low) & ((p < high) if b < CALIBRATION_BANDS - 1 else (p <= high))
        if inside.any():
            bands.append(
                {
                    "low": round(low * 100),
                    "high": round(high * 100),
                    "leads": int(inside.sum()),
                    "predicted": round(float(p[inside].mean()) * 100, 1),
                    "observed": round(float(y[inside].mean()) * 100, 1),
                }
            )
    top = np.argsort(-p, kind="stable")[: max(1, len(p) // 10)]
    base = y.mean()
    return {
        "auc": auc,
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "calibration": bands,
        "top_decile_lift": float(y[top].mean() / base) if base else None,
    }


def start_training(*, by=None, reason: str = "On demand", enqueue: bool = True) -> PredictiveModel:
    """Record a training run and queue it (after the commit), or return the run under way:
    ``run.started_now`` says which. ``enqueue=False``: the caller runs it (``train``) itself.
    Two requests at once start one run: they queue on the settings row's lock."""
    from .tasks import train_predictive_model

    PredictiveSettings.load()  # the row to lock exists
    with transaction.atomic():
        PredictiveSettings.objects.select_for_update().get(pk=1)
        current = PredictiveModel.objects.filter(status__in=[Status.QUEUED, Status.TRAINING]).first()
        if current is not None:
            current.started_now = False
            return current
        version = (PredictiveModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        run = PredictiveModel.objects.create(
            version=version, reason=reason[:200], created_by=by, heartbeat_at=timezone.now()
        )
        if enqueue:
            transaction.on_commit(lambda: train_predictive_model.delay(run.pk))
    run.started_now = True
    return run


def _progress(run: PredictiveModel, percent: int, phase: str) -> None:
    PredictiveModel.objects.filter(pk=run.pk).update(
        progress=percent, phase=phase, heartbeat_at=timezone.now()
    )


def train(run_id: int) -> PredictiveModel | None:
    """Train the version ``run_id`` (idempotent: a finished run is left as it is; a run whose
    worker died is started over by the sweeper)."""
    unfinished = PredictiveModel.objects.filter(pk=run_id, status=Status.ACTIVE, progress__lt=100).first()
    if unfinished is not None:
        return finish_activation(unfinished)  # its worker died while scoring the open leads
    updated = PredictiveModel.objects.filter(pk=run_id, status__in=[Status.QUEUED, Status.TRAINING]).update(
        status=Status.TRAINING, started_at=timezone.now(), heartbeat_at=timezone.now(), progress=0
    )
    if not updated:
        return None
    run = PredictiveModel.objects.get(pk=run_id)
    options = PredictiveSettings.load()
    try:
        _progress(run, 5, "Reading the closed leads")
        data = closed_leads(options)
        check_enough(data)
        train_rows, holdout_rows = time_split(data)
        check_holdout(data, holdout_rows)
        _progress(run, 30, f"Learning from {len(train_rows):,} leads")
        trained = fit(data.subset(train_rows), excluded_attributes=options.excluded_attributes)
        _progress(run, 80, f"Checking on the newest {len(holdout_rows):,} leads")
        holdout = data.subset(holdout_rows)
        y = np.array(holdout.won, dtype=int)
        figures = quality(y, trained.probabilities(holdout))
        active = PredictiveModel.objects.filter(status=Status.ACTIVE).exclude(pk=run.pk).first()
        active_auc = None
        if active is not None and active.artefact:
            active_auc = quality(y, Trained.loads(active.artefact).probabilities(holdout))["auc"]
        importance = feature_importance(trained, holdout)
    except TooFewLeads as exc:
        PredictiveModel.objects.filter(pk=run.pk).update(
            status=Status.REFUSED, message=str(exc), finished_at=timezone.now(), progress=100, phase=""
        )
        return PredictiveModel.objects.get(pk=run.pk)
    except Exception as exc:
        PredictiveModel.objects.filter(pk=run.pk).update(
            status=Status.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            progress=100,
            phase="",
        )
        raise
    won = int(sum(data.won))
    # Trained and, when it does at least as well as the active version, activated in the same
    # transaction: the page never shows "trained, not active" for a version about to go live.
    with transaction.atomic():
        PredictiveModel.objects.filter(pk=run.pk, status=Status.TRAINING).update(
            status=Status.READY,
            excluded_attributes=list(options.excluded_attributes),
            features=trained.spec.as_json(),
            trained_on=len(train_rows),
            holdout_size=len(holdout_rows),
            closed_leads=len(data),
            positives=won,
            holdout_from=datetime.fromtimestamp(min(holdout.as_of), tz=UTC),
            auc=figures["auc"],
            log_loss=figures["log_loss"],
            calibration=figures["calibration"],
            top_decile_lift=figures["top_decile_lift"],
            importance=importance,
            active_auc=active_auc,
            artefact=trained.dumps(),
            finished_at=timezone.now(),
            progress=90,
            phase="Trained",
        )
        run.refresh_from_db()
        if run.below_active:
            PredictiveModel.objects.filter(pk=run.pk).update(
                progress=100,
                phase="",
                message=f"Not activated: ROC AUC {run.auc:.3f} on the newest leads, below the active "
                f"version's {active_auc:.3f} on the same leads. A manager may activate it anyway.",
            )
            run.refresh_from_db()
            return run
        _make_active(run)
    return finish_activation(run)


def activate(run: PredictiveModel, *, by=None, force: bool = False) -> PredictiveModel:
    """Make ``run`` the active version (retiring the one before) and score the open leads."""
    if run.status not in (Status.READY, Status.RETIRED, Status.ACTIVE):
        raise ValueError(f"{run} cannot be activated: it is {run.get_status_display().lower()}.")
    if run.below_active and not force:
        raise ValueError(f"{run} scored worse than the active version; activate it with force.")
    _make_active(run, by=by)
    return finish_activation(run)


def _make_active(run: PredictiveModel, *, by=None) -> None:
    with transaction.atomic():
        PredictiveModel.objects.filter(status=Status.ACTIVE).exclude(pk=run.pk).update(status=Status.RETIRED)
        PredictiveModel.objects.filter(pk=run.pk).update(
            status=Status.ACTIVE,
            activated_at=timezone.now(),
            activated_by=by,
            forced=run.below_active,
            phase="Scoring the open leads",
            progress=95,
        )
    run.refresh_from_db()


def finish_activation(run: PredictiveModel) -> PredictiveModel:
    """Score the open leads with the version just activated (until then its progress stays
    below 100 %, so the page keeps showing it, and the sweeper resumes it if its worker dies)."""
    scored = score_all(run)
    PredictiveModel.objects.filter(pk=run.pk).update(scored_leads=scored, progress=100, phase="")
    run.refresh_from_db()
    return run


def requeue_stale_runs() -> int:
    from .tasks import train_predictive_model

    running = PredictiveModel.objects.filter(
        Q(status__in=[Status.QUEUED, Status.TRAINING]) | Q(status=Status.ACTIVE, progress__lt=100)
    )
    return requeue_stale(running, train_predictive_model, stale_after=STALE_AFTER)


def feature_importance(trained: Trained, data: LeadData, sample: int = 300) -> list[dict]:
    """What moves the chance most, on average over (up to ``sample``) leads: the mean size of
    each feature's part in the leads' reasons."""
    rows = np.arange(len(data))[:sample]
    x = trained.spec.matrix(data.subset(rows))
    parts = contributions(trained, x)
    weights = np.abs(parts).mean(axis=0) * 100
    order = np.argsort(-weights)
    return [
        {"label": trained.spec.features[i].label, "weight": round(float(weights[i]), 1)}
        for i in order
        if weights[i] >= 0.05
    ][:15]


# --- scoring -----------------------------------------------------------------------------------

_cache: dict[int, Trained] = {}


def active_model() -> tuple[PredictiveModel, Trained] | None:
    """The active version and its fitted model (unpickled once per process and version)."""
    version = PredictiveModel.objects.filter(status=Status.ACTIVE).values_list("pk", "version").first()
    if version is None:
        return None
    pk, number = version
    trained = _cache.get(number)
    if trained is None:
        blob = PredictiveModel.objects.values_list("artefact", flat=True).get(pk=pk)
        _cache.clear()
        trained = _cache[number] = Trained.loads(blob)
    return PredictiveModel(pk=pk, version=number, status=Status.ACTIVE), trained


def score_all(run: PredictiveModel) -> int:
    """Score every open lead with ``run``: chunks of ids, on several connections at once where
    the scoring job would use them (``LEADAPP_SCORING_THREADS``, PostgreSQL, not inside a
    transaction): reading, predicting and writing of different chunks overlap."""
    trained = Trained.loads(run.artefact)
    hi = Lead.objects.order_by().aggregate(hi=Max("id"))["hi"] or 0
    chunks = [LeadSet(lo=lo, hi=lo + SCORE_CHUNK - 1) for lo in range(0, hi + 1, SCORE_CHUNK)]

    def chunk(leads: LeadSet) -> int:
        with transaction.atomic():
            done = _score(leads, run.version, trained)
        PredictiveModel.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
        return done

    threads = settings.LEADAPP_SCORING_THREADS
    if threads > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return sum(pool.map(in_own_connection(chunk), chunks))
    return sum(chunk(leads) for leads in chunks)


def score_leads(lead_ids) -> int:
    """Score these leads with the active version now (the real-time path; a no-op without one)."""
    ids = tuple(sorted(set(lead_ids)))
    model = active_model() if ids else None
    if model is None:
        return 0
    run, trained = model
    return _score(LeadSet(ids=ids), run.version, trained)


def _score(leads: LeadSet, version: int, trained: Trained) -> int:
    data = load(leads)
    if not len(data):
        return 0
    insert_missing_scores(leads)  # a lead scored by no rule set yet still gets its chance
    chances = np.rint(trained.probabilities(data) * 100).astype(int).tolist()
    write_chances(list(zip(data.ids, chances, strict=True)), version)
    return len(data)


def write_chances(rows: list[tuple[int, int]], version: int) -> None:
    """Store (lead id, chance) pairs, and the grade where the chance drives it, touching only
    the rows that change; the queue's order follows. A few rows go in one statement; many (a
    chunk of the bulk scoring) are copied into a temporary table first (PostgreSQL)."""
    if not rows:
        return
    rule_set = RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
    drives = rule_set is not None and rule_set.drive != Drive.POINTS
    postgres = connection.vendor == "postgresql"
    chance = "CAST(v.chance AS SMALLINT)" if postgres else "v.chance"
    differs = "IS DISTINCT FROM" if postgres else "IS NOT"
    setters = [f"probability = {chance}", "model_version = %s"]
    changed = [f"s.probability {differs} {chance}", f"s.model_version {differs} %s"]
    if drives:
        grade = grade_sql(rule_set, "s.fit", chance)
        setters.append(f"grade = {grade}")
        changed.append(f"s.grade <> {grade}")
    table = connection.ops.quote_name(LeadScore._meta.db_table)
    update = (
        f"UPDATE {table} AS s SET {', '.join(setters)} FROM {{source}} "  # noqa: S608
        f"WHERE s.lead_id = {{lead}} AND ({' OR '.join(changed)})"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres and len(rows) > COPY_FROM:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS predictive_chances (lead_id bigint, chance smallint) "
                "ON COMMIT DELETE ROWS"
            )
            with cursor.cursor.copy("COPY predictive_chances (lead_id, chance) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(update.format(source="predictive_chances v", lead="v.lead_id"), [version, version])
            cursor.execute("TRUNCATE predictive_chances")
        else:
            lead = "CAST(v.lead_id AS BIGINT)" if postgres else "v.lead_id"
            for start in range(0, len(rows), 5000):
                batch = rows[start : start + 5000]
                values = f"WITH v (lead_id, chance) AS (VALUES {', '.join(['(%s, %s)'] * len(batch))}) "
                cursor.execute(
                    values + update.format(source="v", lead=lead),
                    [*(value for row in batch for value in row), version, version],
                )
    if drives:
        handoff.reprioritize([lead_id for lead_id, _ in rows])


def blended(rule_set: RuleSet, fit: int, chance: int | None) -> float | None:
    """The same in Python, for the lead page."""
    if rule_set.drive == Drive.PREDICTIVE:
        return chance
    a = max(1, rule_set.grade_a_threshold)
    points = 0 if fit <= 0 else 100 if fit >= a else fit * 100 / a
    if rule_set.drive == Drive.POINTS or chance is None:
        return points
    return (rule_set.blend_weight * chance + (100 - rule_set.blend_weight) * points) / 100


# --- reasons -----------------------------------------------------------------------------------


def contributions(trained: Trained, x: np.ndarray) -> np.ndarray:
    """Each feature's part of each lead's chance (rows: leads; columns: features), against the
    average lead. For each lead of a fixed sample of training leads (the background), the
    chance moves from that lead's to this one's as the features take this lead's values one at
    a time; a feature's part is the move it makes, averaged over the background and over two
    orders (the spec's and its reverse, so that no feature gains by coming first). The parts
    add up exactly to the lead's chance minus the background's average chance."""
    background = trained.background
    n, m = x.shape
    k = len(background)
    parts = np.zeros((n, m))
    for order in (np.arange(m), np.arange(m)[::-1]):
        # steps[i, b, s]: background lead b with the first s features (in ``order``) of lead i.
        steps = np.broadcast_to(background[None, :, None, :], (n, k, m + 1, m)).copy()
        for s, j in enumerate(order):
            steps[:, :, s + 1 :, j] = x[:, j][:, None, None]
        p = trained.estimator.predict_proba(steps.reshape(-1, m))[:, 1].reshape(n, k, m + 1)
        parts[:, order] += np.diff(p, axis=2).mean(axis=1) / 2
    return parts


def average_chance(trained: Trained) -> float:
    """The background's average chance: where every lead's reasons start."""
    return float(trained.estimator.predict_proba(trained.background)[:, 1].mean())


@dataclass
class Reason:
    label: str
    value: str
    points: float  # percentage points of chance

    @property
    def up(self) -> bool:
        return self.points > 0


@dataclass
class Explanation:
    chance: int
    average: int  # the average lead's chance, where the reasons start
    version: int
    up: list[Reason]
    down: list[Reason]
    rest: float  # what the reasons not shown add up to


def explain(lead: Lead, *, shown: int = 4) -> Explanation | None:
    """The lead's chance and its top reasons up and down, or None without an active model."""
    model = active_model()
    if model is None:
        return None
    run, trained = model
    data = load(LeadSet(ids=(lead.pk,)))
    if not len(data):
        return None  # a closed lead: its outcome is known
    x = trained.spec.matrix(data)
    chance = float(trained.estimator.predict_proba(x)[0, 1])
    average = average_chance(trained)
    parts = contributions(trained, x)[0] * 100
    reasons = [
        Reason(feature.label, feature.describe(x[0, j]), round(float(parts[j]), 1))
        for j, feature in enumerate(trained.spec.features)
        if abs(parts[j]) >= 0.05
    ]
    up = sorted((r for r in reasons if r.points > 0), key=lambda r: -r.points)[:shown]
    down = sorted((r for r in reasons if r.points < 0), key=lambda r: r.points)[:shown]
    shown_total = sum(r.points for r in up + down)
    return Explanation(
        chance=round(chance * 100),
        average=round(average * 100),
        version=run.version,
        up=up,
        down=down,
        rest=round((chance - average) * 100 - shown_total, 1),
    )


def cross_validated_auc(data: LeadData, *, excluded_attributes=(), folds: int = 5, seed: int = 0) -> float:
    """Stratified k-fold ROC AUC of the product's model (features fitted per fold, as training
    does): the figure the README reports for the X Education data."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    y = np.array(data.won, dtype=int)
    scores = []
    for train_rows, test_rows in StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y):
        trained = fit(data.subset(train_rows), excluded_attributes=excluded_attributes)
        scores.append(roc_auc_score(y[test_rows], trained.probabilities(data.subset(test_rows))))
    return float(np.mean(scores))
