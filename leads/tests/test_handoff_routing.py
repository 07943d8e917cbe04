"""Routing a new MQL: the first active rule whose conditions all hold takes the lead and gives
it to its person or to a member of its team (round robin or least loaded, skipping whoever is
at the cap); a lead no rule takes, or that finds everyone at the cap, waits in the pool. The
SDR who gets it is told, and becomes the lead's owner."""

import pytest
from django.utils import timezone

from leadapp import roles
from leadapp.models import Notification
from leads import handoff
from leads.models import Handoff, Lead, RoutingRule, Stage, Team
from leads.services import change_stage, change_stages
from leads.tests.factories import LeadFactory
from scoring.models import LeadScore

pytestmark = pytest.mark.django_db

Status = Handoff.Status
LEAST_LOADED = RoutingRule.Strategy.LEAST_LOADED


@pytest.fixture
def ana(make_user):
    return make_user("ana", roles.SALES, email="ana@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles.SALES, email="bob@example.com")


@pytest.fixture
def cid(make_user):
    return make_user("cid", roles.SALES, email="cid@example.com")


def team_of(*members, name="EMEA") -> Team:
    team = Team.objects.create(name=name)
    team.members.set(members)
    return team


def rule(name: str, position: int = 0, **options) -> RoutingRule:
    return RoutingRule.objects.create(name=name, position=position, **options)


def promote(lead: Lead) -> Handoff:
    """The lead becomes an MQL (as scoring or a user makes it one); its open handoff."""
    change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.MQL, reason="Score reached the threshold")
    return Handoff.objects.get(lead=lead, status__in=[Status.POOL, Status.ASSIGNED])


def owner_of(lead: Lead):
    return Lead.objects.get(pk=lead.pk).owner


def lead_assigned_notes(user) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(user=user, kind="lead_assigned").order_by("id").values_list("text", "url")
    )


# --- Which rule -------------------------------------------------------------------------------


def test_the_first_matching_rule_by_position_takes_the_lead(ana, bob):
    # Created first, but placed last: the position decides, not the order of creation.
    catch_all = rule("Everyone else", position=20, user=bob)
    germany = rule("Germany", position=10, countries=["DE"], user=ana)

    german = promote(LeadFactory(country="DE"))
    french = promote(LeadFactory(country="FR"))

    assert (german.owner, german.rule, german.status) == (ana, germany, Status.ASSIGNED)
    assert (french.owner, french.rule, french.status) == (bob, catch_all, Status.ASSIGNED)


@pytest.mark.parametrize(
    "condition, matching, other",
    [
        ({"countries": ["DE", "AT"]}, {"country": "AT"}, {"country": "FR"}),
        ({"industries": ["software"]}, {"industry": "software"}, {"industry": "retail"}),
        ({"company_sizes": ["51-200", "201-500"]}, {"company_size": "51-200"}, {"company_size": "1-10"}),
        ({"sources": ["referral"]}, {"source": "referral"}, {"source": "paid_search"}),
        ({"grades": ["A", "B"]}, {"grade": "A"}, {"grade": "C"}),
    ],
    ids=["country", "industry", "company-size", "source", "grade"],
)
def test_a_rule_takes_only_the_leads_its_condition_holds_for(ana, condition, matching, other):
    rule("Focus", **condition, user=ana)

    def lead_with(attributes):
        attributes = dict(attributes)
        grade = attributes.pop("grade", None)
        lead = LeadFactory(**attributes)
        if grade:
            LeadScore.objects.create(lead=lead, grade=grade, total=50)
        return lead

    taken = promote(lead_with(matching))
    left = promote(lead_with(other))

    assert (taken.owner, taken.status) == (ana, Status.ASSIGNED)
    assert (left.owner, left.status, left.rule) == (None, Status.POOL, None)
    if "grade" in matching:
        assert (taken.grade, left.grade) == (matching["grade"], other["grade"])


def test_every_condition_of_a_rule_must_hold(ana):
    rule("German software", countries=["DE"], industries=["software"], user=ana)

    both = promote(LeadFactory(country="DE", industry="software"))
    only_country = promote(LeadFactory(country="DE", industry="finance"))
    only_industry = promote(LeadFactory(country="FR", industry="software"))

    assert both.owner == ana
    assert only_country.owner is None and only_industry.owner is None


