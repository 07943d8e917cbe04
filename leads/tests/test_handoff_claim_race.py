"""Two SDRs take the same pool lead at the same moment: exactly one gets it, the other is told
who was faster. Real threads, each with its own PostgreSQL connection, released together."""

import threading
from functools import partial

import pytest
from django.db import connection

from leadapp import roles
from leads import handoff
from leads.handoff import HandoffError
from leads.models import Handoff, Lead, RoutingRule, Stage, StageChange, Team
from leads.services import change_stage
from leads.tests.factories import LeadFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: concurrent connections and real row locks (SQLite serialises writers)",
    ),
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 5


@pytest.fixture
def sdrs(make_user):
    ana = make_user("ana", roles.SALES, first_name="Ana", last_name="Alvarez")
    bob = make_user("bob", roles.SALES, first_name="Bob", last_name="Brown")
    return ana, bob


def pool_handoff() -> Handoff:
    lead = LeadFactory()
    change_stage(lead, to_stage=Stage.MQL, reason="Score")  # no routing rule: the pool
    pooled = Handoff.objects.get(lead=lead)
    assert (pooled.status, pooled.owner) == (Handoff.Status.POOL, None)
    return pooled


def at_once(calls: dict) -> dict:
    """Run each call in a thread of its own (its own database connection), all released at
    the same moment; returns, per key, ("ok", result) or ("refused", message)."""
    barrier = threading.Barrier(len(calls))
    outcomes, crashes = {}, []

    def run(key, call):
        try:
            barrier.wait(timeout=20)
            outcomes[key] = ("ok", call())
        except HandoffError as exc:
            outcomes[key] = ("refused", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported below
            crashes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (a lock never released?)"
    assert not crashes, crashes
    return outcomes


def winner_and_loser(outcomes: dict, users: dict):
    oks = [key for key, (status, _) in outcomes.items() if status == "ok"]
    refused = [key for key, (status, _) in outcomes.items() if status == "refused"]
    assert (len(oks), len(refused)) == (1, 1), outcomes
    return users[oks[0]], outcomes[refused[0]][1]


def test_of_two_sdrs_claiming_the_same_pool_lead_at_once_exactly_one_gets_it(sdrs):
    ana, bob = sdrs
    users = {"ana": ana, "bob": bob}
    for round_ in range(ROUNDS):
        pooled = pool_handoff()
        # Start them in turn, so that neither always has a head start.
        order = ["ana", "bob"] if round_ % 2 == 0 else ["bob", "ana"]
        outcomes = at_once({key: partial(handoff.claim, pooled.pk, by=users[key]) for key in order})

        winner, message = winner_and_loser(outcomes, users)
        assert message == f"Too late: {winner.get_full_name()} claimed this lead first."
        claimed = Handoff.objects.get(pk=pooled.pk)
        assert (claimed.status, claimed.owner) == (Handoff.Status.ASSIGNED, winner)
        assert Lead.objects.get(pk=pooled.lead_id).owner == winner
        assert list(handoff.queue(winner, scope="pool")) == []

    assert Handoff.objects.filter(status=Handoff.Status.POOL).count() == 0
    assert Handoff.objects.filter(owner__in=[ana, bob]).count() == ROUNDS


def test_of_two_sdrs_accepting_the_same_pool_lead_at_once_one_makes_it_sal_the_other_is_refused(sdrs):
    ana, bob = sdrs
    users = {"ana": ana, "bob": bob}
    for round_ in range(3):
        pooled = pool_handoff()
        order = ["ana", "bob"] if round_ % 2 == 0 else ["bob", "ana"]
        outcomes = at_once({key: partial(handoff.accept, pooled.pk, by=users[key]) for key in order})

        winner, message = winner_and_loser(outcomes, users)
        assert message in (
            "This lead belongs to a colleague.",
            f"Too late: {winner.get_full_name()} claimed this lead first.",
        )
        lead = Lead.objects.get(pk=pooled.lead_id)
        assert (lead.stage, lead.owner) == (Stage.SAL, winner)
        accepted = Handoff.objects.get(pk=pooled.pk)
        assert (accepted.status, accepted.owner) == (Handoff.Status.ACCEPTED, winner)
        to_sal = StageChange.objects.filter(lead=lead, to_stage=Stage.SAL)
        assert [change.changed_by for change in to_sal] == [winner]


def test_leads_routed_at_the_same_moment_are_shared_fairly_and_the_cap_holds(sdrs):
    ana, bob = sdrs
    team = Team.objects.create(name="EMEA")
    team.members.set([ana, bob])
    RoutingRule.objects.create(name="EMEA", team=team, cap=1)
    leads = [LeadFactory() for _ in range(3)]

    outcomes = at_once(
        {lead.pk: partial(change_stage, lead, to_stage=Stage.MQL, reason="Score") for lead in leads}
    )

    assert [status for status, _ in outcomes.values()] == ["ok"] * 3
    owned = Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner", flat=True)
    owners = sorted(owner or 0 for owner in owned)
    assert owners == [0, ana.pk, bob.pk]  # one each, the third waits in the pool
    assert Handoff.objects.filter(status=Handoff.Status.POOL).count() == 1
