"""Benchmark the lead list (page and API) and batch event ingest at scale.

Run from the project root, with PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)::

    python -m bench.run                           # 1,000,000 leads; (re)builds leadapp_bench
    python -m bench.run --reuse                   # keep leadapp_bench if it has that many leads
    python -m bench.run --leads 100000 --duration 5 --reuse

What it does:

1. Prepares the dedicated database ``leadapp_bench`` (``migrate`` + ``seed_demo``), unless
   ``--reuse`` finds it with exactly ``--leads`` leads.
2. Starts gunicorn (``leadapp.wsgi``, 4 sync workers, ``DEBUG=0``) on a free loopback port.
3. Drives ``--clients`` concurrent keep-alive-less HTTP clients (stdlib threads) for
   ``--duration`` seconds per scenario, after a short warm-up: ``/healthz`` (SELECT 1: the
   framework floor), ``GET /api/leads/`` plain, filtered and searched (token auth) and the
   same on the ``/leads/`` page (session auth) if the page answers 200.
4. Posts batches of 1,000 events to ``/api/events/batch/`` from ``--ingest-clients``
   clients while a real Celery worker (``--broker``, Redis) follows them up, and waits until
   it has (bench/ingest.py); next to in-process baselines over the same events:
   ``services.ingest_events`` (the service without HTTP and DRF), its follow-up, a plain
   ``Activity.objects.bulk_create`` and a plain COPY.
5. Imports a generated CSV of ``--import-rows`` leads (100,000) in-process through the import
   service (``leads.imports``: parse, validate, COPY in chunks), then the same file again (every
   row an update of the lead the first pass created); rows per second of each pass.
6. Scoring (bench/scoring.py): the full rescore beside a hand-written SQL floor, the added
   latency of real-time scoring on ingest, and the preview of a draft over every lead.
7. Prints the tables and writes them, with EXPLAIN ANALYZE of the list queries, to
   ``bench/results/latest.md`` (git-ignored). The events and leads it stored are deleted again.

``--list-only`` runs the lead list scenarios alone, into ``bench/results/latest-list.md``.
``--ingest-only`` runs the event ingest alone (gunicorn and a worker), into
``bench/results/latest-ingest.md``.
``--scoring-only`` runs the scoring part alone (in-process, no gunicorn).
``--queue-only`` runs the SDR queue scenario alone (bench/queue.py: prepares its SDRs and 20,000
open handoffs, then measures ``GET /leads/queue/`` under 10 SDRs): ``--queue-only --reuse``.
``--import-only`` runs the import alone (no gunicorn), e.g. against a scratch database while
another run uses ``leadapp_bench``: ``--import-only --db leadapp_import_bench --leads 100000``.

The load client shares the machine's cores with gunicorn and PostgreSQL: the "client CPU"
column says how much of the box it used. These are measurements, not tests: nothing here
fails on a slow number.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
HOST = "127.0.0.1"
T = TypeVar("T")
INGEST_KINDS = ("page_view", "email_open", "email_click", "download", "form_submitted", "webinar_attended")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass
class Measurement:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    client_cpu: float = 0.0
    box_busy: float | None = None
    items: int = 0
    note: str = ""

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    @property
    def per_second(self) -> float:
        return self.count / self.wall if self.wall else 0.0


# --- HTTP load ---------------------------------------------------------------------------------


def drive(
    name: str,
    port: int,
    make: Callable[[int, int], Request],
    *,
    clients: int,
    duration: float | None = None,
    per_client: int | None = None,
    inspect: Callable[[int, bytes], int] | None = None,
) -> Measurement:
    """Run ``clients`` threads, each sending ``make(client, n)`` until the duration is over
    or it has sent ``per_client`` requests; ``inspect`` counts items in a response."""
    result = Measurement(name)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=300)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        items = 0
        start.wait()
        sent = 0
        while (per_client is None or sent < per_client) and (
            duration is None or time.perf_counter() < deadline[0]
        ):
            request = make(index, sent)
            began = time.perf_counter()
            try:
                conn.request(request.method, request.path, body=request.body, headers=request.headers)
                response = conn.getresponse()
                body = response.read()
                status = str(response.status)
                if inspect is not None:
                    items += inspect(response.status, body)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()  # the next request() reconnects
            latencies.append(time.perf_counter() - began)
            statuses[status] += 1
            sent += 1
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.statuses.update(statuses)
            result.items += items

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before, box_before = time.process_time(), _box_cpu()
    began = time.perf_counter()
    deadline[0] = began + (duration or 0.0)
    start.wait()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - began
    result.client_cpu = time.process_time() - cpu_before
    box_after = _box_cpu()
    if box_before and box_after and box_after[1] > box_before[1]:
        result.box_busy = 1 - (box_after[0] - box_before[0]) / (box_after[1] - box_before[1])
    return result


def _box_cpu() -> tuple[int, int] | None:
    """(idle, total) jiffies of all cores, from /proc/stat (Linux only)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return values[3] + values[4], sum(values)


