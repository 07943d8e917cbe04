"""The scoring benchmark: full rescore against its floor, real-time scoring on ingest, preview.

Run in-process against the bench database (``python -m bench.run --scoring-only --reuse``, or
as part of the full run). The published rule set must be the starter one (scoring/starter.py:
15 fit rules in 4 groups, 12 engagement rules with caps, windows, 60-day decay, inactivity):

1. **Full rescore**: a new version with the same rules is published, and the job it queues
   is run here (every lead rescored in chunks, score rows and history written), beside
   - the *floor*: one hand-written SQL statement computing the same scores (fit, engagement,
     total, grade, temperature) for all leads into a temporary table (written for the starter
     rules, not generated: it also checks the engine, as every score it computes must equal
     the stored one), and
   - the engine's own query for all leads in one statement (no chunks, locks or writes).
2. **Real time**: single activities through ``leads.services.record_activity`` with the
   scoring receiver connected and disconnected (same leads, interleaved): p50/p95 of each and
   the added latency; batches of 1,000 events through ``ingest_events`` with and without it.
3. **Preview** of a draft (one point value changed) over every lead, as the job runs it.

It leaves the starter version published again; the activities it stored are deleted (the
scores they moved stay, as they would after a real burst of events).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class Row:
    name: str
    seconds: float | None = None
    detail: str = ""


FREE_MAIL = ("@gmail.com", "@yahoo.com", "@outlook.com", "@hotmail.com", "@gmx.de", "@web.de", "@yahoo.co.in")


def floor_sql() -> str:
    """The starter rule set's scores for every lead, written by hand for PostgreSQL."""
    free_mail = " OR ".join(f"lower(l.email) LIKE '%%{domain}'" for domain in FREE_MAIL)
    return f"""
    WITH a AS (
        SELECT lead_id, kind, occurred_at,
               power(0.5, (%(epoch)s - EXTRACT(EPOCH FROM occurred_at)::float8) / (60 * 86400.0)) AS d,
               row_number() OVER (PARTITION BY lead_id, kind, pricing
                                  ORDER BY occurred_at DESC, id DESC) AS rn,
               pricing
        FROM (
            SELECT *, (kind = 'page_view' AND lower(properties->>'url') LIKE '%%/pricing%%') AS pricing
            FROM leads_activity
        ) activity
        WHERE occurred_at <= %(as_of)s AND kind IN (
            'demo_requested', 'trial_started', 'page_view', 'download', 'webinar_registered',
            'webinar_attended', 'form_submitted', 'email_click', 'email_open', 'unsubscribed', 'email_bounce')
    ), e AS (
        SELECT lead_id,
            40 * coalesce(sum(d) FILTER (WHERE kind = 'demo_requested' AND rn = 1
                                          AND occurred_at > %(as_of)s - interval '180 days'), 0)
          + 30 * coalesce(sum(d) FILTER (WHERE kind = 'trial_started' AND rn = 1), 0)
          + 8 * coalesce(sum(d) FILTER (WHERE pricing AND rn <= 3), 0)
          + least(10, coalesce(sum(d) FILTER (WHERE kind = 'page_view'), 0))
          + least(24, 8 * coalesce(sum(d) FILTER (WHERE kind = 'download'), 0))
          + 5 * coalesce(sum(d) FILTER (WHERE kind = 'webinar_registered' AND rn <= 2), 0)
          + 12 * coalesce(sum(d) FILTER (WHERE kind = 'webinar_attended' AND rn <= 2), 0)
          + 10 * coalesce(sum(d) FILTER (WHERE kind = 'form_submitted' AND rn <= 2), 0)
          + least(12, 3 * coalesce(sum(d) FILTER (WHERE kind = 'email_click'), 0))
          + least(5, coalesce(sum(d) FILTER (WHERE kind = 'email_open'
                                             AND occurred_at > %(as_of)s - interval '90 days'), 0))
          - 20 * coalesce(sum(d) FILTER (WHERE kind = 'unsubscribed' AND rn = 1), 0)
          - 10 * coalesce(sum(d) FILTER (WHERE kind = 'email_bounce' AND rn = 1), 0) AS points
        FROM a GROUP BY lead_id
    ), s AS (
        SELECT l.id AS lead_id,
            least(30,
                CASE WHEN lower(l.job_title) IN ('ceo', 'cmo', 'cro', 'cto', 'coo', 'cfo', 'cio',
                                                 'co-founder') THEN 30 ELSE 0 END
              + CASE WHEN lower(l.job_title) LIKE '%%chief%%' OR lower(l.job_title) LIKE '%%founder%%'
                     THEN 30 ELSE 0 END
              + CASE WHEN lower(l.job_title) LIKE '%%vp%%' OR lower(l.job_title) LIKE '%%vice president%%'
                     THEN 25 ELSE 0 END
              + CASE WHEN lower(l.job_title) LIKE '%%director%%' OR lower(l.job_title) LIKE '%%head of%%'
                     THEN 20 ELSE 0 END
              + CASE WHEN lower(l.job_title) LIKE '%%manager%%' THEN 10 ELSE 0 END
              + CASE WHEN lower(l.job_title) LIKE '%%student%%' OR lower(l.job_title) LIKE '%%intern%%'
                          OR lower(l.job_title) LIKE '%%mba candidate%%' THEN -30 ELSE 0 END)
          + least(20,
                CASE WHEN l.company_size IN ('201-500', '501-1000', '1001-5000') THEN 20 ELSE 0 END
              + CASE WHEN l.company_size IN ('51-200', '5001+') THEN 12 ELSE 0 END
              + CASE WHEN l.company_size = '1-10' THEN -10 ELSE 0 END)
          + CASE WHEN l.industry IN ('software', 'finance') THEN 10
                 WHEN l.industry IN ('healthcare', 'consulting', 'telecom') THEN 5
                 WHEN l.industry IN ('education', 'government') THEN -10 ELSE 0 END
          + CASE WHEN {free_mail} THEN -10 ELSE 0 END
          + CASE WHEN l.phone <> '' THEN 5 ELSE 0 END
          + CASE WHEN l.source IN ('referral', 'partner', 'event') THEN 5 ELSE 0 END AS fit,
            round(coalesce(e.points, 0)
              + CASE WHEN la.at < %(as_of)s - interval '90 days'
                       OR (la.at IS NULL AND l.created_at < %(as_of)s - interval '90 days')
                     THEN -5 ELSE 0 END)::int AS engagement
        FROM leads_lead l JOIN leads_lastactivity la ON la.lead_id = l.id LEFT JOIN e ON e.lead_id = l.id
    )
    SELECT lead_id, fit, engagement, fit + engagement AS total,
           CASE WHEN fit >= 45 THEN 'A' WHEN fit >= 25 THEN 'B' WHEN fit >= 10 THEN 'C' ELSE 'D' END AS grade,
           CASE WHEN engagement >= 40 THEN 3 WHEN engagement >= 15 THEN 2 ELSE 1 END AS temperature
    FROM s
    """


