import pytest

from leadapp.celery import app
from leadapp.models import WebhookSubscription

from .webhook_receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def subscription(receiver):
    return WebhookSubscription.objects.create(
        name="CRM", target_url=receiver.url, event_types=["lead.created", "lead.stage_changed"]
    )


@pytest.fixture
def tasks_run_inline():
    """Tasks run in this process as they are sent (Celery's eager mode): the sweeper's
    hand-over reaches ``deliver`` without a worker."""
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
