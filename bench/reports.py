"""The KPI dashboard benchmark: ``GET /leads/reports/`` at 1,000,000 leads with a year of history.

Run against the bench database: ``python -m bench.run --reports-only --reuse``. Target (issue 7):
the dashboard renders in under 1 s.

1. **Prepare** (in-process, set-based, idempotent): pending migrations; opportunities for the
   leads the demo history took to the opportunity stage (``INSERT … SELECT``, amounts from the
   lead id, won for customers) and a year of monthly costs for four paid sources, where missing;
   then the funnel rows of every lead rebuilt (``reports.refresh_funnel``: the nightly job and
   ``manage.py refresh_funnel``), timed: the backfill figure; on the first run after migration
   0011 that also builds the dashboard's roll-ups (funnel cubes, engagement roll-up), so it is
   run a second time and timed again: what the nightly rebuild costs when little changed.
2. **Measure** (gunicorn running): a manager, logged in through the login form, from
   ``--report-clients`` clients (default 2: managers do not refresh a dashboard ten at a time)
   for ``--duration`` seconds after ``--warmup``: the default page (the last 90 days against the
   90 before), a year against the year before, the year filtered by a source, and the htmx swap
   a filter change makes (the dashboard part only), and the year filtered by a country (a
   filter the roll-ups do not cover: the funnel rows and the activities are read). Baseline of
   the same run: ``GET /healthz``. No cache: every request computes its figures.
3. **Break down** (in-process, one at a time): the time of each KPI function for the year and
   its comparison (as the page asks for them), so that a slow figure is easy to find; and a
   check at scale that the engagement roll-up gives what counting the activities gives.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

REPORTS_PATH = "/leads/reports/"
TARGET_MS = 1000
MANAGER = "bench-reports-manager"
PASSWORD = "bench-reports-password"  # noqa: S105 - a benchmark fixture on a scratch database
COST_SOURCES = {"paid_search": 90_000, "paid_social": 60_000, "event": 40_000, "partner": 25_000}
# The dashboard's roll-ups (migration 0011, PostgreSQL): vacuumed with the funnel rows.
ROLLUPS = (
    "leads_funnelday",
    "leads_qualifiedday",
    "leads_wonday",
    "leads_engagedday",
    "leads_engagedcell",
    "leads_reportstate",
)


@dataclass
class Prepared:
    seconds: float
    migrations: list[str]
    opportunities: int
    costs: int
    funnel_seconds: float
    funnel_rows: int
    stats: dict[str, int] = field(default_factory=dict)
    again_seconds: float = 0.0


def prepare() -> Prepared:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, transaction

    from leadapp.roles import MANAGER as MANAGER_ROLE
    from leads import reports

    began = time.perf_counter()
    out = io.StringIO()
    call_command("migrate", verbosity=1, stdout=out)
    migrations = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("Applying")]
    manager, _ = User.objects.get_or_create(username=MANAGER)
    manager.set_password(PASSWORD)
    manager.save()
    manager.groups.set([Group.objects.get(name=MANAGER_ROLE)])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO leads_opportunity (lead_id, amount, currency, expected_close_date, status,
                opened_at, won_value, won_date, lost_note, closed_at)
            SELECT l.id, 1000 + (l.id * 7919) % 50000, 'EUR', (s.changed_at + interval '30 days')::date,
                CASE WHEN l.stage = 'customer' THEN 'won' WHEN l.stage = 'lost' THEN 'lost' ELSE 'open' END,
                s.changed_at,
                CASE WHEN l.stage = 'customer' THEN 1000 + (l.id * 7919) % 50000 END,
                CASE WHEN l.stage = 'customer' THEN l.stage_changed_at::date END,
                '', CASE WHEN l.stage IN ('customer', 'lost') THEN l.stage_changed_at END
            FROM leads_lead l
            JOIN LATERAL (
                SELECT MIN(changed_at) AS changed_at FROM leads_stagechange
                WHERE lead_id = l.id AND to_stage = 'opportunity'
            ) s ON s.changed_at IS NOT NULL
            WHERE l.stage IN ('opportunity', 'customer', 'lost')
            ON CONFLICT DO NOTHING
            """
        )
        opportunities = cursor.rowcount
        month = date.today().replace(day=1)
        costs = 0
        for _ in range(13):
            for source, amount in COST_SOURCES.items():
                cursor.execute(
                    "INSERT INTO leads_marketingcost (month, source, amount, note) "
                    "VALUES (%s, %s, %s, 'Bench') "
                    "ON CONFLICT DO NOTHING",
                    [month, source, amount],
                )
                costs += cursor.rowcount
            month = (month - timedelta(days=1)).replace(day=1)
    started = time.perf_counter()
    rows = reports.refresh_funnel()
    funnel_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reports.refresh_funnel()
    again_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name = ANY(%s)", [list(ROLLUPS)]
        )
        tables = ["leads_leadfunnel", "leads_opportunity", "leads_marketingcost"]
        tables += sorted(name for (name,) in cursor.fetchall())
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("SELECT count(*) FROM leads_activity")
        activities = cursor.fetchone()[0]
        cursor.execute("SELECT min(created_at), max(created_at) FROM leads_lead")
        first, last = cursor.fetchone()
    stats = {"activities": activities, "history_days": (last - first).days if first else 0}
    return Prepared(
        time.perf_counter() - began,
        migrations,
        opportunities,
        costs,
        funnel_seconds,
        rows,
        stats,
        again_seconds,
    )


