"""The predictive model benchmark (issue 8): train on 1,000,000 closed leads (target < 2 min),
score 1,000,000 open leads (< 30 s), and one lead (< 10 ms).

Run against a scratch database of its own (it rewrites every lead's stage)::

    python -m bench.run --predictive-only --db leadapp_bench_predictive [--reuse]

1. **Outcomes** (set-based, one UPDATE): every lead of the database is closed, customer or
   lost, drawn from its traits (industry, company size, seniority, how long it stayed active)
   and a hash of its id, its outcome the day after its last activity (so all its activities
   count). Baseline: the same UPDATE's plain scan (``SELECT count(*)`` of the same rows).
2. **Train** through the product's path (``predictive.start_training`` + ``train``: read the
   features, learn from the older 80 %, judge on the newest 20 %, activate, score the open
   leads — none here). Timed in phases; baseline: reading the features alone.
3. **Score**: every lead reopened (stage new, one UPDATE), then ``predictive.score_all`` with
   the version just trained, timed. Baseline: one UPDATE writing a constant to every score row.
4. **One lead**: ``predictive.score_leads([id])`` (the real-time path: read, predict, write) for
   300 random leads, p50/p95 ms; the lead page's reasons (``predictive.explain``) too. Baseline:
   a ``SELECT 1`` round trip.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

TRAIN_TARGET_S = 120
SCORE_TARGET_S = 30
ONE_TARGET_MS = 10


@dataclass
class Row:
    what: str
    figure: str
    baseline: str
    target: str
    met: str


def _seconds(began: float) -> float:
    return time.perf_counter() - began


def close_every_lead(cursor) -> tuple[float, float]:
    """Give every lead an outcome drawn from its traits; (seconds, baseline seconds)."""
    began = time.perf_counter()
    cursor.execute("SELECT count(*) FROM leads_lead")
    baseline = _seconds(began)
    began = time.perf_counter()
    cursor.execute(
        """
        UPDATE leads_lead AS l SET
          stage = CASE WHEN (abs(hashtext(l.id::text)) % 1000) / 1000.0 < (
              0.05
              + CASE WHEN l.industry IN ('software', 'finance') THEN 0.15 ELSE 0 END
              + CASE WHEN l.company_size IN ('201-500', '501-1000', '1001-5000') THEN 0.10 ELSE 0 END
              + CASE WHEN l.job_title ~* '(head|chief|vp|director)' THEN 0.20 ELSE 0 END
              + CASE WHEN la.at > l.created_at + interval '60 days' THEN 0.15 ELSE 0 END
            ) THEN 'customer' ELSE 'lost' END,
          stage_changed_at = COALESCE(la.at, l.created_at) + interval '1 day'
        FROM leads_lastactivity AS la WHERE la.lead_id = l.id
        """
    )
    return _seconds(began), baseline


def reopen_every_lead(cursor) -> None:
    cursor.execute("UPDATE leads_lead SET stage = 'new'")


def measure() -> list[Row]:
    from django.db import connection, transaction

    from leads.models import Lead
    from scoring import predictive
    from scoring.models import LeadScore, PredictiveModel

    rows: list[Row] = []
    with transaction.atomic(), connection.cursor() as cursor:
        seconds, baseline = close_every_lead(cursor)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")
        cursor.execute("SELECT count(*) FILTER (WHERE stage = 'customer'), count(*) FROM leads_lead")
        won, total = cursor.fetchone()
    rows.append(
        Row(
            f"Outcomes for {total:,} leads ({won / total:.0%} customers): one UPDATE",
            f"{seconds:.1f} s",
            f"{baseline:.1f} s (count)",
            "",
            "",
        )
    )

    print(f"  Predictive: reading the features of {total:,} closed leads", flush=True)
    began = time.perf_counter()
    data = predictive.closed_leads()
    read_seconds = _seconds(began)
    del data
    print("  Predictive: training (the product's path)", flush=True)
    PredictiveModel.objects.filter(status__in=["queued", "training"]).update(status="failed")
    began = time.perf_counter()
    run = predictive.train(predictive.start_training(reason="Benchmark").pk)
    train_seconds = _seconds(began)
    rows.append(
        Row(
            f"Train on {run.closed_leads:,} closed leads (v{run.version}: learn from {run.trained_on:,}, "
            f"judge on {run.holdout_size:,}; ROC AUC {run.auc:.3f})",
            f"{train_seconds:.1f} s",
            f"{read_seconds:.1f} s (reading the features alone)",
            f"< {TRAIN_TARGET_S} s",
            "yes" if train_seconds < TRAIN_TARGET_S else "no",
        )
    )

    with transaction.atomic(), connection.cursor() as cursor:
        reopen_every_lead(cursor)
        cursor.execute("SELECT count(*) FROM leads_lead")
        open_leads = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE leads_lead")
        began = time.perf_counter()
        cursor.execute("UPDATE scoring_leadscore SET probability = 50")
        write_floor = _seconds(began)
        cursor.execute("UPDATE scoring_leadscore SET probability = NULL, model_version = NULL")
        cursor.execute("VACUUM ANALYZE scoring_leadscore")
    print(f"  Predictive: scoring {open_leads:,} open leads", flush=True)
    run.refresh_from_db()
    began = time.perf_counter()
    scored = predictive.score_all(run)
    score_seconds = _seconds(began)
    rows.append(
        Row(
            f"Score {scored:,} open leads (predictive.score_all)",
            f"{score_seconds:.1f} s",
            f"{write_floor:.1f} s (one UPDATE of every score row)",
            f"< {SCORE_TARGET_S} s",
            "yes" if score_seconds < SCORE_TARGET_S else "no",
        )
    )
    assert LeadScore.objects.filter(probability__isnull=False).count() == scored

    sample = random.Random(8).sample(range(1, open_leads + 1), 300)
    ids = list(LeadScore.objects.filter(lead_id__in=sample).values_list("lead_id", flat=True)) or list(
        LeadScore.objects.values_list("lead_id", flat=True)[:300]
    )
    predictive.score_leads([ids[0]])  # the model loaded once per process, as in a worker
    one, explain, floor = [], [], []
    for lead_id in ids:
        began = time.perf_counter()
        with transaction.atomic():
            predictive.score_leads([lead_id])
        one.append(_seconds(began) * 1000)
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        floor.append(_seconds(began) * 1000)
    for lead in Lead.objects.filter(pk__in=ids[:100]):
        began = time.perf_counter()
        predictive.explain(lead)
        explain.append(_seconds(began) * 1000)
    p95 = _p(one, 95)
    rows.append(
        Row(
            f"One lead, real time (predictive.score_leads: read, predict, write; {len(one)} leads)",
            f"p50 {_p(one, 50):.1f} ms, p95 {p95:.1f} ms",
            f"p50 {_p(floor, 50):.2f} ms (SELECT 1)",
            f"< {ONE_TARGET_MS} ms",
            "yes" if p95 < ONE_TARGET_MS else "no",
        )
    )
    rows.append(
        Row(
            f"The lead page's reasons (predictive.explain; {len(explain)} leads)",
            f"p50 {_p(explain, 50):.1f} ms, p95 {_p(explain, 95):.1f} ms",
            "",
            "",
            "",
        )
    )
    return rows


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[q - 1]


def table(rows: list[Row]) -> list[str]:
    lines = ["| what | measured | baseline, same run | target | met |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r.what} | {r.figure} | {r.baseline} | {r.target} | {r.met} |" for r in rows]
    return lines


def run_alone(header: list[str]) -> None:
    """``--predictive-only``: into bench/results/latest-predictive.md."""
    from bench.run import write_results

    write_results(
        "latest-predictive.md", [*header, "", "## Predictive score (in-process)", "", *table(measure())]
    )
