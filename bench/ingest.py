"""Batch event ingest, end to end: ``POST /api/events/batch/`` to gunicorn while a real Celery
worker (on Redis) follows up the batches (last activity times, scores, campaigns).

Two rates per scenario, both from the same run:

- **stored**: events in the database, per second of posting (what the sender waits for);
- **followed up**: events per second from the first POST until the follow-up queue
  (``PendingFollowUp``) is empty again, i.e. until every lead's score reflects the events.

Next to them, in-process and in the same run: the service alone (one thread, no HTTP), its
follow-up alone, ``bulk_create`` and a plain COPY (the floor).

``python -m bench.run --ingest-only --reuse`` runs just this, into
``bench/results/latest-ingest.md``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.run import (
    RESULTS_DIR,
    ROOT,
    Measurement,
    ingest_batches,
    ingest_http,
    ingest_in_process,
    measured_with_gunicorn,
    write_results,
)

QUEUE_DEADLINE = 600.0  # seconds the worker gets to empty the follow-up queue


@dataclass
class IngestRun:
    posted: Measurement
    followed_up_after: float | None  # seconds from the first POST until the queue was empty

    @property
    def followed_up_rate(self) -> float | None:
        return self.posted.items / self.followed_up_after if self.followed_up_after else None


def pending() -> int:
    from django.db import connection

    from leads.models import PendingFollowUp

    count = PendingFollowUp.objects.count()
    connection.close()
    return count


def wait_for_follow_up(began: float) -> float | None:
    """Seconds from ``began`` until no follow-up is pending (None: not within the deadline)."""
    while pending():
        if time.perf_counter() - began > QUEUE_DEADLINE:
            return None
        time.sleep(0.1)
    return time.perf_counter() - began


def start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    log = (RESULTS_DIR / "celery-worker.log").open("w")
    command = [sys.executable, "-m", "celery", "-A", "leadapp", "worker", "--loglevel", "WARNING"]
    command += ["--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def measure(args, env: dict[str, str], port: int, token: str, sample, run: str) -> list[IngestRun]:
    """The HTTP scenarios, each followed until the worker has emptied the queue."""
    from leadapp.celery import app

    app.control.purge()  # tasks left by an earlier run: the sweep of this run covers them
    worker = start_worker(env, args.ingest_worker_concurrency)
    runs = []
    try:
        time.sleep(3)  # the worker connects; its first tasks then drain what an earlier run left
        wait_for_follow_up(time.perf_counter())
        clients, count = args.ingest_clients, args.ingest_clients * args.ingest_batches
        # Warm-up, as the list scenarios have: a gunicorn worker's first batch loads the API's
        # code (about a second), which the first scenario's slowest batches measured instead.
        print("  warm-up: 3 batches per client", flush=True)
        warm_up = ingest_batches(sample, 3 * clients, args.batch_size, f"{run}-warm-up")
        ingest_http(port, token, warm_up, clients)
        wait_for_follow_up(time.perf_counter())
        scenarios = [
            (f"{clients} clients, each event a different lead", clients, None),
            (f"{clients} clients, {args.leads_per_batch} leads per batch", clients, args.leads_per_batch),
            ("1 client, each event a different lead", 1, None),
        ]
        for index, (name, n_clients, leads_per_batch) in enumerate(scenarios):
            batches = ingest_batches(
                sample,
                count if n_clients > 1 else args.ingest_batches,
                args.batch_size,
                f"{run}-{index}",
                leads_per_batch=leads_per_batch,
            )
            print(f"  POST /api/events/batch/ × {len(batches)}: {name}", flush=True)
            began = time.perf_counter()
            posted = ingest_http(port, token, batches, n_clients)
            posted.name = f"POST /api/events/batch/, {name}"
            runs.append(IngestRun(posted, wait_for_follow_up(began)))
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return runs


def table(runs: Sequence[IngestRun], in_process: Sequence[Measurement], follow_up: Measurement) -> list[str]:
    lines = [
        "| ingest path | batches | events stored | errors | p50 ms/batch | p95 ms/batch | events/s stored "
        "| events/s followed up |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        m = r.posted
        rate = r.followed_up_rate
        done = f"{rate:,.0f} ({r.followed_up_after:.1f} s)" if rate else "not within the deadline"
        lines.append(
            f"| {m.name} | {m.count} | {m.items} | {m.errors} | {m.percentile_ms(50):.0f} "
            f"| {m.percentile_ms(95):.0f} | {m.items / m.wall:,.0f} | {done} |"
        )
    for m in [*in_process, follow_up]:
        lines.append(
            f"| {m.name} | {m.count} | {m.items} | {m.errors} | {m.percentile_ms(50):.0f} "
            f"| {m.percentile_ms(95):.0f} | {m.items / m.wall:,.0f} | |"
        )
    return lines


def follow_up_in_process(events: int) -> Measurement:
    """What the worker does for the in-process service run's batches, here in one thread."""
    from leads import services

    result = Measurement("services.follow_up_pending, in-process (1 thread), the batches above")
    began = time.perf_counter()
    batches = services.follow_up_pending(time_budget=QUEUE_DEADLINE)
    result.wall = time.perf_counter() - began
    result.latencies.append(result.wall)
    result.statuses["200"] = batches
    result.items = events
    return result


def run_alone(
    args, env: dict[str, str], header: list[str], sample, ingest_token: str, ingest_user: int
) -> None:
    from leads.models import Activity

    broker = env.get("CELERY_BROKER_URL", "")
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    runs = measured_with_gunicorn(args, env, lambda port: measure(args, env, port, ingest_token, sample, run))
    print("  in-process baselines", flush=True)
    batches = ingest_batches(sample, args.ingest_clients * args.ingest_batches, args.batch_size, f"{run}-svc")
    in_process = ingest_in_process(batches, sample, ingest_user)
    follow_up = follow_up_in_process(in_process[0].items)
    Activity.objects.filter(created_by_id=ingest_user).delete()
    lines = [
        *header,
        f"- a Celery worker (--concurrency {args.ingest_worker_concurrency}) on {broker} follows up",
        "",
        f"## Event ingest ({args.batch_size} events per batch, half by e-mail, half with external id)",
        "",
        *table(runs, in_process, follow_up),
    ]
    write_results("latest-ingest.md", lines)