def get(path: str, headers: dict[str, str]) -> Callable[[int, int], Request]:
    request = Request("GET", path, headers)
    return lambda client, n: request


def fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def session_login(port: int, username: str, password: str) -> str:
    """Log in through the login form; return the Cookie header of the session."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        cookies: SimpleCookie = SimpleCookie()
        conn.request("GET", "/login/")
        response = conn.getresponse()
        response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        csrf = cookies["csrftoken"].value
        form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"}
        conn.request("POST", "/login/", body=form, headers=headers)
        response = conn.getresponse()
        response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
    finally:
        conn.close()
    if "sessionid" not in cookies:
        raise RuntimeError(f"login as {username} failed (HTTP {response.status})")
    return f"csrftoken={csrf}; sessionid={cookies['sessionid'].value}"


# --- database and server -------------------------------------------------------------------------


def prepare_database(pg_url: str, name: str, leads: int, reuse: bool) -> float | None:
    """Make sure database ``name`` holds ``leads`` demo leads; return the seed time in
    seconds, or None when an existing database was reused."""
    import psycopg
    from django.core.management import call_command
    from psycopg import sql

    if reuse and _lead_count(f"{pg_url}/{name}") == leads:
        vacuum(f"{pg_url}/{name}")
        return None
    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    call_command("seed_demo", leads=leads, verbosity=1)
    return time.perf_counter() - began


def vacuum(url: str) -> None:
    """VACUUM ANALYZE the lead tables: a run leaves dead rows behind (it deletes what it
    stored), and where autovacuum is off (as on the CI machines) the next run would measure
    them. Autovacuum does this on its own in production."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in (
            "leads_lead",
            "leads_activity",
            "leads_stagechange",
            "scoring_leadscore",
            "scoring_scorechange",
        ):
            conn.execute(f"VACUUM (ANALYZE) {table}")


