"""Demo sales set-up: a team of the Sales users, two routing rules, and the demo's MQLs handed
to sales through them (their SLA clocks start now), so that a first run shows a working queue.
Leads sales accepted earlier in the demo history get their (accepted, worked) handoff."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from leadapp import roles
from leadapp.db import insert_rows
from leads import handoff
from leads.models import Activity, ActivityKind, Handoff, Lead, RoutingRule, Stage, Team

CHUNK = 5000
WORKED_STAGES = [Stage.SAL, Stage.SQL, Stage.OPPORTUNITY]


class Command(BaseCommand):
    help = "Add a demo sales team, routing rules and handoffs (only when there is no team yet)."

    def handle(self, *args, **options) -> None:
        if Team.objects.exists():
            self.stdout.write("Sales teams already there: no demo handoffs added.")
            return
        users = get_user_model().objects.filter(is_active=True)
        sdrs = list(users.filter(groups__name=roles.SALES).order_by("pk"))
        if not sdrs:
            self.stdout.write("No Sales users: no demo team (run create_demo_users first).")
            return
        now = timezone.now()
        with transaction.atomic():
            team = Team.objects.create(name="Sales", manager=users.filter(groups__name=roles.MANAGER).first())
            team.members.set(sdrs)
            RoutingRule.objects.create(
                name="Best fit (grade A)",
                position=1,
                grades=["A"],
                team=team,
                strategy=RoutingRule.Strategy.ROUND_ROBIN,
                cap=200,
                accept_within=2,
                touch_within=4,
                reassign_on_breach=True,
            )
            RoutingRule.objects.create(
                name="Everyone else",
                position=2,
                team=team,
                strategy=RoutingRule.Strategy.LEAST_LOADED,
                accept_within=4,
                touch_within=8,
            )
            worked = self._worked()
            opened = self._open_mqls(now)
        self.stdout.write(
            f"Demo sales team “{team}” ({len(sdrs)} SDRs), 2 routing rules, {opened} MQLs handed to sales, "
            f"{worked} earlier handoffs."
        )

    def _worked(self) -> int:
        """Accepted and worked handoffs for the leads the demo history took past MQL."""
        rows = [
            (pk, Handoff.Status.ACCEPTED, owner, "Demo history", at, at, at, at, "")
            for pk, owner, at in Lead.objects.filter(stage__in=WORKED_STAGES, owner__isnull=False)
            .exclude(stage_changed_at__isnull=True)
            .values_list("pk", "owner", "stage_changed_at")
            .iterator(chunk_size=CHUNK)
        ]
        columns = ["lead", "status", "owner", "reason", "handed_at", "assigned_at", "accepted_at"]
        insert_rows(Handoff, [*columns, "first_touch_at", "outcome"], rows, ignore_conflicts=True)
        return len(rows)

    def _open_mqls(self, now) -> int:
        raised = Activity.objects.filter(lead=OuterRef("pk"), kind=ActivityKind.DEMO_REQUESTED)
        mqls = Lead.objects.filter(stage=Stage.MQL).annotate(raised=Exists(raised))
        opened = 0
        for hand_raise in (True, False):
            ids = list(mqls.filter(Q(raised=hand_raise)).order_by("pk").values_list("pk", flat=True))
            reason = "Hand-raise: Demo requested" if hand_raise else "Score reached the MQL threshold"
            for start in range(0, len(ids), CHUNK):
                opened += len(
                    handoff.open_handoffs(
                        ids[start : start + CHUNK], reason=reason, hand_raise=hand_raise, now=now
                    )
                )
        return opened
