"""Benchmark campaign sending: one e-mail step due for 10,000 leads, end to end.

    python -m bench.nurturing                  # 10,000 leads, 2 worker processes
    python -m bench.nurturing --leads 2000 --workers 1

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379. It builds a
scratch database ``leadapp_bench_nurturing`` (dropped and recreated), with ``--leads`` leads
who gave consent, an active campaign whose first step sends a personalized e-mail with a
tracked link, and every lead enrolled. A real SMTP server (aiosmtpd) listens on loopback and
counts what it accepts. Then ``--workers`` Celery worker processes (solo pool) start on
Redis, and the clock runs from the dispatcher's first statement (the step is due for every
lead) until the SMTP server has accepted every message and every outbox row says "sent".

The baseline, in the same run: the same number of messages of the same size pushed by one
process straight through ``smtplib`` over one connection — the cost of SMTP itself on this
machine, without rendering, tracking or bookkeeping.

A measurement, not a test: nothing fails on a slow number.
"""

from __future__ import annotations

import argparse
import os
import platform
import smtplib
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest-nurturing.md"
BROKER = "redis://127.0.0.1:6379/9"

BODY = (
    '<p>Hi {{ first_name or "there" }},</p>'
    '{% if industry == "software" %}<p>Here is how SaaS teams fill their pipeline.</p>{% endif %}'
    '<p><a href="https://example.com/guide">Read the guide</a> or '
    '<a href="https://example.com/demo">book a demo</a>.</p>'
    "<p>Best,<br>The team</p>"
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.nurturing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=10_000, help="leads the step is due for")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--db", default="leadapp_bench_nurturing", help="scratch database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    return parser.parse_args(argv)


def setup_django(db_url: str, smtp_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="leadapp.settings.base",
        DATABASE_URL=db_url,
        CELERY_BROKER_URL=BROKER,
        EMAIL_URL=smtp_url,
        DEBUG="0",
    )
    import django

    django.setup()


def recreate_database(pg: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg}/{name}"


def prepare(leads: int) -> int:
    """Leads, a campaign due for all of them; returns the campaign id."""
    from django.core.management import call_command
    from django.utils import timezone

    from leads.models import Lead
    from nurturing import services
    from nurturing.models import Campaign, EmailTemplate, Step

    call_command("migrate", verbosity=0)
    industries = ["software", "retail", "finance", ""]
    Lead.objects.bulk_create(
        [
            Lead(
                email=f"bench{i}@example.com",
                first_name="" if i % 7 == 0 else f"Name{i}",
                industry=industries[i % len(industries)],
                marketing_consent=True,
                consent_at=timezone.now(),
            )
            for i in range(leads)
        ],
        batch_size=2_000,
    )
    template = EmailTemplate.objects.create(
        name="Bench",
        subject='A guide for you, {{ first_name or "there" }}',
        preheader="Ten minutes",
        html_body=BODY,
    )
    campaign = Campaign.objects.create(
        name="Bench", status=Campaign.Status.ACTIVE, activated_at=timezone.now()
    )
    Step.objects.create(campaign=campaign, position=1, kind=Step.Kind.SEND_EMAIL, template=template)
    enrolled = services.enroll(campaign, Lead.objects.all())
    assert enrolled == leads, (enrolled, leads)
    return campaign.pk


def start_workers(count: int, log_dir: Path) -> list[subprocess.Popen]:
    from leadapp.celery import app

    app.control.purge()
    workers = []
    for index in range(count):
        log = open(log_dir / f"nurturing-worker-{index}.log", "w")  # noqa: SIM115 - closed with the process
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "leadapp",
                    "worker",
                    "--pool",
                    "solo",
                    "-n",
                    f"bench{index}@%h",
                    "--loglevel",
                    "WARNING",
                ],
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=0.5) or []) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the Celery workers did not start; see bench/results/nurturing-worker-*.log")
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()


def run_campaign(sink, leads: int) -> tuple[float, float]:
    """Seconds until every message was accepted by the SMTP server and marked sent, and the
    part of it the dispatcher took."""
    from nurturing import services
    from nurturing.models import Message

    started = time.perf_counter()
    services.dispatch()
    dispatched = time.perf_counter() - started
    sink.wait_for(leads, timeout=1_800)
    while Message.objects.exclude(status=Message.Status.SENT).exists():
        time.sleep(0.05)
    return time.perf_counter() - started, dispatched


def smtplib_baseline(port: int, leads: int, size: int) -> float:
    """One process, one connection, prebuilt messages of ``size`` bytes: SMTP's own cost."""
    message = EmailMessage()
    message["From"] = "bench@localhost"
    message["Subject"] = "Baseline"
    message.set_content("x" * max(size, 100))
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(leads):
            del message["To"]
            message["To"] = f"bench{i}@example.com"
            smtp.send_message(message)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from nurturing.tests.smtp import SMTPSink

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    with SMTPSink(keep=False) as sink:
        db_url = recreate_database(args.pg, args.db)
        setup_django(db_url, sink.url)
        print(f"Preparing {args.leads:,} leads and the campaign in {args.db} ...", flush=True)
        prepare(args.leads)
        workers = start_workers(args.workers, RESULTS.parent)
        try:
            print(f"Sending through {args.workers} worker process(es) ...", flush=True)
            total, dispatched = run_campaign(sink, args.leads)
        finally:
            stop_workers(workers)

        from nurturing.models import Message

        size = len(Message.objects.order_by("pk").values_list("html", flat=True).first() or "") * 2
        baseline_sink_start = sink.count
        baseline = smtplib_baseline(sink.port, args.leads, size)
        assert sink.count - baseline_sink_start == args.leads

    rows = [
        ("LeadApp: dispatcher + workers → SMTP (end to end)", args.leads, total),
        ("  of which the dispatcher (outbox rows written, tasks queued)", args.leads, dispatched),
        ("Baseline: smtplib, 1 process, 1 connection, prebuilt messages", args.leads, baseline),
    ]
    lines = [
        f"Campaign sending, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, {args.workers} worker process(es), PostgreSQL + Redis, aiosmtpd",
        "",
        "| scenario | messages | seconds | messages/s |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {name} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} |" for name, n, seconds in rows),
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