def _year_query() -> str:
    end = date.today()
    return f"start={(end - timedelta(days=364)).isoformat()}&end={end.isoformat()}"


def scenarios() -> list[tuple[str, str, dict[str, str]]]:
    year = _year_query()
    htmx = {"HX-Request": "true", "HX-Target": "dashboard"}
    return [
        ("GET /leads/reports/ (last 90 days vs the 90 before)", REPORTS_PATH, {}),
        ("GET /leads/reports/?start=…&end=… (a year vs the year before)", f"{REPORTS_PATH}?{year}", {}),
        (
            "GET /leads/reports/ (a year, source = paid search)",
            f"{REPORTS_PATH}?{year}&source=paid_search",
            {},
        ),
        ("GET /leads/reports/ (a year, htmx swap of #dashboard)", f"{REPORTS_PATH}?{year}", htmx),
        ("GET /leads/reports/ (a year, country = DE: no roll-up)", f"{REPORTS_PATH}?{year}&country=DE", {}),
    ]


def measure(port: int, *, clients: int, duration: float, warmup: float) -> tuple[list, list[str]]:
    from bench.run import Measurement, Request, drive, fetch, get, session_login

    session = {"Cookie": session_login(port, MANAGER, PASSWORD)}
    rows: list[Measurement] = []
    notes: list[str] = []
    print("  Reports: BASELINE GET /healthz", flush=True)
    baseline = get("/healthz", {})
    if warmup:
        drive("healthz", port, baseline, clients=clients, duration=warmup)
    rows.append(drive("BASELINE GET /healthz (SELECT 1)", port, baseline, clients=clients, duration=duration))
    for name, path, extra in scenarios():
        headers = {**session, **extra}
        status, body = fetch(port, path, headers)
        if status != 200:
            rows.append(Measurement(name, note=f"HTTP {status}"))
            continue
        notes.append(f"- {name}: {len(body) / 1024:.0f} KiB")
        print(f"  Reports: {name}", flush=True)

        def make(client: int, n: int, path=path, headers=headers) -> Request:
            return Request("GET", path, headers)

        if warmup:
            drive(name, port, make, clients=clients, duration=warmup)
        rows.append(drive(name, port, make, clients=clients, duration=duration))
    return rows, notes


