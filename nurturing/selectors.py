"""Read-side queries of the campaign pages, the lead page's campaign panel and the campaign
report. Each is a fixed number of queries, however many campaigns, steps or leads."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from leads.models import Lead, SavedSegment, Stage

from .models import Campaign, Enrollment, Message, Step, Suppression


def _count_per_campaign(queryset: QuerySet) -> Coalesce:
    counted = queryset.filter(campaign=OuterRef("pk")).order_by().values("campaign").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n"), output_field=IntegerField()), Value(0))


def campaign_list() -> QuerySet[Campaign]:
    """Every campaign with its active enrollments and sent e-mails: one query (a count per
    campaign as a subquery, not a join of enrollments and messages)."""
    return Campaign.objects.annotate(
        active_count=_count_per_campaign(Enrollment.objects.filter(status=Enrollment.Status.ACTIVE)),
        sent_count=_count_per_campaign(
            Message.objects.filter(kind=Message.Kind.MARKETING, status=Message.Status.SENT)
        ),
    ).order_by("-created_at", "-id")


def campaign_steps(campaign: Campaign) -> list[Step]:
    """The steps the campaign runs, in order (removed ones are left out)."""
    return list(
        campaign.steps.filter(removed=False)
        .select_related("template", "ref_step__template", "yes_step", "no_step", "target")
        .order_by("position", "pk")
    )


@dataclass
class EnrollmentCounts:
    by_status: list[tuple[str, str, int]]  # (status, label, count), every status
    by_exit_reason: list[tuple[str, str, int]]  # (reason, label, count), those that happened
    total: int


def enrollment_counts(campaign: Campaign) -> EnrollmentCounts:
    rows = (
        Enrollment.objects.filter(campaign=campaign)
        .order_by()
        .values_list("status", "exit_reason")
        .annotate(n=Count("pk"))
    )
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for status, reason, n in rows:
        statuses[status] = statuses.get(status, 0) + n
        if reason:
            reasons[reason] = reasons.get(reason, 0) + n
    return EnrollmentCounts(
        by_status=[(value, label, statuses.get(value, 0)) for value, label in Enrollment.Status.choices],
        by_exit_reason=[
            (value, label, reasons[value])
            for value, label in Enrollment.ExitReason.choices
            if value in reasons
        ],
        total=sum(statuses.values()),
    )


# What ``Step.describe_step`` reads of an enrollment's step, fetched with it.
STEP_DESCRIBED = ("step__template", "step__ref_step__template", "step__target")


def latest_enrollments(campaign: Campaign, size: int = 25) -> list[Enrollment]:
    return list(
        campaign.enrollments.select_related("lead", "enrolled_by", *STEP_DESCRIBED).order_by(
            "-enrolled_at", "-id"
        )[:size]
    )


def lead_enrollments(lead: Lead, size: int = 50) -> list[Enrollment]:
    return list(
        lead.enrollments.select_related("campaign", *STEP_DESCRIBED).order_by("-enrolled_at", "-id")[:size]
    )


# --- The campaign report -----------------------------------------------------------------


@dataclass
class StepReport:
    step: Step
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    converted: int = 0

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.sent if self.sent else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.sent if self.sent else None

    @property
    def open_percent(self) -> str:
        return percent(self.open_rate)

    @property
    def click_percent(self) -> str:
        return percent(self.click_rate)


def campaign_report(campaign: Campaign) -> list[StepReport]:
    """Per e-mail step of the campaign (in order; a removed one only if it sent something):
    e-mails sent, opened, clicked, unsubscribed from and bounced, and the leads messaged at
    that step that became customers after the e-mail was sent. One grouped query over the
    campaign's outbox, plus one for its steps."""
    sent = Q(status=Message.Status.SENT)
    numbers = (
        Message.objects.filter(campaign=campaign, kind=Message.Kind.MARKETING, step__isnull=False)
        .order_by()
        .values("step_id")
        .annotate(
            sent=Count("pk", filter=sent),
            opened=Count("pk", filter=sent & Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=sent & Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=sent & Q(unsubscribed_at__isnull=False)),
            bounced=Count("pk", filter=sent & Q(bounced_at__isnull=False)),
            converted=Count(
                "lead",
                distinct=True,
                filter=sent & Q(lead__stage=Stage.CUSTOMER, lead__stage_changed_at__gt=F("sent_at")),
            ),
        )
    )
    by_step = {row.pop("step_id"): row for row in numbers}
    steps = list(campaign.steps.select_related("template").order_by("position", "pk"))
    live = [step for step in steps if not step.removed]
    for number, step in enumerate(live, start=1):
        step.number = number  # as on the campaign page
    return [
        StepReport(step=step, **by_step.get(step.pk, {}))
        for step in steps
        if step.kind == Step.Kind.SEND_EMAIL and (not step.removed or step.pk in by_step)
    ]


REPORT_COLUMNS = [
    "step",
    "e-mail",
    "sent",
    "opened",
    "clicked",
    "unsubscribed",
    "bounced",
    "open rate %",
    "click rate %",
    "later converted",
]


def percent(rate: float | None) -> str:
    return "" if rate is None else f"{100 * rate:.1f}"


def report_rows(report: list[StepReport]) -> list[list]:
    """The report as the CSV's rows (under ``REPORT_COLUMNS``)."""
    return [
        [
            "removed" if row.step.removed else row.step.number,
            str(row.step.template or ""),
            row.sent,
            row.opened,
            row.clicked,
            row.unsubscribed,
            row.bounced,
            percent(row.open_rate),
            percent(row.click_rate),
            row.converted,
        ]
        for row in report
    ]


def audience_leads(segment: SavedSegment) -> QuerySet[Lead]:
    """The leads of a segment that may be in an ad audience: with marketing consent and not
    on the suppression list."""
    suppressed = Suppression.objects.filter(email=OuterRef("email"))
    return segment.leads().filter(marketing_consent=True).filter(~Exists(suppressed))
