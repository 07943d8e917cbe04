"""The SDR queue benchmark: ``GET /leads/queue/`` (its first page) under 10 concurrent SDRs.

Run against the bench database, alone (``python -m bench.run --queue-only --reuse``) or as part
of the full run. Target (issue 6): p95 under 150 ms with 1,000,000 leads, 50 SDRs and 20,000
open handed-off leads, 10 SDRs at once.

1. **Prepare** (in-process, set-based, idempotent: a second run converges on the same state
   instead of adding to it): pending migrations are applied (``--reuse`` does not migrate);
   ``SDRS`` users ``bench-sdr-01`` … ``bench-sdr-50`` in the Sales group and one
   ``bench-sales-manager`` (Manager group), all with the password ``PASSWORD``; ``TEAMS``
   teams of ten SDRs managed by that manager; open handoffs topped up to ``OPEN_HANDOFFS``
   for leads in MQL or SAL that have none (``INSERT … SELECT``; when the database has too few
   such leads, new leads are moved to MQL first, with their stage-change rows). Then every
   open handoff is laid out again with one ``UPDATE … FROM``: ``POOL`` MQL handoffs in the
   pool (no owner), the rest dealt among the SDRs (assigned for an MQL, accepted
   for a SAL, most of those touched already), deadlines counted from now (plain hours, not
   business hours), their stored queue order recomputed by the app's own
   ``leads.handoff.reprioritize()`` (one UPDATE), and each lead's owner set to its handoff's
   (``UPDATE … FROM``, only where it differs). About one handoff in ten is a hand-raise.
   ``VACUUM (ANALYZE)`` afterwards: autovacuum is off on the bench machines.
2. **Measure** (gunicorn running): ``--clients`` clients, each logged in through the login
   form as a different SDR, for ``--duration`` seconds after ``--warmup``: the queue page; the
   request its live part polls every 20 s (htmx: ``HX-Request``/``HX-Target: queue-live``, with
   the filter form's fields, as the browser sends it); the same page for the manager (every
   SDR's handoffs: all 20,000 to sort). The baseline of the same run is ``GET /healthz`` (one
   ``SELECT 1``: the request floor).
3. **Explain** (in-process, as ``bench-sdr-01``): EXPLAIN ANALYZE of the queue's first page
   (``leads.handoff.queue(user)[:page size]``) and of its count (and of the manager's first page), and
   the page rendered in-process through the test client, one request at a time: the view's
   time, its queries with their mean time, and EXPLAIN ANALYZE of its slowest statements.

The handoffs, users and teams stay in the database (the next run reuses them).
"""

from __future__ import annotations

import io
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

SDRS = 50
TEAMS = 5
OPEN_HANDOFFS = 20_000
POOL = 2_000
PASSWORD = "bench-queue-password"  # noqa: S105 - a benchmark fixture on a scratch database
SDR_PREFIX = "bench-sdr-"
MANAGER = "bench-sales-manager"
TEAM_PREFIX = "Bench team "
REASON_SCORE = "Benchmark queue: score reached the MQL threshold"
REASON_HAND_RAISE = "Benchmark queue: hand-raise (demo requested)"
QUEUE_PATH = "/leads/queue/"
# What the live part's poll sends: hx-include="#queue-filters" adds the filter form's fields.
POLL_QUERY = urlencode({"q": "", "scope": "", "stage": "", "page": "1", "open": ""})
TARGET_P95_MS = 150


@dataclass
class Prepared:
    seconds: float
    migrations: list[str]
    inserted: int
    promoted: int
    leads_moved: int
    stats: dict[str, int] = field(default_factory=dict)


def sdr_username(n: int) -> str:
    return f"{SDR_PREFIX}{n:02d}"


# --- prepare --------------------------------------------------------------------------------------


