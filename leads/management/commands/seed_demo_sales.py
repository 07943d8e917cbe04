"""Demo sales set-up, so that a first run shows a working queue and a full dashboard:

- a team of the Sales users and two routing rules;
- the demo's MQLs handed to sales through them (their SLA clocks start now);
- for the leads the demo history took past MQL: their handoff (assigned, accepted, touched a
  few hours later), an opportunity (amount by company size; won for customers, lost for lost
  ones) — so the funnel, the sales cycle and ROI have figures;
- a year of marketing costs for the paid sources.

Set-based throughout (one statement per table), deterministic (amounts and delays derive from
the lead id). Runs only when there is no team yet.
"""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from leadapp import roles
from leadapp.db import insert_rows
from leads import handoff, reports
from leads.business_hours import add_business_hours
from leads.models import (
    Activity,
    ActivityKind,
    Handoff,
    Lead,
    LeadFunnel,
    LostReason,
    MarketingCost,
    Opportunity,
    RoutingRule,
    Source,
    Stage,
    Team,
)

CHUNK = 5000
SIZE_AMOUNT = {"1-10": 2_000, "11-50": 6_000, "51-200": 15_000, "201-1000": 40_000, "1001+": 90_000}
MONTHLY_COST = {
    Source.PAID_SEARCH: 9_000,
    Source.PAID_SOCIAL: 6_000,
    Source.EVENT: 4_000,
    Source.PARTNER: 2_500,
}


class Command(BaseCommand):
    help = "Add a demo sales team, routing rules, handoffs, opportunities and costs (once)."

    def handle(self, *args, **options) -> None:
        if Team.objects.exists():
            self.stdout.write("Sales teams already there: no demo sales data added.")
            return
        users = get_user_model().objects.filter(is_active=True)
        sdrs = list(users.filter(groups__name=roles.SALES).order_by("pk"))
        if not sdrs:
            self.stdout.write("No Sales users: no demo team (run create_demo_users first).")
            return
        now = timezone.now()
        reports.refresh_funnel()  # the milestones below are read from it
        with transaction.atomic():
            team = Team.objects.create(name="Sales", manager=users.filter(groups__name=roles.MANAGER).first())
            team.members.set(sdrs)
            best = RoutingRule.objects.create(
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
            worked = self._worked(best, team)
            opportunities = self._opportunities()
            costs = self._costs(now)
            opened = self._open_mqls(now)
        reports.refresh_funnel()
        self.stdout.write(
            f"Demo sales: team “{team}” ({len(sdrs)} SDRs), 2 routing rules, {opened} MQLs handed over now, "
            f"{worked} earlier handoffs, {opportunities} opportunities, {costs} monthly costs."
        )

    def _worked(self, rule: RoutingRule, team: Team) -> int:
        """The handoffs of the leads the demo history took to SAL or beyond: assigned when they
        became MQLs, accepted when they became SAL, first touched a few hours later."""
        from scoring.models import LeadScore

        grades = dict(LeadScore.objects.values_list("lead", "grade"))
        rows = []
        milestones = LeadFunnel.objects.filter(sal_at__isnull=False, lead__owner__isnull=False)
        for pk, owner, mql_at, sal_at, closed in milestones.values_list(
            "lead", "lead__owner", "mql_at", "sal_at", "lead__stage"
        ).iterator(chunk_size=CHUNK):
            handed = mql_at or sal_at
            touch = sal_at + datetime.timedelta(hours=1 + pk % 7)
            accept_due = add_business_hours(handed, rule.accept_within)
            touch_due = add_business_hours(handed, rule.touch_within)
            done = closed in (Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED, Stage.RECYCLED)
            status = Handoff.Status.CLOSED if done else Handoff.Status.ACCEPTED
            rows.append(
                (
                    pk,
                    status,
                    owner,
                    team.pk,
                    "Demo history",
                    grades.get(pk, ""),
                    handed,
                    handed,
                    sal_at,
                    touch,
                )
                + (accept_due, touch_due, sal_at if done else None, closed if done else "")
            )
        columns = [
            "lead",
            "status",
            "owner",
            "team",
            "reason",
            "grade",
            "handed_at",
            "assigned_at",
            "accepted_at",
        ]
        columns += ["first_touch_at", "accept_due_at", "touch_due_at", "closed_at", "outcome"]
        insert_rows(Handoff, columns, rows, ignore_conflicts=True)
        return len(rows)

    def _opportunities(self) -> int:
        reason = LostReason.objects.filter(active=True).order_by("position").first()
        rows = []
        reached = LeadFunnel.objects.filter(opportunity_at__isnull=False)
        for pk, size, opened, won_at, lost_at in reached.values_list(
            "lead", "lead__company_size", "opportunity_at", "customer_at", "lost_at"
        ).iterator(chunk_size=CHUNK):
            amount = Decimal(SIZE_AMOUNT.get(size, 5_000) * (80 + pk * 7919 % 41)) / 100
            status, won_value, won_date, lost, closed = Opportunity.Status.OPEN, None, None, None, None
            if won_at:
                status, won_value, won_date, closed = Opportunity.Status.WON, amount, won_at.date(), won_at
            elif lost_at and reason:
                status, lost, closed = Opportunity.Status.LOST, reason.pk, lost_at
            expected = (opened + datetime.timedelta(days=30)).date()
            rows.append((pk, amount, "EUR", expected, status, opened, won_value, won_date, lost, "", closed))
        columns = ["lead", "amount", "currency", "expected_close_date", "status", "opened_at", "won_value"]
        columns += ["won_date", "lost_reason", "lost_note", "closed_at"]
        insert_rows(Opportunity, columns, rows, ignore_conflicts=True)
        return len(rows)

    def _costs(self, now) -> int:
        month = timezone.localtime(now).date().replace(day=1)
        rows = []
        for _ in range(12):
            for source, amount in MONTHLY_COST.items():
                rows.append((month, source, None, Decimal(amount), "Demo"))
            month = (month - datetime.timedelta(days=1)).replace(day=1)
        insert_rows(
            MarketingCost, ["month", "source", "campaign", "amount", "note"], rows, ignore_conflicts=True
        )
        return len(rows)

    def _open_mqls(self, now) -> int:
        raised = Activity.objects.filter(lead=OuterRef("pk"), kind=ActivityKind.DEMO_REQUESTED)
        mqls = Lead.objects.filter(stage=Stage.MQL).annotate(raised=Exists(raised))
        opened = 0
        for hand_raise in (True, False):
            ids = list(mqls.filter(raised=hand_raise).order_by("pk").values_list("pk", flat=True))
            reason = "Hand-raise: Demo requested" if hand_raise else "Score reached the MQL threshold"
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                opened += len(handoff.open_handoffs(part, reason=reason, hand_raise=hand_raise, now=now))
        return opened
