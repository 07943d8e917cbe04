"""A user's notifications: the unread count in the nav, the list of their own, opening one
(read, then on to what it is about, never off-site), "Mark all read", and anonymous visitors."""

import re

import pytest
from django.urls import reverse

from leadapp import notifications
from leadapp.models import Notification
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

LIST = reverse("notifications")
READ_ALL = reverse("notifications-read")


def unread_badge(html: str) -> str | None:
    """The number beside the bell in the nav, or None when there is none."""
    match = re.search(r'<span class="notification-count" data-testid="unread-count">(\d+)</span>', html)
    return match.group(1) if match else None


def note(user, text: str, url: str = "") -> Notification:
    notifications.notify([user], kind="test", text=text, url=url, email=False)
    return Notification.objects.filter(user=user).latest("id")


def test_the_nav_shows_the_unread_count_and_nothing_once_all_are_read(page_as, sdr, manager):
    note(sdr, "First")
    note(sdr, "Second")
    read = note(sdr, "Already read")
    notifications.mark_read(sdr, [read.pk])
    note(manager, "The manager's")  # not the SDR's count
    client = page_as(sdr)

    assert unread_badge(client.get("/").content.decode()) == "2"
    assert unread_badge(client.get(reverse("leads:list")).content.decode()) == "2"

    notifications.mark_read(sdr)
    html = client.get("/").content.decode()
    assert unread_badge(html) is None
    assert 'data-testid="nav-notifications"' in html  # the bell stays


def test_the_list_shows_the_users_own_notifications_only_newest_first_unread_in_bold(page_as, sdr, manager):
    note(sdr, "Older one")
    newer = note(sdr, "Newer one")
    note(manager, "For the manager only")
    notifications.mark_read(sdr, [newer.pk])
    Notification.objects.filter(text="Older one").update(created_at=newer.created_at.replace(year=2020))

    html = page_as(sdr).get(LIST).content.decode()

    listed = html[html.index('data-testid="notifications"') :]
    assert "For the manager only" not in html
    assert listed.index("Newer one") < listed.index("Older one")
    assert "<strong>Older one</strong>" in listed  # unread
    assert "<strong>Newer one</strong>" not in listed


def test_with_no_notifications_the_list_says_so(page_as, sdr):
    html = page_as(sdr).get(LIST).content.decode()

    assert "Nothing yet." in html
    assert unread_badge(html) is None


def test_opening_a_notification_marks_it_read_and_goes_to_its_url(page_as, sdr):
    lead = LeadFactory(first_name="Ada", last_name="Lovelace")
    opened = note(sdr, "New lead for you: Ada Lovelace", url=reverse("leads:detail", args=[lead.pk]))
    note(sdr, "Another")
    client = page_as(sdr)

    response = client.get(reverse("notification-open", args=[opened.pk]), follow=True)

    assert response.redirect_chain == [(f"/leads/{lead.pk}/", 302)]
    assert "Ada Lovelace" in response.content.decode()
    opened.refresh_from_db()
    assert opened.read_at is not None
    assert unread_badge(response.content.decode()) == "1"
    # Opening it again keeps when it was first read.
    first_read = opened.read_at
    client.get(reverse("notification-open", args=[opened.pk]))
    opened.refresh_from_db()
    assert opened.read_at == first_read


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example",
        "//evil.example/leads/1/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_opening_a_notification_never_redirects_off_site(page_as, sdr, url):
    opened = note(sdr, "Suspicious", url=url)

    response = page_as(sdr).get(reverse("notification-open", args=[opened.pk]))

    assert response.status_code == 302
    assert response["Location"] == LIST
    opened.refresh_from_db()
    assert opened.read_at is not None


def test_a_notification_without_a_url_opens_the_list(page_as, sdr):
    opened = note(sdr, "Just so you know")

    response = page_as(sdr).get(reverse("notification-open", args=[opened.pk]))

    assert response["Location"] == LIST


def test_a_colleagues_notification_cannot_be_opened_or_marked_read(page_as, sdr, manager):
    theirs = note(manager, "SLA missed", url="/leads/queue/")

    response = page_as(sdr).get(reverse("notification-open", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_clears_the_count_of_the_user_only(page_as, sdr, manager):
    note(sdr, "One")
    note(sdr, "Two")
    theirs = note(manager, "The manager's")
    client = page_as(sdr)

    response = client.post(READ_ALL, follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    html = response.content.decode()
    assert unread_badge(html) is None
    assert "<strong>" not in html[html.index('data-testid="notifications"') :]
    assert not Notification.objects.filter(user=sdr, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_is_a_post(page_as, sdr):
    note(sdr, "One")

    response = page_as(sdr).get(READ_ALL)

    assert response.status_code == 405
    assert Notification.objects.filter(user=sdr, read_at__isnull=True).count() == 1


def test_anonymous_visitors_are_sent_to_log_in_and_nothing_is_marked_read(client, sdr):
    unread = note(sdr, "Private", url="/leads/")
    opened = reverse("notification-open", args=[unread.pk])

    for path in (LIST, opened):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={path}"
    response = client.post(READ_ALL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    unread.refresh_from_db()
    assert unread.read_at is None
