"""Test profile: PostgreSQL and Redis when they answer, SQLite and the filesystem broker
when they do not. ``conftest.py`` prints which were used in pytest's header.

DATABASE_URL / CELERY_BROKER_URL in the environment always win; otherwise the defaults of
the CI machines (127.0.0.1:5432, user postgres; 127.0.0.1:6379) are tried.
"""

import os
import socket

from .base import *  # noqa: F403
from .base import VAR_DIR, env


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


if "DATABASE_URL" not in os.environ and _reachable("127.0.0.1", 5432):
    DATABASES = {"default": env.db_url_config("postgres://postgres@127.0.0.1:5432/leadapp")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not :memory:, so that a Celery worker process can see what a test wrote.
    # One per test run (pid), so that two runs at once do not share it. ``var/`` may not exist
    # yet (a fresh clone that never ran ./start).
    os.makedirs(VAR_DIR, exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

if "CELERY_BROKER_URL" not in os.environ and _reachable("127.0.0.1", 6379):
    CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    # A queue of its own, so that the tests never eat the tasks of a running ./start.
    _queue = str(VAR_DIR / "test-celery")
    os.makedirs(_queue, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue,
        "data_folder_out": _queue,
        "control_folder": str(VAR_DIR / "test-celery-control"),
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if "EMAIL_URL" not in os.environ:
    # The test process keeps e-mail in memory; a worker process started by a test is given
    # EMAIL_URL (a real SMTP server on loopback).
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
