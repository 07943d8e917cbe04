"""The Celery application. Tasks live in each app's ``tasks.py`` as thin wrappers around
services and are named ``<app>.<verb_noun>``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadapp.settings.base")

app = Celery("leadapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
