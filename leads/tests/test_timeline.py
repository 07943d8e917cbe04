"""The lead page's timeline: 25 at a time, "Load more" continues with the older ones."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def shown(html: str) -> list[str]:
    """The activities on the page, by their ``n`` property, top to bottom."""
    return re.findall(r'<span class="prop">n: (\w+)</span>', html)


def load_more_href(html: str) -> str | None:
    match = re.search(r'<li class="load-more">.*?href="([^"]+)"', html, re.S)
    return unescape(match.group(1)) if match else None


def make_timeline(lead, count: int) -> list[str]:
    """``count`` activities; several share a timestamp, as a batch import produces. Returns their
    names newest first (ties broken by the later id first)."""
    base = timezone.now() - timedelta(days=1)
    made = []
    for i in range(count):
        when = base + timedelta(minutes=i // 3)  # three per minute
        activity = ActivityFactory(lead=lead, occurred_at=when, properties={"n": f"a{i}"})
        made.append(activity)
    made.sort(key=lambda a: (a.occurred_at, a.pk), reverse=True)
    return [a.properties["n"] for a in made]


def test_the_page_shows_the_newest_25_and_a_load_more_link(page_as, manager):
    lead = LeadFactory()
    expected = make_timeline(lead, 30)

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()

    assert shown(html) == expected[:25]
    assert load_more_href(html) is not None


def test_load_more_returns_the_older_ones_without_repeats_or_gaps(page_as, manager):
    lead = LeadFactory()
    expected = make_timeline(lead, 60)
    client = page_as(manager)

    html = client.get(f"/leads/{lead.pk}/").content.decode()
    seen = shown(html)
    href = load_more_href(html)
    requests = 0
    while href:
        response = client.get(href, headers={"HX-Request": "true"})
        assert response.status_code == 200
        fragment = response.content.decode()
        assert "<html" not in fragment
        seen += shown(fragment)
        href = load_more_href(fragment)
        requests += 1
        assert requests < 5

    assert requests == 2
    assert seen == expected


def test_the_load_more_link_is_the_timeline_url_with_before(page_as, manager):
    lead = LeadFactory()
    make_timeline(lead, 26)

    href = load_more_href(page_as(manager).get(f"/leads/{lead.pk}/").content.decode())

    assert re.fullmatch(rf"/leads/{lead.pk}/timeline/\?before=\d+", href)


def test_exactly_25_activities_show_no_load_more(page_as, manager):
    lead = LeadFactory()
    expected = make_timeline(lead, 25)

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()

    assert shown(html) == expected
    assert load_more_href(html) is None


def test_the_timeline_of_another_lead_does_not_leak_in(page_as, manager):
    lead, other = LeadFactory(), LeadFactory()
    expected = make_timeline(lead, 27)
    ActivityFactory(lead=other, properties={"n": "other"})
    client = page_as(manager)

    href = load_more_href(client.get(f"/leads/{lead.pk}/").content.decode())
    fragment = client.get(href).content.decode()

    assert shown(fragment) == expected[25:]
    assert "other" not in shown(fragment)


def test_the_timeline_of_an_unknown_lead_is_404(page_as, manager):
    lead = LeadFactory()

    assert page_as(manager).get(f"/leads/{lead.pk + 1000}/timeline/?before=1").status_code == 404
