"""Logging in and out through the pages."""

from io import StringIO

import pytest
from django.core.management import call_command

from leadapp.management.commands.create_demo_users import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_users():
    call_command("create_demo_users", stdout=StringIO())


def test_a_demo_user_logs_in_and_lands_on_home(client, demo_users):
    response = client.post("/login/", {"username": "marketer", "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Hello, Maria Marketer" in home.content.decode()
    assert client.get("/leads/").status_code == 200


def test_login_returns_to_the_page_asked_for(client, demo_users):
    asked = client.get("/leads/")
    assert asked["Location"] == "/login/?next=/leads/"

    response = client.post(
        "/login/?next=/leads/", {"username": "sdr", "password": DEMO_PASSWORD, "next": "/leads/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/leads/"


def test_login_does_not_return_to_another_site(client, demo_users):
    response = client.post(
        "/login/", {"username": "sdr", "password": DEMO_PASSWORD, "next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_wrong_password_shows_an_error_and_does_not_log_in(client, demo_users):
    response = client.post("/login/", {"username": "marketer", "password": "wrong"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Please enter a correct username and password" in html
    assert 'value="marketer"' in html
    assert client.get("/leads/").status_code == 302


def test_an_unknown_user_cannot_log_in(client, demo_users):
    response = client.post("/login/", {"username": "mallory", "password": DEMO_PASSWORD})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_a_logged_in_user_visiting_login_goes_home(page_as, sdr):
    response = page_as(sdr).get("/login/")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_is_a_post(page_as, sdr):
    client = page_as(sdr)

    assert client.get("/logout/").status_code == 405
    assert client.get("/leads/").status_code == 200  # still logged in

    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/leads/").status_code == 302


def test_every_page_offers_the_logout_form(page_as, sdr):
    html = page_as(sdr).get("/").content.decode()

    assert '<form method="post" action="/logout/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