def prepare() -> Prepared:
    """Users, teams and open handoffs for the queue scenario (see the module docstring)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from leads import handoff

    began = time.perf_counter()
    out = io.StringIO()
    call_command("migrate", verbosity=1, stdout=out)
    migrations = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("Applying")]
    now = datetime.now(UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        _users_and_teams(cursor)
        promoted = _promote_new_leads(cursor, now)
        inserted = _insert_handoffs(cursor, now)
        _lay_out_handoffs(cursor, now)
        handoff.reprioritize()  # the stored queue order, as the app keeps it (one UPDATE)
        leads_moved = _owners_follow_handoffs(cursor, now)
        stats = _stats(cursor, now)
    with connection.cursor() as cursor:  # outside the transaction: VACUUM cannot run in one
        cursor.execute("VACUUM (ANALYZE) leads_handoff")
        if promoted or leads_moved:
            cursor.execute("VACUUM (ANALYZE) leads_lead")
        if promoted:
            cursor.execute("VACUUM (ANALYZE) leads_stagechange")
        for table in ("auth_user", "auth_user_groups", "leads_team", "leads_team_members"):
            cursor.execute(f"ANALYZE {table}")
    return Prepared(time.perf_counter() - began, migrations, inserted, promoted, leads_moved, stats)


def _users_and_teams(cursor) -> None:
    """The SDRs, the manager, their groups, the teams and who is in which (upserts)."""
    from django.contrib.auth.hashers import make_password

    from leadapp.roles import MANAGER as MANAGER_ROLE
    from leadapp.roles import SALES

    cursor.execute(
        """
        INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active,
                               first_name, last_name, email, date_joined)
        SELECT u.username, %(password)s, false, false, true, u.first_name, u.last_name,
               u.username || '@bench.example', now()
        FROM (
            SELECT %(prefix)s || lpad(i::text, 2, '0') AS username,
                   (ARRAY['Ana', 'Ben', 'Chloé', 'Dev', 'Emre', 'Fatima', 'Gus', 'Hana', 'Ivo', 'Jun'])
                       [1 + i %% 10] AS first_name,
                   'SDR ' || lpad(i::text, 2, '0') AS last_name
            FROM generate_series(1, %(sdrs)s) AS i
            UNION ALL
            SELECT %(manager)s, 'Morgan', 'Sales manager'
        ) AS u
        ON CONFLICT (username) DO UPDATE SET password = EXCLUDED.password, is_active = true
        """,
        {"password": make_password(PASSWORD), "prefix": SDR_PREFIX, "sdrs": SDRS, "manager": MANAGER},
    )
    cursor.execute(
        """
        INSERT INTO auth_user_groups (user_id, group_id)
        SELECT u.id, g.id
        FROM auth_user AS u
        JOIN auth_group AS g ON g.name = CASE WHEN u.username = %(manager)s THEN %(manager_role)s
                                              ELSE %(sales)s END
        WHERE u.username = %(manager)s OR u.username LIKE %(like)s
        ON CONFLICT DO NOTHING
        """,
        {"manager": MANAGER, "manager_role": MANAGER_ROLE, "sales": SALES, "like": f"{SDR_PREFIX}%"},
    )
    cursor.execute(
        """
        INSERT INTO leads_team (name, manager_id)
        SELECT %(prefix)s || t, (SELECT id FROM auth_user WHERE username = %(manager)s)
        FROM generate_series(1, %(teams)s) AS t
        ON CONFLICT (name) DO UPDATE SET manager_id = EXCLUDED.manager_id
        """,
        {"prefix": TEAM_PREFIX, "manager": MANAGER, "teams": TEAMS},
    )
    # SDR i is in team (i - 1) mod TEAMS + 1. This session's map of SDR → team, for the layout.
    cursor.execute(
        """
        CREATE TEMP TABLE bench_sdr ON COMMIT DROP AS
        SELECT s.n - 1 AS slot, u.id AS user_id, t.id AS team_id
        FROM generate_series(1, %(sdrs)s) AS s(n)
        JOIN auth_user AS u ON u.username = %(prefix)s || lpad(s.n::text, 2, '0')
        JOIN leads_team AS t ON t.name = %(team_prefix)s || ((s.n - 1) %% %(teams)s + 1)
        """,
        {"sdrs": SDRS, "prefix": SDR_PREFIX, "team_prefix": TEAM_PREFIX, "teams": TEAMS},
    )
    cursor.execute(
        """
        INSERT INTO leads_team_members (team_id, user_id)
        SELECT team_id, user_id FROM bench_sdr
        ON CONFLICT DO NOTHING
        """
    )


def _open_count(cursor) -> int:
    cursor.execute("SELECT count(*) FROM leads_handoff WHERE status <> 'closed'")
    return cursor.fetchone()[0]


def _promote_new_leads(cursor, now: datetime) -> int:
    """When fewer MQL/SAL leads without an open handoff exist than handoffs are missing (a
    small database), move that many new leads to MQL, as the scoring would, with their
    stage-change rows."""
    missing = OPEN_HANDOFFS - _open_count(cursor)
    if missing <= 0:
        return 0
    cursor.execute(
        """
        SELECT count(*) FROM leads_lead AS l
        WHERE l.stage IN ('mql', 'sal')
          AND NOT EXISTS (SELECT 1 FROM leads_handoff AS h WHERE h.lead_id = l.id AND h.status <> 'closed')
        """
    )
    short = missing - cursor.fetchone()[0]
    if short <= 0:
        return 0
    cursor.execute(
        """
        WITH picked AS (
            SELECT l.id FROM leads_lead AS l
            WHERE l.stage = 'new'
              AND NOT EXISTS (SELECT 1 FROM leads_handoff AS h
                              WHERE h.lead_id = l.id AND h.status <> 'closed')
            ORDER BY md5(l.id::text)
            LIMIT %(short)s
        ), moved AS (
            UPDATE leads_lead AS l
            SET stage = 'mql',
                stage_changed_at = %(now)s - interval '1 minute' * (abs(hashint8(l.id)::bigint) %% 2880),
                updated_at = %(now)s
            FROM picked
            WHERE l.id = picked.id
            RETURNING l.id, l.stage_changed_at
        )
        INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, reason, forced)
        SELECT id, 'new', 'mql', stage_changed_at, %(reason)s, false FROM moved
        """,
        {"short": short, "now": now, "reason": REASON_SCORE},
    )
    return cursor.rowcount


def _insert_handoffs(cursor, now: datetime) -> int:
    """Top the open handoffs up to OPEN_HANDOFFS, for MQL/SAL leads without one (scattered
    over the table: picked by a hash of the id). Laid out (owner, status, deadlines) next."""
    missing = OPEN_HANDOFFS - _open_count(cursor)
    if missing <= 0:
        return 0
    cursor.execute(
        """
        WITH picked AS (
            SELECT l.id FROM leads_lead AS l
            WHERE l.stage IN ('mql', 'sal')
              AND NOT EXISTS (SELECT 1 FROM leads_handoff AS h
                              WHERE h.lead_id = l.id AND h.status <> 'closed')
            ORDER BY md5(l.id::text)
            LIMIT %(missing)s
        )
        INSERT INTO leads_handoff (lead_id, status, hand_raise, reason, grade, handed_at, outcome)
        SELECT p.id, 'pool', hashint8(p.id) %% 10 = 0,
               CASE WHEN hashint8(p.id) %% 10 = 0 THEN %(hand_raise)s ELSE %(score)s END,
               coalesce(s.grade, ''), %(now)s, ''
        FROM picked AS p
        LEFT JOIN scoring_leadscore AS s ON s.lead_id = p.id
        ON CONFLICT DO NOTHING
        """,
        {"missing": missing, "hand_raise": REASON_HAND_RAISE, "score": REASON_SCORE, "now": now},
    )
    return cursor.rowcount


def _lay_out_handoffs(cursor, now: datetime) -> None:
    """Every open handoff: POOL of the MQL ones in the pool, the others dealt to the SDRs (by a
    hash of the id: about the same number each); status and SLA deadlines by the lead's stage,
    counted back from now (a hash of the id decides how long ago: deterministic, so a second
    run lays them out the same way)."""
    from django.conf import settings

    cursor.execute(
        """
        WITH open AS (
            SELECT h.id, l.stage = 'mql' AS mql, abs(hashint8(h.id)::bigint) AS x,
                   l.stage = 'mql' AND row_number() OVER (PARTITION BY l.stage = 'mql'
                                                          ORDER BY md5(h.id::text)) <= %(pool)s AS pool
            FROM leads_handoff AS h
            JOIN leads_lead AS l ON l.id = h.lead_id
            WHERE h.status <> 'closed'
        ), dealt AS (
            -- the SDR by a hash of the id, not by rank: a handoff opened by another scenario
            -- (a promotion) does not move the others to other SDRs on the next run
            SELECT o.*, (o.x / 17) %% %(sdrs)s AS slot
            FROM open AS o
        ), timed AS (
            SELECT d.id, d.mql, d.pool, d.x,
                   CASE WHEN d.pool THEN NULL ELSE s.user_id END AS owner_id,
                   CASE WHEN d.pool THEN NULL ELSE s.team_id END AS team_id,
                   -- an MQL was handed over in the last 8 hours (about half of them are past the
                   -- 4-hour accept deadline), a SAL in the last 30 days
                   %(now)s - interval '1 minute' * CASE WHEN d.mql THEN d.x %% 480 ELSE d.x %% 43200 END
                       AS handed_at,
                   CASE WHEN d.pool THEN %(pool_accept)s ELSE 4 END AS accept_hours,
                   CASE WHEN d.pool THEN %(pool_touch)s ELSE 8 END AS touch_hours
            FROM dealt AS d
            JOIN bench_sdr AS s ON s.slot = d.slot
        ), laid AS (
            SELECT t.*,
                   CASE WHEN t.mql THEN NULL
                        ELSE t.handed_at + interval '1 minute' * ((t.x / 7) %% 240) END AS accepted_at,
                   -- seven in ten accepted leads were called or written to already
                   CASE WHEN t.mql OR (t.x / 11) %% 10 >= 7 THEN NULL
                        ELSE least(%(now)s, t.handed_at
                                            + interval '1 minute' * ((t.x / 7) %% 240 + (t.x / 13) %% 480))
                   END
                       AS first_touch_at
            FROM timed AS t
        )
        UPDATE leads_handoff AS h
        SET owner_id = laid.owner_id,
            team_id = laid.team_id,
            rule_id = NULL,
            status = CASE WHEN laid.pool THEN 'pool' WHEN laid.mql THEN 'assigned' ELSE 'accepted' END,
            handed_at = laid.handed_at,
            assigned_at = laid.handed_at,
            accepted_at = laid.accepted_at,
            first_touch_at = laid.first_touch_at,
            accept_due_at = laid.handed_at + interval '1 hour' * laid.accept_hours,
            touch_due_at = laid.handed_at + interval '1 hour' * laid.touch_hours,
            due_at = CASE WHEN laid.mql THEN laid.handed_at + interval '1 hour' * laid.accept_hours
                          WHEN laid.first_touch_at IS NULL
                              THEN laid.handed_at + interval '1 hour' * laid.touch_hours
                     END
        FROM laid
        WHERE h.id = laid.id
        """,
        {
            "pool": POOL,
            "sdrs": SDRS,
            "now": now,
            "pool_accept": settings.LEADAPP_POOL_ACCEPT_WITHIN,
            "pool_touch": settings.LEADAPP_POOL_TOUCH_WITHIN,
        },
    )


def _owners_follow_handoffs(cursor, now: datetime) -> int:
    cursor.execute(
        """
        UPDATE leads_lead AS l
        SET owner_id = h.owner_id, updated_at = %(now)s
        FROM leads_handoff AS h
        WHERE h.lead_id = l.id AND h.status <> 'closed' AND l.owner_id IS DISTINCT FROM h.owner_id
        """,
        {"now": now},
    )
    return cursor.rowcount


def _stats(cursor, now: datetime) -> dict[str, int]:
    cursor.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE h.owner_id IS NULL),
               count(*) FILTER (WHERE l.stage = 'mql'),
               count(*) FILTER (WHERE l.stage = 'sal'),
               count(*) FILTER (WHERE h.hand_raise),
               count(*) FILTER (WHERE h.hand_raise AND s.temperature = 3),
               count(*) FILTER (WHERE h.due_at < %(now)s)
        FROM leads_handoff AS h
        JOIN leads_lead AS l ON l.id = h.lead_id
        LEFT JOIN scoring_leadscore AS s ON s.lead_id = h.lead_id
        WHERE h.status <> 'closed'
        """,
        {"now": now},
    )
    names = ("open", "pool", "mql", "sal", "hand_raise", "hot_hand_raise", "overdue")
    stats = dict(zip(names, cursor.fetchone(), strict=True))
    cursor.execute(
        """
        SELECT coalesce(min(n), 0), coalesce(max(n), 0)
        FROM (SELECT count(h.id) AS n FROM bench_sdr AS s
              LEFT JOIN leads_handoff AS h ON h.owner_id = s.user_id AND h.status <> 'closed'
              GROUP BY s.user_id) AS loads
        """
    )
    stats["per_sdr_min"], stats["per_sdr_max"] = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM leads_lead")
    stats["leads"] = cursor.fetchone()[0]
    return stats


