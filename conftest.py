import os

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leadapp import roles


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    name = (db.get("TEST") or {}).get("NAME") or f"test_{db['NAME']}"
    where = name if "sqlite" in db["ENGINE"] else f"{db['HOST']}:{db['PORT']}/{name}"
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL
    lines = [f"LeadApp tests: database {engine} ({where}), Celery broker {broker}"]
    if engine != "postgresql":
        lines.append(
            "NOTE: PostgreSQL was not reachable: running on SQLite; PostgreSQL-only tests are skipped."
        )
    return lines


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: what earlier tests left there (rate-limit
    counters of the public endpoints, common search terms, see leads.filters.matching_ids)
    must not change what the next one sees."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def broker_down():
    """A context manager: inside it, Celery publishes to a port nothing listens on (the
    broker is down; sending a task fails), and afterwards to the real broker again."""
    from contextlib import contextmanager

    from leadapp.celery import app

    def reconnect(url):
        app.conf.broker_write_url = url  # what publishing connects to
        app._pool = None
        app.amqp._producer_pool = None

    @contextmanager
    def down():
        good_url = app.conf.broker_write_url
        reconnect("redis://127.0.0.1:9/0")
        try:
            with pytest.raises(Exception):  # noqa: B017 - whatever kombu raises, the call fails
                app.send_task("leadapp.record_heartbeat")
            yield
        finally:
            reconnect(good_url)

    return down


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, role: str | None = None, **extra):
        user = django_user_model.objects.create_user(username=username, password="pw", **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def marketer(make_user):
    return make_user("marketer", roles.MARKETING)


@pytest.fixture
def sdr(make_user):
    return make_user("sdr", roles.SALES)


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles.MANAGER)


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", roles.ADMIN, is_staff=True)


@pytest.fixture
def nobody(make_user):
    """Logged in, but no role yet."""
    return make_user("nobody")


@pytest.fixture
def api_as():
    """An API client authenticated with the user's token, as another system would be."""

    def client_for(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def page_as(client):
    def client_for(user):
        client.force_login(user)
        return client

    return client_for


requires_postgres = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL (real row locks and concurrent connections)",
)


@pytest.fixture(scope="session")
def smtp_sink():
    """A real SMTP server on loopback, shared by the session; the Celery worker sends to it."""
    from nurturing.tests.smtp import SMTPSink

    with SMTPSink() as sink:
        yield sink


def start_worker(log_path, *, smtp_url: str, extra_args=()):
    """A real Celery worker process, consuming from the configured broker (Redis in CI),
    writing to the test database and sending e-mail to ``smtp_url``. Returns once its first
    heartbeat (sent through the broker when it starts) is in the database."""
    import subprocess
    import sys
    import time

    from django.db import connection

    from leadapp.models import WorkerHeartbeat

    db = connection.settings_dict
    if db["ENGINE"].endswith("postgresql"):
        db_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        db_url = f"sqlite:///{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadapp.settings.test",
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EMAIL_URL": smtp_url,
    }
    with open(log_path, "a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "leadapp", "worker", "--loglevel", "INFO", *extra_args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while not WorkerHeartbeat.objects.filter(pid=process.pid).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            with open(log_path) as log:
                pytest.fail(f"the Celery worker did not start:\n{log.read()}")
        time.sleep(0.2)
    return process


def stop_worker(process) -> None:
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, smtp_sink):
    """The session's worker (solo pool): see ``start_worker``."""
    from leadapp.celery import app

    app.control.purge()
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with django_db_blocker.unblock():
        process = start_worker(log, smtp_url=smtp_sink.url, extra_args=["--pool", "solo"])
    yield process
    stop_worker(process)


CHROMIUM = os.environ.get("LEADAPP_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright (Debian's build: Playwright cannot download its
    own here). Skipped, saying why, where Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser journeys need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the Django calls the tests
    # make between browser steps are ordinary synchronous ones.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str, password: str = "pw") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