def test_an_inactive_rule_is_skipped(ana, bob):
    rule("Paused", position=1, user=ana, active=False)
    rule("Live", position=2, user=bob)

    assert promote(LeadFactory()).owner == bob


def test_without_a_matching_rule_the_lead_waits_in_the_pool_and_nobody_is_told(ana):
    rule("Germany", countries=["DE"], user=ana)
    lead = LeadFactory(country="US", owner=ana)  # an owner from before: the pool has none

    pooled = promote(lead)

    assert (pooled.status, pooled.owner, pooled.rule, pooled.team) == (Status.POOL, None, None, None)
    assert owner_of(lead) is None
    assert pooled.accept_due_at is not None  # the pool has its SLA too
    assert not Notification.objects.exists()
    assert list(handoff.queue(ana, scope="pool")) == [pooled]


# --- The person or the team member ------------------------------------------------------------


def test_a_person_rule_gives_the_lead_to_that_person_who_is_told(ana, bob):
    rule("Key accounts", user=ana)
    lead = LeadFactory(first_name="Grace", last_name="Hopper")

    assigned = promote(lead)

    assert (assigned.owner, assigned.status, assigned.team) == (ana, Status.ASSIGNED, None)
    assert owner_of(lead) == ana
    assert lead_assigned_notes(ana) == [("New lead for you: Grace Hopper", f"/leads/{lead.pk}/")]
    assert lead_assigned_notes(bob) == []
    assert list(handoff.queue(ana, scope="mine")) == [assigned]


def test_a_hand_raiser_is_announced_as_asking_for_sales(ana):
    rule("Everyone", user=ana)
    lead = LeadFactory(first_name="Ada", last_name="Lovelace")

    change_stages([lead.pk], from_stage=Stage.NEW, to_stage=Stage.MQL, reason="Demo", hand_raise=True)

    assert Handoff.objects.get(lead=lead).hand_raise is True
    assert lead_assigned_notes(ana) == [
        ("New lead for you: Ada Lovelace (asked for sales)", f"/leads/{lead.pk}/")
    ]


def test_a_deactivated_sdr_gets_no_more_leads(ana):
    rule("Key accounts", user=ana)
    ana.is_active = False
    ana.save()

    assert promote(LeadFactory()).owner is None


def test_round_robin_shares_the_leads_evenly_one_after_the_other(ana, bob, cid):
    team = team_of(cid, ana, bob)
    emea = rule("EMEA", team=team)

    owners = [promote(LeadFactory()).owner for _ in range(9)]  # nine separate routings

    assert owners == [ana, bob, cid] * 3
    assert {user.username: owners.count(user) for user in (ana, bob, cid)} == {"ana": 3, "bob": 3, "cid": 3}
    emea.refresh_from_db()
    assert emea.last_assigned == cid
    handed = Handoff.objects.filter(rule=emea)
    assert set(handed.values_list("team", flat=True)) == {team.pk}


def test_round_robin_goes_on_after_whoever_got_the_last_lead(ana, bob, cid):
    emea = rule("EMEA", team=team_of(ana, bob, cid))
    # Earlier today the rule gave Bob the last lead.
    RoutingRule.objects.filter(pk=emea.pk).update(last_assigned=bob)

    owners = [promote(LeadFactory()).owner for _ in range(4)]

    assert owners == [cid, ana, bob, cid]


def test_least_loaded_gives_the_lead_to_whoever_has_the_fewest_open_ones(ana, bob, cid):
    now = timezone.now()

    def open_for(user, n, status=Status.ASSIGNED):
        for _ in range(n):
            lead = LeadFactory(stage=Stage.MQL, owner=user)
            Handoff.objects.create(lead=lead, owner=user, status=status, handed_at=now)

    open_for(ana, 3)
    open_for(bob, 1)
    open_for(bob, 5, status=Status.CLOSED)  # done with: they do not count
    open_for(cid, 2)
    rule("EMEA", team=team_of(ana, bob, cid), strategy=LEAST_LOADED)

    owners = [promote(LeadFactory()).owner for _ in range(4)]

    # Bob (1 open) first; then Bob and Cid have 2 each: a tie, taken in turn (Cid comes after
    # Bob); then Bob again (2 against 3 and 3); then all have 3 and Cid's turn comes first.
    assert owners == [bob, cid, bob, cid]
    assert handoff.open_loads([ana.pk, bob.pk, cid.pk]) == {ana.pk: 3, bob.pk: 3, cid.pk: 4}