# --- measure (gunicorn running) ------------------------------------------------------------------


def _sessions(port: int, usernames: Sequence[str]) -> list[dict[str, str]]:
    from bench.run import session_login

    return [{"Cookie": session_login(port, username, PASSWORD)} for username in usernames]


def measure(port: int, *, clients: int, duration: float, warmup: float) -> tuple[list, list[str]]:
    """The HTTP scenarios; returns the measurements and notes for the report."""
    from bench.run import HOST, Measurement, Request, drive, fetch, get

    sdrs = _sessions(port, [sdr_username(i % SDRS + 1) for i in range(clients)])
    status, page = fetch(port, QUEUE_PATH, sdrs[0])
    notes: list[str] = []
    rows: list[Measurement] = []
    print("  SDR queue: BASELINE GET /healthz", flush=True)
    baseline = get("/healthz", {})
    if warmup:
        drive("healthz", port, baseline, clients=clients, duration=warmup)
    rows.append(drive("BASELINE GET /healthz (SELECT 1)", port, baseline, clients=clients, duration=duration))
    if status != 200:
        rows.append(Measurement(f"GET {QUEUE_PATH} (page)", note=f"page not ready: HTTP {status}"))
        return rows, notes
    htmx = {
        "HX-Request": "true",
        "HX-Target": "queue-live",
        "HX-Trigger": "queue-live",
        "HX-Current-URL": f"http://{HOST}:{port}{QUEUE_PATH}",
    }
    poll_path = f"{QUEUE_PATH}?{POLL_QUERY}"
    _, partial = fetch(port, poll_path, {**sdrs[0], **htmx})
    managers = _sessions(port, [MANAGER] * clients)
    _, manager_page = fetch(port, QUEUE_PATH, managers[0])
    whole = " (a whole page, not the partial!)" if b"<html" in partial else ""
    shown = [body.count(b'data-testid="queue-row"') for body in (page, partial, manager_page)]
    notes.append(
        f"- response sizes (as {sdr_username(1)}): page {len(page) / 1024:.0f} KiB, htmx poll "
        f"{len(partial) / 1024:.0f} KiB{whole}; manager's page {len(manager_page) / 1024:.0f} KiB; "
        f"rows in each: {shown[0]}, {shown[1]}, {shown[2]}"
    )
    scenarios = [
        (f"GET {QUEUE_PATH} (page), {clients} SDRs", [Request("GET", QUEUE_PATH, h) for h in sdrs]),
        (
            f"GET {QUEUE_PATH}?{POLL_QUERY} (htmx poll of #queue-live), {clients} SDRs",
            [Request("GET", poll_path, {**h, **htmx}) for h in sdrs],
        ),
        (
            f"GET {QUEUE_PATH} (page), manager: every SDR's",
            [Request("GET", QUEUE_PATH, h) for h in managers],
        ),
    ]
    for name, requests in scenarios:
        print(f"  SDR queue: {name}", flush=True)

        def make(client: int, n: int, requests=requests) -> Request:
            return requests[client]

        if warmup:
            drive(name, port, make, clients=clients, duration=warmup)
        rows.append(drive(name, port, make, clients=clients, duration=duration))
    return rows, notes


