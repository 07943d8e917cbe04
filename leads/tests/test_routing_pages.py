"""The manager's routing pages: teams and routing rules made through the forms, refusals shown
on the page, the rule order that routing follows, and each SDR's load and missed SLAs."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from leadapp import roles
from leads import handoff as handoffs
from leads import services
from leads.models import Handoff, Lead, RoutingRule, Stage, Team

from .factories import LeadFactory

pytestmark = pytest.mark.django_db

ROUTING = reverse("leads:routing")


class _Tables(HTMLParser):
    """The text of each cell of the tables on a page, by the tables' ``data-testid``."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("data-testid"):
            self._table = self.tables.setdefault(attrs["data-testid"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:  # the header row has <th>s only
                self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table(html: str, testid: str) -> list[list[str]]:
    parser = _Tables()
    parser.feed(html)
    assert testid in parser.tables, f"no table {testid} on the page"
    return parser.tables[testid]


def rule_data(**overrides) -> dict:
    """What the "New rule" form posts, filled as a manager would."""
    data = {
        "name": "Rule",
        "active": "on",
        "countries": "",
        "team": "",
        "user": "",
        "strategy": "round_robin",
        "cap": "",
        "accept_within": "4",
        "touch_within": "8",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def hand_to_sales(lead: Lead) -> Handoff:
    services.change_stages([lead.pk], from_stage=lead.stage, to_stage=Stage.MQL, reason="Test")
    return Handoff.objects.get(lead=lead, closed_at__isnull=True)


@pytest.fixture
def colleague(make_user):
    return make_user("colleague", roles.SALES, first_name="Cara", last_name="Colleague")


@pytest.fixture
def team(sdr, colleague):
    team = Team.objects.create(name="EMEA")
    team.members.set([sdr, colleague])
    return team


def test_a_manager_creates_a_team_of_sales_users_then_a_rule_that_routes_to_it(
    page_as, manager, sdr, colleague, marketer
):
    client = page_as(manager)

    form = client.get(reverse("leads:team-create")).content.decode()
    offered = {int(pk) for pk in re.findall(r'name="members" value="(\d+)"', form)}
    assert offered == {sdr.pk, colleague.pk}  # only Sales users can be members
    assert "Cara Colleague" in form

    response = client.post(
        reverse("leads:team-create"),
        {"name": "DACH", "manager": manager.pk, "members": [sdr.pk, colleague.pk]},
        follow=True,
    )
    assert response.redirect_chain == [(ROUTING, 302)]
    assert "Team “DACH” added." in response.content.decode()
    team = Team.objects.get(name="DACH")
    assert set(team.members.all()) == {sdr, colleague}
    assert team.manager == manager

    response = client.post(
        reverse("leads:routing-create"),
        rule_data(name="German speakers", countries="de, at ,CH", team=team.pk),
        follow=True,
    )
    assert response.redirect_chain == [(ROUTING, 302)]
    html = response.content.decode()
    assert "Rule “German speakers” added, last in the order." in html
    [row] = table(html, "routing-rules")
    assert row[:5] == ["1", "German speakers", "Country DE, AT, CH.", "DACH", "Round robin"]
    assert row[6] == "accept 4 h · touch 8 h"

    # The rule takes an Austrian lead (to a member of the team); a French one goes to the pool.
    austrian = hand_to_sales(LeadFactory(country="AT"))
    french = hand_to_sales(LeadFactory(country="FR"))
    assert austrian.owner in (sdr, colleague)
    assert austrian.rule.name == "German speakers"
    assert (french.owner, french.status) == (None, Handoff.Status.POOL)


def test_a_team_member_who_is_not_a_sales_user_is_refused_with_the_message(page_as, manager, sdr, marketer):
    response = page_as(manager).post(
        reverse("leads:team-create"), {"name": "Mixed", "members": [sdr.pk, marketer.pk]}
    )

    assert response.status_code == 400
    assert not Team.objects.exists()
    assert f"Select a valid choice. {marketer.pk} is not one of the available choices." in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({}, "Send the leads to a team or to a person."),
        ({"team": "TEAM", "user": "SDR"}, "Choose a team or a person, not both."),
        ({"user": "SDR", "countries": "DE, XX"}, "Not a country code: XX."),
        (
            {"user": "SDR", "accept_within": "0"},
            "An SLA of 0 business hours is always missed: give at least 1.",
        ),
        (
            {"user": "SDR", "touch_within": "0"},
            "An SLA of 0 business hours is always missed: give at least 1.",
        ),
    ],
    ids=["neither-team-nor-person", "both", "unknown-country", "0-hour-accept", "0-hour-touch"],
)
def test_a_rule_that_cannot_work_is_refused_with_the_message_and_nothing_is_saved(
    page_as, manager, sdr, team, overrides, message
):
    values = {"TEAM": team.pk, "SDR": sdr.pk}
    data = rule_data(name="Broken", **{key: values.get(value, value) for key, value in overrides.items()})

    response = page_as(manager).post(reverse("leads:routing-create"), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'value="Broken"' in html  # the form comes back filled in
    assert not RoutingRule.objects.exists()


def test_an_edit_that_would_break_a_rule_is_refused_and_the_rule_stays_as_it_was(page_as, manager, sdr):
    rule = RoutingRule.objects.create(name="Mine", user=sdr, accept_within=4)

    response = page_as(manager).post(
        reverse("leads:routing-edit", args=[rule.pk]),
        rule_data(name="Renamed", user=sdr.pk, accept_within="0"),
    )

    assert response.status_code == 400
    assert "An SLA of 0 business hours is always missed" in response.content.decode()
    rule.refresh_from_db()
    assert (rule.name, rule.accept_within) == ("Mine", 4)


def test_moving_a_rule_changes_which_rule_routing_uses(page_as, manager, sdr, colleague):
    client = page_as(manager)
    client.post(reverse("leads:routing-create"), rule_data(name="Germany", countries="DE", user=sdr.pk))
    client.post(reverse("leads:routing-create"), rule_data(name="Everyone", user=colleague.pk))
    germany, everyone = RoutingRule.objects.get(name="Germany"), RoutingRule.objects.get(name="Everyone")

    # A German lead matches both rules: the first one takes it.
    assert hand_to_sales(LeadFactory(country="DE")).owner == sdr

    response = client.post(
        reverse("leads:routing-move", args=[everyone.pk]), {"direction": "up"}, follow=True
    )
    assert response.redirect_chain == [(f"{ROUTING}#rule-{everyone.pk}", 302)]
    assert [row[1] for row in table(response.content.decode(), "routing-rules")] == ["Everyone", "Germany"]
    assert hand_to_sales(LeadFactory(country="DE")).owner == colleague

    client.post(reverse("leads:routing-move", args=[everyone.pk]), {"direction": "down"})
    html = client.get(ROUTING).content.decode()
    assert [row[1] for row in table(html, "routing-rules")] == ["Germany", "Everyone"]
    assert hand_to_sales(LeadFactory(country="DE")).owner == sdr

    # Down from the last place (or up from the first) leaves the order as it is.
    client.post(reverse("leads:routing-move", args=[everyone.pk]), {"direction": "down"})
    client.post(reverse("leads:routing-move", args=[germany.pk]), {"direction": "up"})
    html = client.get(ROUTING).content.decode()
    assert [row[1] for row in table(html, "routing-rules")] == ["Germany", "Everyone"]


def test_deleting_a_team_no_rule_uses_removes_it(page_as, manager, team):
    response = page_as(manager).post(
        reverse("leads:team-edit", args=[team.pk]), {"name": team.name, "delete": "1"}, follow=True
    )

    assert response.redirect_chain == [(ROUTING, 302)]
    assert "Team “EMEA” deleted." in response.content.decode()
    assert not Team.objects.exists()


def test_deleting_a_team_a_rule_uses_is_refused_with_a_message(page_as, manager, team):
    RoutingRule.objects.create(name="EMEA leads", team=team)

    response = page_as(manager).post(
        reverse("leads:team-edit", args=[team.pk]), {"name": "EMEA", "delete": "1"}
    )

    assert response.status_code == 400
    assert "Routing rules send leads to this team: change or delete them first." in response.content.decode()
    assert Team.objects.filter(pk=team.pk).exists()
    assert RoutingRule.objects.get().team == team


@pytest.mark.parametrize("role", [roles.SALES, roles.MARKETING])
def test_sales_and_marketing_get_403_on_the_routing_pages(page_as, make_user, sdr, team, role):
    rule = RoutingRule.objects.create(name="Mine", user=sdr)
    client = page_as(make_user("someone", role))

    for url in [
        ROUTING,
        reverse("leads:routing-create"),
        reverse("leads:routing-edit", args=[rule.pk]),
        reverse("leads:team-create"),
        reverse("leads:team-edit", args=[team.pk]),
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("leads:routing-create"), rule_data(user=sdr.pk)).status_code == 403
    assert client.post(reverse("leads:routing-delete", args=[rule.pk])).status_code == 403
    assert client.post(reverse("leads:team-edit", args=[team.pk]), {"delete": "1"}).status_code == 403
    assert RoutingRule.objects.count() == 1 and Team.objects.count() == 1
    assert 'data-testid="nav-routing"' not in client.get("/").content.decode()


def test_the_page_lists_each_sdrs_open_leads_and_the_latest_sla_breaches(page_as, manager, sdr, colleague):
    RoutingRule.objects.create(name="Germany", countries=["DE"], user=sdr, accept_within=1)
    late = hand_to_sales(LeadFactory(country="DE", first_name="Late", last_name="Lead"))
    hand_to_sales(LeadFactory(country="DE"))
    closed = hand_to_sales(LeadFactory(country="DE"))
    services.change_stage(closed.lead, to_stage=Stage.DISQUALIFIED, by=sdr, reason="Student")  # closes it
    hand_to_sales(LeadFactory(country="FR"))  # no rule: the pool
    # Two days on, the accept deadline of the open ones has passed.
    Handoff.objects.exclude(pk=late.pk).update(due_at=timezone.now() + timedelta(days=30))
    assert handoffs.check_slas(now=timezone.now() + timedelta(days=2)) == 1

    html = page_as(manager).get(ROUTING).content.decode()

    loads = {row[0]: row[1:] for row in table(html, "sdr-loads")}
    assert loads == {"Cara Colleague": ["0", "0"], "sdr": ["2", "1"]}
    [breach] = table(html, "sla-breaches")
    assert breach[1:4] == ["Late Lead", "Not accepted in time", "sdr"]
    assert "(1 now)" in html  # the pool


def test_without_breaches_the_page_says_every_deadline_was_met(page_as, manager):
    html = page_as(manager).get(ROUTING).content.decode()

    assert table(html, "sla-breaches") == [["None: every deadline was met."]]
    assert "No rules yet" in html
