"""Celery tasks of the leads app: thin, idempotent wrappers around services."""

from celery import shared_task  # noqa: F401 - used by the tasks below

# --- form submissions ---

# --- CSV import ---