# --- explain (in-process) ----------------------------------------------------------------------


@dataclass
class Explained:
    lines: list[str]  # the summary, for the report
    plans: list[str]  # EXPLAIN ANALYZE sections, for the results file


def explain(repeat: int = 20) -> Explained:
    """As bench-sdr-01: the queue's first page and count (EXPLAIN ANALYZE; the manager's first
    page too), and the page rendered in-process (its queries, the view's time, plans of its
    slowest statements)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from leads import handoff

    user = get_user_model().objects.get(username=sdr_username(1))
    queue = handoff.queue(user, scope="")
    size = _page_size()
    plans = [
        f"## EXPLAIN ANALYZE: the SDR queue as {user.username} (leads.handoff.queue(user))",
        "",
        f"### first page: queue(user)[:{size}]",
        "",
        "```",
        queue[:size].explain(analyze=True, buffers=True),
        "```",
        "",
    ]
    with CaptureQueriesContext(connection) as counted:
        total = queue.count()
    plans += ["### its count: queue(user).count()", "", "```", _explain_sql(counted[-1]["sql"]), "```", ""]
    manager = get_user_model().objects.get(username=MANAGER)
    plans += [
        f"### the manager ({MANAGER}, every SDR's): queue(manager)[:{size}]",
        "",
        "```",
        handoff.queue(manager, scope="")[:size].explain(analyze=True, buffers=True),
        "```",
        "",
    ]

    client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    client.force_login(user)
    lines = [f"- in-process, as {user.username} ({total:,} open handoffs to see: their own and the pool):"]
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "queue-live", "HTTP_HX_TRIGGER": "queue-live"}
    for label, path, headers in (
        ("page", QUEUE_PATH, {}),
        ("htmx poll", f"{QUEUE_PATH}?{POLL_QUERY}", htmx),
    ):
        client.get(path, **headers)  # warm: sessions, permissions, templates
        times = []
        with CaptureQueriesContext(connection) as captured:
            for _ in range(repeat):
                began = time.perf_counter()
                response = client.get(path, **headers)
                times.append(time.perf_counter() - began)
        if response.status_code != 200:
            lines.append(f"  - {label}: HTTP {response.status_code}")
            continue
        # Django times each query to the millisecond: the mean over the requests is finer.
        # Statements are told apart by their text without literals (timestamps change).
        by_text: dict[str, tuple[str, list[float]]] = {}
        for q in captured:
            key = re.sub(r"'[^']*'", "?", q["sql"])
            by_text.setdefault(key, (q["sql"], []))[1].append(float(q["time"]) * 1000)
        queries = [(sum(ms) / repeat, sql) for sql, ms in by_text.values()]
        sql_ms = sum(ms for ms, _ in queries)
        lines.append(
            f"  - {label}: {statistics.median(times) * 1000:.1f} ms a request (median of {repeat}, "
            f"one at a time), of which SQL {sql_ms:.1f} ms (mean) in {len(captured) / repeat:g} queries"
        )
        if label != "page":
            continue
        plans += [f"### the {len(queries)} queries of one GET {QUEUE_PATH} (in-process)", ""]
        plans += [f"- {ms:.1f} ms: `{_short(sql)}`" for ms, sql in queries]
        plans.append("")
        for ms, sql in sorted(queries, key=lambda q: q[0], reverse=True)[:3]:
            plans += [f"### slowest of the page ({ms:.1f} ms): `{_short(sql, 100)}`", ""]
            plans += ["```", _explain_sql(sql), "```", ""]
    return Explained(lines, plans)


def _page_size() -> int:
    """The rows the page shows (the view's PAGE_SIZE; 50, the issue's figure, without one)."""
    try:
        from leads.queue_views import PAGE_SIZE
    except ImportError:
        return 50
    return PAGE_SIZE


def _explain_sql(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _short(sql: str, width: int = 160) -> str:
    sql = " ".join(sql.split()).replace("`", "'")
    return sql if len(sql) <= width else sql[: width - 1] + "…"


# --- report ---------------------------------------------------------------------------------------


def report(
    prepared: Prepared, rows: Sequence, notes: Sequence[str], explained: Explained, cores: int
) -> list[str]:
    from bench.run import http_table

    s = prepared.stats
    what = (
        f"{prepared.inserted:,} handoffs inserted"
        + (f", {prepared.promoted:,} new leads moved to MQL" if prepared.promoted else "")
        if prepared.inserted
        else "reused, deadlines re-timed"
    )
    migrated = ", ".join(m.split()[1].rstrip(".") for m in prepared.migrations)
    lines = [
        "",
        f"## SDR queue (bench/queue.py): GET {QUEUE_PATH}, the first page; target p95 under "
        f"{TARGET_P95_MS} ms",
        "",
        f"- {s['leads']:,} leads; {s['open']:,} open handoffs ({s['mql']:,} MQL, {s['sal']:,} SAL): "
        f"{s['pool']:,} in the pool, the rest with {SDRS} SDRs ({s['per_sdr_min']}–{s['per_sdr_max']} "
        f"each) in {TEAMS} teams; {s['hand_raise']:,} hand-raises ({s['hot_hand_raise']:,} hot); "
        f"{s['overdue']:,} past their deadline",
        f"- prepared in {prepared.seconds:.1f}s ({what}; {prepared.leads_moved:,} lead owners changed"
        + (f"; migrations applied: {migrated}" if migrated else "")
        + ")",
        f"- each client is a different SDR ({sdr_username(1)}…), logged in through the login form; "
        f"the manager ({MANAGER}) sees every SDR's",
        "",
        *http_table(rows, cores),
        "",
        *notes,
        *explained.lines,
    ]
    for m in rows:
        if m.name.endswith(" SDRs") and m.count:
            p95 = m.percentile_ms(95)
            verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
            lines.append(f"- target p95 < {TARGET_P95_MS} ms, {m.name}: {p95:.0f} ms, {verdict}")
    return lines


def run_alone(args, env: dict[str, str], header: list[str], prepared: Prepared, cores: int) -> None:
    """``--queue-only``: gunicorn, the scenarios, the plans; into bench/results/latest-queue.md."""
    from bench.run import measured_with_gunicorn, write_results

    rows, notes = measured_with_gunicorn(
        args,
        env,
        lambda port: measure(port, clients=args.clients, duration=args.duration, warmup=args.warmup),
    )
    print("  SDR queue: EXPLAIN ANALYZE", flush=True)
    explained = explain()
    write_results(
        "latest-queue.md", header + report(prepared, rows, notes, explained, cores), explained.plans
    )