def test_the_cap_skips_an_sdr_with_enough_open_leads_and_the_overflow_goes_to_the_pool(ana, bob):
    emea = rule("EMEA", team=team_of(ana, bob), cap=1)

    first, second, third = (promote(LeadFactory()) for _ in range(3))

    assert (first.owner, second.owner) == (ana, bob)
    assert (third.owner, third.status, third.rule) == (None, Status.POOL, emea)
    assert owner_of(third.lead) is None
    assert list(handoff.queue(bob, scope="pool")) == [third]

    # Ana's lead leaves sales: she is below the cap again and gets the next one.
    change_stage(Lead.objects.get(pk=first.lead_id), to_stage=Stage.DISQUALIFIED, reason="Student")
    assert promote(LeadFactory()).owner == ana


# --- Once per lead, and many at once ----------------------------------------------------------


def test_a_lead_with_an_open_handoff_does_not_get_a_second_one(ana, bob, manager):
    rule("EMEA", team=team_of(ana, bob))
    lead = LeadFactory()
    first = promote(lead)
    assert first.owner == ana

    # Handed to sales again while its handoff is open: by a second routing of the same lead...
    assert handoff.open_handoffs([lead.pk], reason="Again", now=timezone.now()) == []
    # ... and by a manager forcing it back to MQL after it was accepted.
    handoff.accept(first, by=ana)
    change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.MQL, by=manager, reason="Re-check", forced=True)

    assert Handoff.objects.filter(lead=lead).count() == 1
    assert Handoff.objects.get(lead=lead).owner == ana
    assert owner_of(lead) == ana
    assert len(lead_assigned_notes(ana)) == 1 and lead_assigned_notes(bob) == []


def test_a_recycled_lead_handed_over_again_gets_a_new_handoff_routed_anew(ana, bob):
    rule("EMEA", team=team_of(ana, bob))
    lead = LeadFactory()
    first = promote(lead)
    handoff.reject(first, by=ana, reason="Not ready to buy")

    second = promote(lead)

    assert second.pk != first.pk
    assert second.owner == bob  # round robin goes on
    assert Handoff.objects.filter(lead=lead).exclude(status=Status.CLOSED).get() == second


def test_a_bulk_promotion_routes_every_lead(ana, bob, cid):
    rule("DACH", position=1, countries=["DE", "AT", "CH"], team=team_of(ana, bob, cid))
    dach = [LeadFactory(country="DE") for _ in range(9)]
    elsewhere = [LeadFactory(country="US") for _ in range(3)]
    ids = [lead.pk for lead in dach + elsewhere]

    moved = change_stages(ids, from_stage=Stage.NEW, to_stage=Stage.MQL, reason="Score")

    assert sorted(moved) == sorted(ids)
    open_handoffs = Handoff.objects.exclude(status=Status.CLOSED)
    assert open_handoffs.count() == 12
    owners = dict(Lead.objects.filter(pk__in=ids).values_list("pk", "owner"))
    assert [owners[lead.pk] for lead in elsewhere] == [None] * 3
    dach_owners = [owners[lead.pk] for lead in dach]
    assert {pk: dach_owners.count(pk) for pk in set(dach_owners)} == {ana.pk: 3, bob.pk: 3, cid.pk: 3}
    assert dict(open_handoffs.filter(lead__in=dach).values_list("lead", "owner")) == {
        lead.pk: owners[lead.pk] for lead in dach
    }
    # Each SDR hears once about their three, not three times.
    for user in (ana, bob, cid):
        assert lead_assigned_notes(user) == [("3 new leads for you", "/leads/queue/")]