def _timed(cursor, sql: str, params) -> float:
    began = time.perf_counter()
    cursor.execute(sql, params)
    return time.perf_counter() - began


def rescore_rows() -> list[Row]:
    from django.db import connection

    from scoring import services
    from scoring.engine import ScoreQuery
    from scoring.models import RuleSet, ScoreChange
    from scoring.services import CHUNK_LEADS

    published = services.published_rule_set()
    if published is None or published.name != "Starter scoring":
        return [Row("full rescore", detail="skipped: the published rule set is not the starter one")]
    # A new version with the same rules: publishing it rescores every lead (each row changes
    # its rule set), which is what a marketer's publish costs.
    # Archived, not a draft: a marketer's draft may be open (there is one at most).
    copy = services.copy_rule_set(published, status=RuleSet.Status.ARCHIVED)
    job = services.publish(copy, reason="Benchmark: publish", enqueue=False)
    began = time.perf_counter()
    services.run_job(job.pk)
    job_seconds = time.perf_counter() - began
    job.refresh_from_db()
    as_of = job.as_of
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        floor = _timed(
            cursor,
            f"CREATE TEMP TABLE bench_floor AS {floor_sql()}",
            {"as_of": as_of, "epoch": as_of.timestamp()},
        )
        cursor.execute(
            "SELECT count(*) FILTER (WHERE s.total IS DISTINCT FROM f.total "
            "OR s.fit IS DISTINCT FROM f.fit OR s.grade IS DISTINCT FROM f.grade "
            "OR s.temperature IS DISTINCT FROM f.temperature), "
            "count(*) FROM bench_floor f LEFT JOIN scoring_leadscore s ON s.lead_id = f.lead_id"
        )
        mismatches, leads = cursor.fetchone()
        cursor.execute("DROP TABLE bench_floor")
        sql, params = ScoreQuery(job.rule_set, as_of=as_of).sql()
        engine_one = _timed(cursor, f"CREATE TEMP TABLE bench_engine AS {sql}", params)
        cursor.execute("DROP TABLE bench_engine")
    # Leave the database as it was: the starter version published again, without the history.
    ScoreChange.objects.filter(reason="Benchmark: publish").delete()
    published.refresh_from_db()
    restore = services.restore(published, enqueue=False)
    services.run_job(restore.pk)
    ScoreChange.objects.filter(reason__startswith="Restored").delete()
    rows = [
        Row(
            "FLOOR: one hand-written SQL statement, all leads into a temp table",
            floor,
            f"{leads:,} leads; {mismatches} differ from the job's stored scores",
        ),
        Row("the engine's query, one statement, all leads into a temp table", engine_one),
        Row(
            f"publish → rescore job (chunks of {CHUNK_LEADS:,} leads: score rows and history written)",
            job_seconds,
            f"{job.done:,} leads ({job.changed:,} changed score); {job_seconds / floor:.2f}× the floor",
        ),
    ]
    print("\n".join(table(rows)), flush=True)
    return rows