def _lead_count(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM leads_lead").fetchone()[0]
    except psycopg.Error:
        return -1


def bench_users() -> tuple[str, str, str, int]:
    """A Manager (reads leads; session and token) and a Marketing user (posts events).
    Returns (manager password, manager token, ingest token, ingest user id)."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from leadapp.roles import MANAGER, MARKETING

    password = secrets.token_urlsafe(16)
    manager, _ = User.objects.get_or_create(username="bench-manager")
    manager.set_password(password)
    manager.save()
    manager.groups.set([Group.objects.get(name=MANAGER)])
    ingest, _ = User.objects.get_or_create(username="bench-ingest")
    ingest.set_unusable_password()
    ingest.save()
    ingest.groups.set([Group.objects.get(name=MARKETING)])
    manager_token, _ = Token.objects.get_or_create(user=manager)
    ingest_token, _ = Token.objects.get_or_create(user=ingest)
    return password, manager_token.key, ingest_token.key, ingest.pk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "leadapp.wsgi",
        "-w",
        str(workers),
        "-b",
        f"{HOST}:{port}",
        "--timeout",
        "300",  # a slow query is measured, not killed
    ]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            if fetch(port, "/healthz", {})[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop(server)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60s; see {log}")


def measured_with_gunicorn(args, env: dict[str, str], measure: Callable[[int], T]) -> T:
    """Start gunicorn (``--workers``) on a free port, run ``measure(port)``, stop it again:
    the frame of the scenarios that run alone (``--queue-only``, ``--reports-only``)."""
    port = free_port()
    print(f"Starting gunicorn ({args.workers} workers) on {HOST}:{port}…", flush=True)
    server = start_gunicorn(port, args.workers, env, RESULTS_DIR / "gunicorn.log")
    try:
        return measure(port)
    finally:
        stop(server)


def write_results(name: str, lines: list[str], extra: Sequence[str] = ()) -> None:
    """Print ``lines`` and write them (and ``extra``, e.g. query plans) to bench/results/<name>."""
    print("\n".join(lines))
    out = RESULTS_DIR / name
    out.write_text("\n".join([*lines, *(["", *extra] if extra else [])]) + "\n")
    print(f"\nWritten to {out} (gunicorn log, where one ran: {RESULTS_DIR / 'gunicorn.log'}).")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def measure_list(
    args: argparse.Namespace,
    port: int,
    password: str,
    manager_token: str,
    searches: Sequence[str],
    common_terms: Sequence[str] = (),
) -> list[Measurement]:
    """The lead list scenarios: ``/healthz``, then the API and the page, plain, filtered,
    sorted and searched, each by ``--clients`` clients for ``--duration`` seconds. The same
    term again and again is what paging through a search sends (a common term's verdict is
    then cached); ``common_terms`` (last names with more matches than the search looks up),
    a different one each request, measure a common term's first search."""
    http_rows: list[Measurement] = []
    token = {"Authorization": f"Token {manager_token}", "Accept": "application/json"}
    scenarios: list[tuple[str, str, dict[str, str]]] = [
        ("BASELINE GET /healthz (SELECT 1)", "/healthz", {}),
        ("GET /api/leads/", "/api/leads/", token),
        (f"GET /api/leads/?{args.filter}", f"/api/leads/?{args.filter}", token),
        *[(f"GET /api/leads/?q={q}", f"/api/leads/?{urlencode({'q': q})}", token) for q in searches],
    ]
    cookie = session_login(port, "bench-manager", password)
    page = {"Cookie": cookie}
    status, _ = fetch(port, "/leads/", page)
    page_paths = [
        ("GET /leads/ (page)", "/leads/"),
        (f"GET /leads/?{args.filter} (page)", f"/leads/?{args.filter}"),
        ("GET /leads/?sort=recent_activity (page)", "/leads/?sort=recent_activity"),
        *[(f"GET /leads/?q={q} (page)", f"/leads/?{urlencode({'q': q})}") for q in searches],
    ]
    if status == 200:
        scenarios += [(name, path, page) for name, path in page_paths]
        # A filtered page of more than 50 leads loads its count afterwards, in a request of
        # its own (htmx): measured too, since a browser showing that page sends both.
        count = {**page, "HX-Request": "true", "HX-Target": "lead-count"}
        name = f"GET /leads/?{args.filter} (its count, htmx)"
        scenarios.append((name, f"/leads/?{args.filter}", count))
    makes = [(name, get(path, headers)) for name, path, headers in scenarios]
    if status == 200 and common_terms:

        def each_new(client: int, n: int) -> Request:
            term = common_terms[(client * 997 + n) % len(common_terms)]
            return Request("GET", f"/leads/?{urlencode({'q': term})}", page)

        makes.append((f"GET /leads/?q=<one of {len(common_terms)} common last names> (page)", each_new))
    for name, make in makes:
        print(f"  {name}", flush=True)
        if args.warmup:
            drive(name, port, make, clients=args.clients, duration=args.warmup)
        http_rows.append(drive(name, port, make, clients=args.clients, duration=args.duration))
    if status != 200:
        http_rows.append(Measurement("GET /leads/ (page)", note=f"page not ready: HTTP {status}"))
    return http_rows


# --- event ingest ----------------------------------------------------------------------------------


def ingest_batches(
    sample: Sequence[tuple[int, str]], count: int, size: int, run: str, leads_per_batch: int | None = None
) -> list[list[dict]]:
    """``count`` batches of ``size`` events for existing leads: every other one addressed by
    e-mail, half of them with an external id (the de-duplication path). Each event is for a
    lead drawn from the whole sample (the worst case: a lead row to update per event), or,
    with ``leads_per_batch``, from that many leads per batch (a tracking or e-mail tool's
    sync, where the same people generate several events)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    batches = []
    for b in range(count):
        events = []
        pool = rng.sample(list(sample), leads_per_batch) if leads_per_batch else sample
        for i in range(size):
            lead_id, email = rng.choice(pool)
            event: dict = {
                "kind": rng.choice(INGEST_KINDS),
                "occurred_at": (now - timedelta(seconds=rng.randint(60, 7 * 86_400))).isoformat(),
                "properties": {"url": rng.choice(("/pricing", "/features", "/blog/lead-scoring-101"))},
            }
            if i % 2:
                event["email"] = email
            else:
                event["lead"] = lead_id
            if rng.random() < 0.5:
                event["external_id"] = f"bench-{run}-{b}-{i}"
            events.append(event)
        batches.append(events)
    return batches


def ingest_http(port: int, token: str, batches: list[list[dict]], clients: int) -> Measurement:
    bodies = [json.dumps({"events": batch}).encode() for batch in batches]
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    per_client = len(bodies) // clients

    def make(client: int, n: int) -> Request:
        return Request("POST", "/api/events/batch/", headers, bodies[client * per_client + n])

    def created(status: int, body: bytes) -> int:
        return json.loads(body).get("created", 0) if status in (201, 207) else 0

    return drive(
        f"POST /api/events/batch/ ({clients} client{'s' if clients > 1 else ''})",
        port,
        make,
        clients=clients,
        per_client=per_client,
        inspect=created,
    )


def ingest_in_process(
    batches: list[list[dict]], sample: Sequence[tuple[int, str]], by_id: int
) -> list[Measurement]:
    """The same events without HTTP, one batch per transaction, in this process (1 thread):
    through the service, as ``bulk_create`` and as a plain COPY."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.utils.dateparse import parse_datetime

    from leads import services
    from leads.models import Activity, ActivitySource

    lead_by_email = {email: lead_id for lead_id, email in sample}
    user = User.objects.get(pk=by_id)

    def through_service(batch: list[dict]) -> int:
        events = [
            services.EventIn(
                kind=e["kind"],
                occurred_at=parse_datetime(e["occurred_at"]),
                lead_id=e.get("lead"),
                email=e.get("email", ""),
                properties=e["properties"],
                external_id=f"{e['external_id']}-svc" if e.get("external_id") else "",
            )
            for e in batch
        ]
        ingested = services.ingest_events(events, source=ActivitySource.API, by=user)
        return sum(r.status == "created" for r in ingested.results)

    def rows(batch: list[dict], suffix: str) -> list[tuple]:
        return [
            (
                e.get("lead") or lead_by_email[e["email"]],
                e["kind"],
                parse_datetime(e["occurred_at"]),
                e["properties"],
                ActivitySource.API.value,
                f"{e['external_id']}-{suffix}" if e.get("external_id") else "",
                by_id,
            )
            for e in batch
        ]

    def bulk_create(batch: list[dict]) -> int:
        objects = [
            Activity(
                lead_id=lead,
                kind=kind,
                occurred_at=at,
                properties=props,
                source=source,
                external_id=external,
                created_by_id=by,
            )
            for lead, kind, at, props, source, external, by in rows(batch, "orm")
        ]
        return len(Activity.objects.bulk_create(objects, batch_size=1000))

    def copy(batch: list[dict]) -> int:
        columns = "lead_id, kind, occurred_at, properties, source, external_id, created_by_id, received_at"
        now = datetime.now(UTC)
        with connection.cursor() as cursor, cursor.copy(f"COPY leads_activity ({columns}) FROM STDIN") as out:
            for lead, kind, at, props, source, external, by in rows(batch, "copy"):
                out.write_row((lead, kind, at, json.dumps(props), source, external, by, now))
        return len(batch)

    paths: list[tuple[str, Callable[[list[dict]], int]]] = [
        ("services.ingest_events, in-process", through_service),
        ("Activity.objects.bulk_create, in-process", bulk_create),
        ("COPY into leads_activity, in-process", copy),
    ]
    results = []
    for name, store in paths:
        result = Measurement(f"{name} (1 thread)")
        began, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            t = time.perf_counter()
            with transaction.atomic():
                result.items += store(batch)
            result.latencies.append(time.perf_counter() - t)
            result.statuses["201"] += 1
        result.wall, result.client_cpu = time.perf_counter() - began, time.process_time() - cpu
        results.append(result)
    return results


# --- CSV import --------------------------------------------------------------------------------------

IMPORT_DOMAIN = "bench-import.example"


def import_csv(rows: int) -> bytes:
    """A file as a marketer exports it from a CRM: ten columns, two of them custom, one row in
    a hundred with a bad e-mail and one in a thousand repeating an earlier e-mail."""
    import csv
    import io

    rng = random.Random(11)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["Email", "First Name", "Last Name", "Company", "Job Title", "Industry", "Country", "Phone"]
    writer.writerow([*header, "Plan", "Notes"])
    industries = ["Software", "Finance", "Healthcare", "Retail", "Education", "Manufacturing"]
    countries = ["DE", "France", "United States", "GB", "India", "Spain", "NL"]
    for i in range(rows):
        email = f"row{i}@{IMPORT_DOMAIN}"
        if i % 100 == 99:
            email = f"row{i}-at-{IMPORT_DOMAIN}"
        elif i % 1000 == 500:
            email = f"row{i - 2}@{IMPORT_DOMAIN}"
        writer.writerow(
            [
                email,
                rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald"]),
                f"Surname{i}",
                f"Company {rng.randrange(20_000)}",
                rng.choice(["CTO", "Head of Marketing", "Engineer", "Buyer"]),
                rng.choice(industries),
                rng.choice(countries),
                f"+49 30 {rng.randrange(10**7):07d}",
                rng.choice(["free", "pro", "enterprise"]),
                "" if i % 3 else "met at the fair",
            ]
        )
    return buffer.getvalue().encode()


@dataclass
class ImportRun:
    name: str
    created: int
    updated: int
    errors: int
    upload: float  # seconds to store the file: decode, sniff, count the rows, suggest a mapping
    wall: float  # upload and run

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.errors


def bench_import(rows: int, by_id: int) -> list[ImportRun]:
    """Two passes over one generated file, in this process (1 thread): all new, then all known."""
    from django.db import connection

    from leads import imports
    from leads.models import LeadImport

    content = import_csv(rows)
    results = []
    try:
        for name in ("new leads", "the same file again: updates"):
            began = time.perf_counter()
            lead_import = imports.create_import(content=content, filename="bench.csv", by=None)
            uploaded = time.perf_counter()
            # Queued by hand: imports.start_import would also send the task to the broker.
            LeadImport.objects.filter(pk=lead_import.pk).update(
                status=LeadImport.Status.QUEUED, source="event", created_by_id=by_id
            )
            imports.run_import(lead_import.pk)
            wall = time.perf_counter() - began
            done = LeadImport.objects.defer("content").get(pk=lead_import.pk)
            if done.status != LeadImport.Status.DONE:
                raise RuntimeError(f"the bench import ended {done.status}: {done.failure}")
            results.append(
                ImportRun(
                    f"CSV import, {name} (1 thread)",
                    done.created_count,
                    done.updated_count,
                    done.error_count,
                    uploaded - began,
                    wall,
                )
            )
    finally:
        with connection.cursor() as cursor:
            # The tables that point at the imported leads first (the database does not cascade).
            for table in ("leads_stagechange", "leads_activity", "scoring_scorechange", "scoring_leadscore"):
                cursor.execute(
                    f"DELETE FROM {table} WHERE lead_id IN "  # noqa: S608
                    "(SELECT id FROM leads_lead WHERE email LIKE %s)",
                    [f"%@{IMPORT_DOMAIN}"],
                )
            cursor.execute("DELETE FROM leads_lead WHERE email LIKE %s", [f"%@{IMPORT_DOMAIN}"])
        LeadImport.objects.filter(filename="bench.csv").delete()
    return results


def import_table(rows: Sequence[ImportRun]) -> list[str]:
    lines = [
        "| import pass | rows | created | updated | bad rows | upload s | total s | rows/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in rows:
        lines.append(
            f"| {run.name} | {run.rows:,} | {run.created:,} | {run.updated:,} | {run.errors:,} "
            f"| {run.upload:.1f} | {run.wall:.1f} | {run.rows / run.wall:,.0f} |"
        )
    return lines


# --- EXPLAIN -----------------------------------------------------------------------------------------


def explain_list_query(query: str) -> str:
    """EXPLAIN ANALYZE of the first page of ``GET /api/leads/?<query>`` as the API builds it."""
    from django.http import QueryDict

    from leads.api import NewestFirst
    from leads.filters import LeadFilter
    from leads.models import Lead

    filterset = LeadFilter(QueryDict(query), queryset=Lead.objects.select_related("owner"))
    page = filterset.qs.order_by(*NewestFirst.ordering)[: NewestFirst.page_size + 1]
    return page.explain(analyze=True, buffers=True)


# --- report -----------------------------------------------------------------------------------------


def list_plans(args: argparse.Namespace, searches: Sequence[str]) -> list[str]:
    """EXPLAIN ANALYZE of the first page of ``GET /api/leads/``, plain, filtered and searched."""
    lines = ["", "## EXPLAIN ANALYZE: first page of GET /api/leads/", ""]
    for query in ["", args.filter, *[urlencode({"q": q}) for q in searches]]:
        plan = explain_list_query(query)
        lines += [f"### ?{query}" if query else "### (no filter)", "", "```", plan, "```", ""]
    return lines


def http_table(rows: Sequence[Measurement], cores: int) -> list[str]:
    lines = [
        "| scenario | requests | errors | p50 ms | p95 ms | p99 ms | req/s | client CPU | box CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in rows:
        if m.note:
            lines.append(f"| {m.name} | – | – | – | – | – | – | – | {m.note} |")
            continue
        lines.append(
            f"| {m.name} | {m.count} | {_errors(m)} | {m.percentile_ms(50):.1f} | {m.percentile_ms(95):.1f} "
            f"| {m.percentile_ms(99):.1f} | {m.per_second:.1f} | {_share(m.client_cpu / m.wall / cores)} "
            f"| {_share(m.box_busy)} |"
        )
    return lines


def _errors(m: Measurement) -> str:
    if not m.errors:
        return "0"
    detail = ", ".join(f"{status}×{n}" for status, n in m.statuses.items() if not status.startswith("2"))
    return f"{m.errors} ({detail})"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


# --- main -------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads in the bench database")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the bench database if it has --leads leads"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per HTTP scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up before each scenario")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients for the list scenarios")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--ingest-clients", type=int, default=4, help="concurrent clients posting batches")
    parser.add_argument("--ingest-batches", type=int, default=10, help="batches each ingest client posts")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per batch")
    parser.add_argument(
        "--leads-per-batch", type=int, default=100, help="distinct leads per batch in the clustered run"
    )
    parser.add_argument("--filter", default="stage=mql&country=DE", help="query of the filtered variant")
    parser.add_argument(
        "--search", action="append", help="search term(s) for the search variant (default: garcia, ontra)"
    )
    parser.add_argument(
        "--import-rows", type=int, default=100_000, help="rows of the generated CSV import (0: no import)"
    )
    parser.add_argument(
        "--import-only", action="store_true", help="only the CSV import: no gunicorn, no list, no ingest"
    )
    parser.add_argument(
        "--scoring-only",
        action="store_true",
        help="only the scoring benchmark (bench/scoring.py): no gunicorn",
    )
    parser.add_argument(
        "--reports-only",
        action="store_true",
        help="only the KPI dashboard (bench/reports.py): funnel rows rebuilt, GET /leads/reports/",
    )
    parser.add_argument(
        "--predictive-only",
        action="store_true",
        help="only the predictive model (bench/predictive.py): train, score all, one lead; "
        "rewrites every lead's stage, so use a database of its own (--db leadapp_bench_predictive)",
    )
    parser.add_argument("--report-clients", type=int, default=2, help="concurrent managers on the dashboard")
    parser.add_argument(
        "--queue-only",
        action="store_true",
        help="only the SDR queue scenario (bench/queue.py): its data, GET /leads/queue/, EXPLAIN",
    )
    parser.add_argument(
        "--list-only", action="store_true", help="only the lead list scenarios (page and API) and their plans"
    )
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="only batch event ingest (bench/ingest.py): gunicorn and a Celery worker that follows up",
    )
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/13", help="Celery broker of the ingest worker (Redis)"
    )
    parser.add_argument(
        "--ingest-worker-concurrency", type=int, default=2, help="processes of the ingest's Celery worker"
    )
    parser.add_argument("--db", default="leadapp_bench", help="bench database name (dropped and recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    searches = args.search or ["garcia", "ontra"]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadapp.settings.base",
        "DEBUG": "0",
        "DATABASE_URL": f"{args.pg}/{args.db}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Throttling stays on (its cost is part of a request) but must not answer 429 here.
        "API_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": args.broker,
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from leads.filters import SEARCH_ID_LIMIT
    from leads.models import Activity, Lead

    print(f"Preparing {args.db} with {args.leads:,} leads…", flush=True)
    seed_seconds = prepare_database(args.pg, args.db, args.leads, args.reuse)
    password, manager_token, ingest_token, ingest_user = bench_users()
    # --- SDR queue (bench/queue.py): its SDRs, teams and open handoffs, before gunicorn starts ---
    from bench import queue

    queue_data = None
    if not any(
        (
            args.scoring_only,
            args.import_only,
            args.reports_only,
            args.predictive_only,
            args.list_only,
            args.ingest_only,
        )
    ):
        print("  SDR queue: preparing SDRs, teams and open handoffs", flush=True)
        queue_data = queue.prepare()
    # --- end SDR queue ---
    lead_count, activity_count = Lead.objects.count(), Activity.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, email FROM leads_lead TABLESAMPLE SYSTEM (2) LIMIT 20000")
        sample = cursor.fetchall()
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        # Last names that more leads have than the search looks up (see measure_list).
        cursor.execute(
            "SELECT last_name FROM leads_lead WHERE last_name <> '' GROUP BY last_name "
            "HAVING count(*) > %s ORDER BY last_name",
            [SEARCH_ID_LIMIT],
        )
        common_terms = [row[0].lower() for row in cursor.fetchall()]
    connection.close()  # gunicorn's workers and the bench must not share it

    cores = os.cpu_count() or 1
    # --- KPI dashboard (bench/reports.py) alone: into bench/results/latest-reports.md ---
    if args.reports_only:
        from bench import reports as reports_bench

        print("  Reports: costs, opportunities, funnel rows", flush=True)
        prepared_reports = reports_bench.prepare()
        connection.close()
        header = render(args, seed_seconds, lead_count, activity_count, pg_version, cores, [], [])[:5]
        reports_bench.run_alone(args, env, header, prepared_reports, cores)
        return
    # --- predictive model (bench/predictive.py) alone: into bench/results/latest-predictive.md ---
    if args.predictive_only:
        from bench import predictive as predictive_bench

        header = render(args, seed_seconds, lead_count, activity_count, pg_version, cores, [], [])[:5]
        predictive_bench.run_alone(header)
        return
    # --- SDR queue (bench/queue.py) alone: into bench/results/latest-queue.md ---
    if args.queue_only:
        header = render(args, seed_seconds, lead_count, activity_count, pg_version, cores, [], [])[:5]
        queue.run_alone(args, env, header, queue_data, cores)
        return
    # --- end SDR queue ---
    from bench import ingest

    if args.list_only:
        http_rows = measured_with_gunicorn(
            args, env, lambda port: measure_list(args, port, password, manager_token, searches, common_terms)
        )
        plans = list_plans(args, searches)
        report = render(args, seed_seconds, lead_count, activity_count, pg_version, cores, http_rows, [])
        write_results("latest-list.md", report, plans)
        return
    if args.ingest_only:
        header = render(args, seed_seconds, lead_count, activity_count, pg_version, cores, [], [])[:5]
        ingest.run_alone(args, env, header, sample, ingest_token, ingest_user)
        return
    if args.scoring_only:
        from bench import scoring

        report = render(args, seed_seconds, lead_count, activity_count, pg_version, cores, [], [])
        report = report[:4] + scoring.run(sample)
        print("\n".join(report))
        (RESULTS_DIR / "latest-scoring.md").write_text("\n".join(report) + "\n")
        print(f"\nWritten to {RESULTS_DIR / 'latest-scoring.md'}.")
        return
    if args.import_only:  # with --import-rows 0: just prepares the database
        import_rows = []
        if args.import_rows:
            print(f"  CSV import of {args.import_rows:,} rows, twice", flush=True)
            import_rows = bench_import(args.import_rows, ingest_user)
        report = render(
            args, seed_seconds, lead_count, activity_count, pg_version, cores, [], [], import_rows
        )
        print("\n".join(report))
        (RESULTS_DIR / "latest-import.md").write_text("\n".join(report) + "\n")
        print(f"\nWritten to {RESULTS_DIR / 'latest-import.md'}.")
        return
    port = free_port()
    log = RESULTS_DIR / "gunicorn.log"
    print(f"Starting gunicorn ({args.workers} workers) on {HOST}:{port}…", flush=True)
    server = start_gunicorn(port, args.workers, env, log)
    http_rows: list[Measurement] = []
    try:
        http_rows = measure_list(args, port, password, manager_token, searches, common_terms)
        # --- SDR queue (bench/queue.py) ---
        queue_rows, queue_notes = queue.measure(
            port, clients=args.clients, duration=args.duration, warmup=args.warmup
        )
        # --- end SDR queue ---

        run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        ingest_runs = ingest.measure(args, env, port, ingest_token, sample, run)
    finally:
        stop(server)
    print("  in-process baselines", flush=True)
    batches = ingest_batches(sample, args.ingest_clients * args.ingest_batches, args.batch_size, f"{run}-svc")
    in_process = ingest_in_process(batches, sample, ingest_user)
    ingest_lines = ingest.table(ingest_runs, in_process, ingest.follow_up_in_process(in_process[0].items))
    Activity.objects.filter(created_by_id=ingest_user).delete()
    from bench import scoring

    scoring_lines = scoring.run(sample)
    import_rows: list[ImportRun] = []
    if args.import_rows:
        print(f"  CSV import of {args.import_rows:,} rows, twice", flush=True)
        import_rows = bench_import(args.import_rows, ingest_user)
    vacuum(f"{args.pg}/{args.db}")

    plans = list_plans(args, searches)
    report = render(
        args,
        seed_seconds,
        lead_count,
        activity_count,
        pg_version,
        cores,
        http_rows,
        ingest_lines,
        import_rows,
    )
    report += scoring_lines
    # --- SDR queue (bench/queue.py) ---
    queue_explained = queue.explain()
    report += queue.report(queue_data, queue_rows, queue_notes, queue_explained, cores)
    # --- end SDR queue ---
    print("\n".join(report))
    plan_lines = plans + queue_explained.plans  # SDR queue (bench/queue.py)
    (RESULTS_DIR / "latest.md").write_text("\n".join(report + plan_lines) + "\n")
    print(f"\nWritten to {RESULTS_DIR / 'latest.md'} (gunicorn log: {log}).")


def render(
    args: argparse.Namespace,
    seed_seconds: float | None,
    lead_count: int,
    activity_count: int,
    pg_version: str,
    cores: int,
    http_rows: Sequence[Measurement],
    ingest_lines: Sequence[str],
    import_rows: Sequence[ImportRun] = (),
) -> list[str]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    seeded = f"seeded in {seed_seconds:.0f}s" if seed_seconds is not None else "reused"
    imported = [
        "",
        "## CSV import (in-process through leads.imports: upload, then the run; chunks of "
        f"{_import_chunk_size():,} rows)",
        "",
        *import_table(import_rows),
    ]
    if args.import_only:
        return [
            f"# LeadApp benchmark (CSV import only), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"- commit {commit or '?'}, Python {platform.python_version()}, PostgreSQL {pg_version}, "
            f"{cores} cores",
            f"- database {args.db}: {lead_count:,} leads before the import ({seeded})",
            *imported,
        ]
    return [
        f"# LeadApp benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- commit {commit or '?'}, Python {platform.python_version()}, PostgreSQL {pg_version}, "
        f"{cores} cores",
        f"- database {args.db}: {lead_count:,} leads, {activity_count:,} activities ({seeded})",
        f"- gunicorn {args.workers} sync workers, DEBUG=0; {args.clients} clients × {args.duration:g}s "
        f"per scenario after {args.warmup:g}s warm-up; a new connection per request",
        *(["", "## Lead list", "", *http_table(http_rows, cores)] if http_rows else []),
        *(
            [
                "",
                f"## Event ingest ({args.batch_size} events per batch, "
                "half by e-mail, half with external id)",
                "",
                *ingest_lines,
            ]
            if ingest_lines
            else []
        ),
        *(imported if import_rows else []),
    ]


def _import_chunk_size() -> int:
    from leads.imports import CHUNK_SIZE

    return CHUNK_SIZE


if __name__ == "__main__":
    main()
