"""GET /e/o/<token>/: the open pixel. Always a transparent GIF; the first load of a message
records one "e-mail opened" on the lead's timeline, later loads nothing new."""

import threading
import uuid

import pytest
from django.db import connection

from conftest import requires_postgres
from leads.models import ActivityKind, ActivitySource
from nurturing import links, tracking
from nurturing.models import Message
from nurturing.public_views import PIXEL

from .sent import activities, path_of, sent_message

pytestmark = pytest.mark.django_db


def pixel_path(message: Message) -> str:
    return path_of(links.open_url(message.token))


def assert_pixel(response) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == PIXEL
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]


def test_the_first_open_shows_the_pixel_and_goes_on_the_lead_timeline(client):
    message = sent_message()

    response = client.get(pixel_path(message), HTTP_USER_AGENT="Mail/1.0")

    assert_pixel(response)
    message.refresh_from_db()
    assert message.opened_at is not None
    [opened] = activities(message.lead, ActivityKind.EMAIL_OPEN)
    assert opened.source == ActivitySource.EMAIL
    assert opened.properties["campaign"] == message.campaign.name
    assert opened.properties["campaign_id"] == message.campaign_id
    assert opened.properties["message_id"] == message.pk
    assert opened.properties["step_id"] == message.step_id
    assert opened.properties["user_agent"] == "Mail/1.0"
    message.lead.refresh_from_db()
    assert message.lead.last_activity.at == opened.occurred_at


def test_opening_again_records_nothing_new(client):
    message = sent_message()
    client.get(pixel_path(message))
    first_opened_at = Message.objects.get(pk=message.pk).opened_at

    for _ in range(3):
        assert_pixel(client.get(pixel_path(message)))

    assert Message.objects.get(pk=message.pk).opened_at == first_opened_at
    assert len(activities(message.lead, ActivityKind.EMAIL_OPEN)) == 1


def test_an_unknown_token_still_gets_the_pixel_and_records_nothing(client):
    sent_message()

    assert_pixel(client.get(f"/e/o/{uuid.uuid4()}/"))

    assert not Message.objects.exclude(opened_at=None).exists()


def test_the_pixel_needs_no_login_and_sets_no_cookie(client):
    message = sent_message()

    response = client.get(pixel_path(message))

    assert_pixel(response)
    assert not response.cookies


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_opens_at_the_same_moment_make_one_activity():
    message = sent_message()
    barrier = threading.Barrier(4)
    results = []

    def open_it():
        try:
            barrier.wait()
            results.append(tracking.record_open(message.token))
        finally:
            connection.close()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    assert len(activities(message.lead, ActivityKind.EMAIL_OPEN)) == 1