def realtime_rows(sample: list[tuple[int, str]], singles: int = 400, batches: int = 10) -> list[Row]:
    from django.db import transaction

    from leads import services
    from leads.models import Activity, ActivityKind, ActivitySource, Lead
    from leads.signals import leads_changed
    from scoring.receivers import rescore_changed_leads

    rng = random.Random(11)
    leads = rng.sample(sample, singles)
    lead_objects = {lead.pk: lead for lead in Lead.objects.filter(pk__in=[pk for pk, _ in leads])}
    timings: dict[bool, list[float]] = {True: [], False: []}
    marker = "bench-realtime"
    for i, (pk, _) in enumerate(leads):
        scoring = i % 2 == 0  # interleaved, so that both see the same cache and load
        if not scoring:
            leads_changed.disconnect(dispatch_uid="scoring.rescore_changed_leads")
        began = time.perf_counter()
        services.record_activity(
            lead_objects[pk],
            kind=ActivityKind.PAGE_VIEW,
            properties={"url": "/pricing", "bench": marker},
            source=ActivitySource.API,
        )
        timings[scoring].append(time.perf_counter() - began)
        if not scoring:
            leads_changed.connect(rescore_changed_leads, dispatch_uid="scoring.rescore_changed_leads")

    def p(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    rows = [
        Row(
            "record_activity, one event, with real-time scoring",
            None,
            f"p50 {p(timings[True], 0.5):.1f} ms, p95 {p(timings[True], 0.95):.1f} ms",
        ),
        Row(
            "record_activity, one event, scoring receiver disconnected",
            None,
            f"p50 {p(timings[False], 0.5):.1f} ms, p95 {p(timings[False], 0.95):.1f} ms",
        ),
        Row(
            "ADDED latency of real-time scoring",
            None,
            f"p50 {p(timings[True], 0.5) - p(timings[False], 0.5):.1f} ms, "
            f"p95 {p(timings[True], 0.95) - p(timings[False], 0.95):.1f} ms",
        ),
    ]
    now = datetime.now(UTC)
    for scoring in (True, False):
        if not scoring:
            leads_changed.disconnect(dispatch_uid="scoring.rescore_changed_leads")
        events = 0
        began = time.perf_counter()
        for _ in range(batches):
            pool = rng.sample(sample, 100)
            batch = [
                services.EventIn(
                    kind=rng.choice(("page_view", "email_open", "download", "webinar_attended")),
                    occurred_at=now - timedelta(seconds=rng.randint(60, 7 * 86_400)),
                    lead_id=rng.choice(pool)[0],
                    properties={"url": "/pricing", "bench": marker},
                )
                for _ in range(1000)
            ]
            with transaction.atomic():
                events += sum(r.status == "created" for r in services.ingest_events(batch).results)
        services.follow_up_pending()  # what the worker does for batches of more than 50 leads
        seconds = time.perf_counter() - began
        if not scoring:
            leads_changed.connect(rescore_changed_leads, dispatch_uid="scoring.rescore_changed_leads")
        rows.append(
            Row(
                f"ingest_events, {batches} batches of 1,000 (100 leads each), then their follow-up, "
                + ("with scoring" if scoring else "scoring disconnected"),
                seconds,
                f"{events / seconds:,.0f} events/s",
            )
        )
    Activity.objects.filter(properties__bench=marker).delete()
    return rows


def preview_rows() -> list[Row]:
    from scoring import services
    from scoring.models import RuleSet

    published = services.published_rule_set()
    draft = services.copy_rule_set(published, status=RuleSet.Status.ARCHIVED, name="Benchmark draft")
    rule = draft.engagement_rules.order_by("position").first()
    rule.points += 5
    rule.save()
    job = services.start_job("preview", draft, enqueue=False, reason="Benchmark preview")
    began = time.perf_counter()
    services.run_job(job.pk)
    seconds = time.perf_counter() - began
    job.refresh_from_db()
    from scoring.preview import summary

    result = summary(job.result)
    draft.delete()
    auc = result["draft"]["auc"]
    return [
        Row(
            "preview of a draft over every lead (job, in-process)",
            seconds,
            f"{result['leads']:,} leads; AUC draft {auc:.3f}; {result['newly_mql']:,} newly MQL"
            if auc is not None
            else f"{result['leads']:,} leads",
        )
    ]


def table(rows: list[Row]) -> list[str]:
    lines = ["| what | seconds | detail |", "|---|---:|---|"]
    for row in rows:
        seconds = f"{row.seconds:.2f}" if row.seconds is not None else ""
        lines.append(f"| {row.name} | {seconds} | {row.detail} |")
    return lines


def run(sample: list[tuple[int, str]]) -> list[str]:
    print("  scoring: full rescore and its floor", flush=True)
    rows = rescore_rows()
    print("  scoring: real time", flush=True)
    rows += realtime_rows(sample)
    print("  scoring: preview", flush=True)
    rows += preview_rows()
    return [
        "",
        "## Scoring (in-process, starter rule set: 15 fit rules, 12 engagement rules)",
        "",
        *table(rows),
    ]
