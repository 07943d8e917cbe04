"""POST /t/pv: the public endpoint of the tracking script."""

import json
import uuid

import pytest
from django.test import override_settings

from leads.models import Activity, AnonymousPageView, Visitor

pytestmark = pytest.mark.django_db


def post(client, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/t/pv", data=data, content_type="text/plain;charset=UTF-8", **headers)


def valid(**changes):
    return {
        "vid": str(uuid.uuid4()),
        "url": "https://shop.example/",
        "title": "Shop",
        "referrer": "",
        **changes,
    }


def test_a_page_view_of_an_unknown_visitor_is_kept_anonymously(client):
    body = valid(title="Pricing", referrer="https://www.google.com/", url="https://shop.example/pricing")

    response = post(client, body, HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    visitor = Visitor.objects.get()
    assert visitor.id == body["vid"] and visitor.lead is None
    [view] = AnonymousPageView.objects.all()
    assert view.properties == {
        "url": "https://shop.example/pricing",
        "title": "Pricing",
        "referrer": "https://www.google.com/",
    }


def test_the_endpoint_needs_no_login_and_no_csrf_token(client):
    client.handler.enforce_csrf_checks = True

    assert post(client, valid()).status_code == 204


def test_a_cors_preflight_is_answered(client):
    response = client.options(
        "/t/pv", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        valid(vid="1234"),
        valid(vid=None),
        valid(vid="../../etc/passwd"),
        valid(url=""),
        valid(url="javascript:alert(1)"),
        valid(url="https://shop.example/" + "a" * 2000),
        valid(referrer="https://ref.example/" + "a" * 2000),
        valid(title=["not", "text"]),
        json.dumps(valid(title="x" * 9000)),
    ],
    ids=lambda b: str(b)[:40],
)
def test_bad_input_is_refused_and_stores_nothing(client, body):
    response = post(client, body)

    assert response.status_code == 400
    assert "error" in response.json()
    assert not Visitor.objects.exists()
    assert not AnonymousPageView.objects.exists()
    assert not Activity.objects.exists()


def test_only_post_is_accepted(client):
    assert client.get("/t/pv").status_code == 405


@override_settings(LEADAPP_TRACKING_RATE="3/m")
def test_over_the_rate_an_ip_gets_429_and_nothing_is_stored(client):
    for _ in range(3):
        assert post(client, valid(), REMOTE_ADDR="10.0.0.1").status_code == 204

    response = post(client, valid(), REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 429
    assert AnonymousPageView.objects.count() == 3
    assert post(client, valid(), REMOTE_ADDR="10.0.0.2").status_code == 204  # per IP


@override_settings(LEADAPP_TRACKING_RATE="1/m", LEADAPP_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")
def test_behind_a_proxy_the_rate_is_per_client_address_the_proxy_saw(client):
    """The proxy appends the address it saw; what a client writes in front cannot dodge it."""
    assert post(client, valid(), HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 204
    assert post(client, valid(), HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7").status_code == 429
    assert post(client, valid(), HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 204


def test_a_nul_character_in_the_title_is_dropped_and_in_the_url_refused(client):
    assert post(client, valid(title="Pri\x00cing")).status_code == 204
    assert AnonymousPageView.objects.get().properties["title"] == "Pricing"

    assert post(client, valid(url="https://shop.example/\x00")).status_code == 400
    assert AnonymousPageView.objects.count() == 1