def breakdown(repeat: int = 3) -> list[str]:
    """Each KPI function's time for a year and its comparison, as the page asks for them
    (median of ``repeat``), in-process; the whole page's figures for the default period and the
    year; and the engagement roll-up checked against counting the activities."""
    from leads import report_views, reports

    end = date.today()
    period = reports.Period.of_days(end - timedelta(days=364), end)
    comparison = reports.Period(period.start - timedelta(days=365), period.end - timedelta(days=365))
    default = reports.Period.of_days(end - timedelta(days=89), end)
    both = [period, comparison]
    filters = reports.Filters()
    country = reports.Filters(country="DE")
    parts = [
        (
            "funnel, conversion by source and by grade (both periods)",
            lambda: reports.cohorts(both, filters, "source"),
        ),
        ("velocity", lambda: reports.velocity(period, filters)),
        ("new MQLs per month", lambda: reports.mql_months(period, filters)),
        ("engagement (both periods)", lambda: reports.engagements(both, filters)),
        ("sales cycle (both periods)", lambda: reports.sales_cycles(both, filters)),
        ("ROI", lambda: reports.roi(period, filters)),
        ("SLA by SDR", lambda: reports.sla(period, filters, by="owner")),
        ("SLA by team", lambda: reports.sla(period, filters, by="team")),
    ]
    lines = ["", "| KPI (a year and the year before, in-process) | median ms |", "| --- | ---: |"]
    total = 0.0
    for name, run in parts:
        ms = _median_ms(run, repeat)
        total += ms
        lines.append(f"| {name} | {ms:.0f} |")
    lines.append(f"| **all of them** | **{total:.0f}** |")
    lines += [
        "",
        "| the page's figures, in-process (`report_views._figures`) | median ms |",
        "| --- | ---: |",
    ]
    for name, first, filters_ in [
        ("last 90 days vs the 90 before", default, filters),
        ("a year vs the year before", period, filters),
        ("a year vs the year before, source = paid search", period, reports.Filters(source="paid_search")),
        ("a year vs the year before, country = DE (no roll-up)", period, country),
    ]:
        second = first.previous() if first is default else comparison
        ms = _median_ms(
            lambda f=first, s=second, x=filters_: report_views._figures(f, s, x, "source"), repeat
        )
        lines.append(f"| {name} | {ms:.0f} |")
    lines += [
        "",
        "| engagement: active leads | roll-up | counting the activities | roll-up ms | activities ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, first, filters_ in [
        ("last 90 days", default, filters),
        ("a year", period, filters),
        ("a year, source = paid search", period, reports.Filters(source="paid_search")),
        ("a year, country = DE (joined to the funnel rows)", period, country),
    ]:
        began = time.perf_counter()
        rolled = reports._active_from_rollup([first], filters_)
        rolled_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        counted = reports._active_from_activities(first, filters_)
        counted_ms = (time.perf_counter() - began) * 1000
        shown = "not built" if rolled is None else f"{rolled[0]:,}"
        lines.append(f"| {name} | {shown} | {counted:,} | {rolled_ms:.0f} | {counted_ms:.0f} |")
    return lines


def _median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def report(
    prepared: Prepared, rows: Sequence, notes: Sequence[str], parts: list[str], cores: int
) -> list[str]:
    from bench.run import http_table

    migrated = ", ".join(m.split()[1].rstrip(".") for m in prepared.migrations)
    lines = [
        "",
        f"## KPI dashboard (bench/reports.py): GET {REPORTS_PATH}; target under {TARGET_MS} ms",
        "",
        f"- {prepared.funnel_rows:,} leads over {prepared.stats.get('history_days', 0)} days of history, "
        f"{prepared.stats.get('activities', 0):,} activities; {prepared.opportunities:,} opportunities and "
        f"{prepared.costs} monthly costs added",
        f"- funnel rows of every lead rebuilt (the nightly job, `manage.py refresh_funnel`) in "
        f"{prepared.funnel_seconds:.1f}s "
        f"({prepared.funnel_rows / max(prepared.funnel_seconds, 1e-9):,.0f} leads/s), and again, "
        f"with nothing changed, in {prepared.again_seconds:.1f}s"
        + (f"; migrations applied: {migrated}" if migrated else ""),
        "",
        *http_table(rows, cores),
        "",
        *notes,
        *parts,
    ]
    for m in rows:
        if m.name.startswith("GET") and m.count:
            p95 = m.percentile_ms(95)
            verdict = "met" if p95 < TARGET_MS else "NOT met"
            lines.append(f"- target < {TARGET_MS} ms, {m.name}: p95 {p95:.0f} ms, {verdict}")
    return lines


def run_alone(args, env: dict[str, str], header: list[str], prepared: Prepared, cores: int) -> None:
    """``--reports-only``: gunicorn, the scenarios, the breakdown; into bench/results/latest-reports.md."""
    from bench.run import measured_with_gunicorn, write_results

    rows, notes = measured_with_gunicorn(
        args,
        env,
        lambda port: measure(port, clients=args.report_clients, duration=args.duration, warmup=args.warmup),
    )
    print("  Reports: in-process breakdown", flush=True)
    write_results("latest-reports.md", header + report(prepared, rows, notes, breakdown(), cores))
