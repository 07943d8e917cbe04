"""Nurturing: e-mail templates, campaigns (ordered steps), enrollments of leads in them, the
outbox of messages, and the suppression list.

A campaign is a list of steps. An enrollment points at the step it runs next and the time it
is due; the dispatcher (``nurturing.dispatch``) moves due enrollments along set-based, and
every e-mail is an outbox ``Message`` row, written before it is sent, with a unique key per
enrollment step, so nothing is sent twice or lost (see ``nurturing.sending``).
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from leads.models import ActivityKind, CaptureForm, Lead, SavedSegment, Stage
from scoring.models import Condition, Grade


class EmailTemplate(models.Model):
    name = models.CharField(max_length=150, help_text="For the team; leads see the subject.")
    subject = models.CharField(max_length=300)
    preheader = models.CharField(
        max_length=200, blank=True, help_text="The preview line many inboxes show after the subject."
    )
    html_body = models.TextField(
        verbose_name="HTML body",
        help_text='Merge fields: {{ first_name or "there" }}. Personalized blocks: '
        '{% if industry == "software" %}…{% endif %}.',
    )
    text_body = models.TextField(
        blank=True, verbose_name="plain-text part", help_text="Blank: generated from the HTML body."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("nurturing:template_edit", args=[self.pk])

    def clean(self):
        from .rendering import TemplateError, check_template

        errors = {}
        for name in ("subject", "preheader", "html_body", "text_body"):
            try:
                check_template(getattr(self, name))
            except TemplateError as error:
                errors[name] = str(error)
        if errors:
            raise ValidationError(errors)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "By hand, in bulk from the lead list, or through the API"
        FORM = "form", "A form is submitted"
        GRADE = "grade", "A lead reaches a grade"
        STAGE = "stage", "A lead reaches a stage"
        SEGMENT = "segment", "A lead matches a saved segment"

    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)

    trigger = models.CharField(max_length=10, choices=Trigger, default=Trigger.MANUAL)
    trigger_form = models.ForeignKey(
        CaptureForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="form"
    )
    trigger_grade = models.CharField(
        max_length=1, choices=Grade, blank=True, verbose_name="grade", help_text="This grade or better."
    )
    trigger_stage = models.CharField(max_length=20, choices=Stage, blank=True, verbose_name="stage")
    trigger_segment = models.ForeignKey(
        SavedSegment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="segment",
    )
    reenroll = models.BooleanField(
        default=False,
        verbose_name="Allow re-enrollment",
        help_text="A lead that finished the campaign may go through it again (never twice at once).",
    )
    goal_activity = models.CharField(
        max_length=30,
        choices=ActivityKind,
        blank=True,
        help_text="The campaign's goal: a lead that does this leaves the campaign.",
    )

    from_name = models.CharField(max_length=100, blank=True, help_text="Blank: the site default.")
    from_email = models.EmailField(blank=True, help_text="Blank: the site default.")
    reply_to = models.EmailField(blank=True)

    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("nurturing:campaign", args=[self.pk])

    def clean(self):
        needs = {
            self.Trigger.FORM: ("trigger_form", self.trigger_form_id),
            self.Trigger.GRADE: ("trigger_grade", self.trigger_grade),
            self.Trigger.STAGE: ("trigger_stage", self.trigger_stage),
            self.Trigger.SEGMENT: ("trigger_segment", self.trigger_segment_id),
        }
        if self.trigger in needs:
            field, value = needs[self.trigger]
            if not value:
                raise ValidationError({field: "Choose what starts the campaign."})

    @property
    def sender(self) -> str:
        from email.utils import formataddr, parseaddr

        default_name, default_email = parseaddr(settings.DEFAULT_FROM_EMAIL)
        return formataddr((self.from_name or default_name, self.from_email or default_email))

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.PAUSED)


class BranchOn(models.TextChoices):
    SCORE = "score", "Score is at least"
    GRADE = "grade", "Grade is one of"
    STAGE = "stage", "Stage is one of"
    ATTRIBUTE = "attribute", "A lead field or attribute"
    OPENED = "opened", "Opened an earlier e-mail of this campaign"
    CLICKED = "clicked", "Clicked in an earlier e-mail of this campaign"
    ACTIVITY = "activity", "Did an activity since enrolling"


# Lead columns a "change a field" step may set (the stage goes through the lifecycle service).
SETTABLE_FIELDS = ["stage", "source", "industry", "company_size", "country", "job_title", "marketing_consent"]


class Step(Condition):
    """One step of a campaign. Which fields matter depends on ``kind``; ``clean`` says what
    is missing. Steps of a live campaign are never deleted, only marked removed, so that an
    enrollment waiting on one still knows where it is."""

    class Kind(models.TextChoices):
        SEND_EMAIL = "send_email", "Send an e-mail"
        WAIT = "wait", "Wait"
        BRANCH = "branch", "Branch on a condition"
        SET_FIELD = "set_field", "Change a field or the stage"
        NOTIFY_OWNER = "notify_owner", "Notify the lead's owner"
        MOVE_TO_CAMPAIGN = "move", "Move to another campaign"
        END = "end", "End"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=15, choices=Kind, default=Kind.SEND_EMAIL)
    removed = models.BooleanField(default=False, help_text="Removed from a live campaign.")

    # send_email
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    # wait: a delay, then (optionally) until the next time inside a weekday/hour window
    wait_days = models.PositiveIntegerField(default=0)
    wait_hours = models.PositiveIntegerField(default=0)
    wait_weekdays = models.CharField(
        max_length=7, blank=True, help_text="Days allowed, 0=Monday … 6=Sunday, e.g. 01234. Blank: any day."
    )
    wait_from_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0–23, site time zone."
    )
    wait_to_hour = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–24, site time zone.")
    # branch: the condition, and where each answer goes (blank: the next step)
    branch_on = models.CharField(max_length=10, choices=BranchOn, blank=True)
    field = models.CharField(max_length=100, blank=True, help_text="Lead field or custom.<attribute>.")
    ref_step = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="e-mail step"
    )
    activity_kind = models.CharField(max_length=30, choices=ActivityKind, blank=True)
    yes_step = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="if yes, go to",
    )
    no_step = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="if no, go to",
    )
    # set_field (uses ``field`` and ``value``); notify_owner (``note``); move (``target``)
    note = models.CharField(max_length=500, blank=True)
    target = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="campaign"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.describe_step()}"

    def describe_step(self) -> str:
        if self.kind == self.Kind.SEND_EMAIL:
            return f"Send “{self.template}”" if self.template_id else "Send an e-mail"
        if self.kind == self.Kind.WAIT:
            parts = []
            if self.wait_days or self.wait_hours:
                parts.append(f"{self.wait_days} d {self.wait_hours} h")
            if self.wait_weekdays or self.wait_from_hour is not None:
                days = "".join("MTWTFSS"[int(d)] for d in self.wait_weekdays) or "any day"
                hours = f"{self.wait_from_hour or 0}:00–{self.wait_to_hour or 24}:00"
                parts.append(f"then until {days} {hours}")
            return "Wait " + ", ".join(parts or ["0 h"])
        if self.kind == self.Kind.BRANCH:
            return f"If {self.describe_condition()}"
        if self.kind == self.Kind.SET_FIELD:
            return f"Set {self.field} to “{self.value}”"
        if self.kind == self.Kind.MOVE_TO_CAMPAIGN:
            return f"Move to “{self.target}”"
        return self.get_kind_display()

    def describe_condition(self) -> str:
        if self.branch_on == BranchOn.SCORE:
            return f"score ≥ {self.value}"
        if self.branch_on in (BranchOn.GRADE, BranchOn.STAGE):
            return f"{self.branch_on} is {self.value}"
        if self.branch_on == BranchOn.ATTRIBUTE:
            return f"{self.field} {self.describe()}"
        if self.branch_on in (BranchOn.OPENED, BranchOn.CLICKED):
            return f"{self.branch_on} “{self.ref_step.template if self.ref_step_id else '?'}”"
        if self.branch_on == BranchOn.ACTIVITY:
            return f"did “{self.get_activity_kind_display()}”"
        return "?"

    def clean(self):
        errors = {}
        if self.kind == self.Kind.SEND_EMAIL and not self.template_id:
            errors["template"] = "Choose the e-mail to send."
        elif self.kind == self.Kind.WAIT:
            if self.wait_from_hour is not None and not 0 <= self.wait_from_hour <= 23:
                errors["wait_from_hour"] = "An hour from 0 to 23."
            if self.wait_to_hour is not None and not 1 <= self.wait_to_hour <= 24:
                errors["wait_to_hour"] = "An hour from 1 to 24."
            if self.wait_from_hour is not None and self.wait_from_hour == self.wait_to_hour:
                errors["wait_to_hour"] = (
                    "The window is empty: give different hours (e.g. 18 to 9 spans the night)."
                )
            if set(self.wait_weekdays) - set("0123456"):
                errors["wait_weekdays"] = "Digits 0 (Monday) to 6 (Sunday)."
        elif self.kind == self.Kind.BRANCH:
            errors.update(self._clean_branch())
        elif self.kind == self.Kind.SET_FIELD:
            if self.field not in SETTABLE_FIELDS:
                errors["field"] = f"One of: {', '.join(SETTABLE_FIELDS)}."
            elif self.field == "stage" and self.value not in Stage.values:
                errors["value"] = f"A stage: {', '.join(Stage.values)}."
        elif self.kind == self.Kind.MOVE_TO_CAMPAIGN:
            if not self.target_id:
                errors["target"] = "Choose the campaign."
            elif self.target_id == self.campaign_id:
                errors["target"] = "Choose another campaign."
        if errors:
            raise ValidationError(errors)

    def _clean_branch(self) -> dict:
        errors = {}
        if not self.branch_on:
            return {"branch_on": "Choose what the branch asks."}
        if self.branch_on == BranchOn.SCORE:
            try:
                int(self.value)
            except ValueError:
                errors["value"] = "Enter a whole number of points."
        elif self.branch_on == BranchOn.GRADE:
            if not self.values or set(v.upper() for v in self.values) - set(Grade.values):
                errors["value"] = "Grades, e.g. A, B."
        elif self.branch_on == BranchOn.STAGE:
            if not self.values or set(self.values) - set(Stage.values):
                errors["value"] = f"Stages, e.g. mql (of {', '.join(Stage.values)})."
        elif self.branch_on == BranchOn.ATTRIBUTE:
            from scoring.models import FIT_FIELDS, attribute_name

            name = self.field.removeprefix("custom.")
            try:
                if self.field.startswith("custom."):
                    attribute_name(name)
                elif self.field not in FIT_FIELDS:
                    raise ValueError
            except ValueError:
                errors["field"] = "A lead field or custom.<attribute>."
            errors.update(self.clean_condition(self.field or "the field"))
        elif self.branch_on in (BranchOn.OPENED, BranchOn.CLICKED):
            if not self.ref_step_id or self.ref_step.kind != self.Kind.SEND_EMAIL:
                errors["ref_step"] = "Choose an e-mail step of this campaign."
        elif self.branch_on == BranchOn.ACTIVITY and not self.activity_kind:
            errors["activity_kind"] = "Choose the activity."
        return errors


class Enrollment(models.Model):
    """A lead going through a campaign: the step it runs next and when."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        EXITED = "exited", "Exited"

    class ExitReason(models.TextChoices):
        CONVERTED = "converted", "Converted"
        ACCEPTED = "accepted", "Accepted by sales"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced or complained"
        GOAL = "goal", "Reached the campaign's goal"
        MOVED = "moved", "Moved to another campaign"
        REMOVED = "removed", "Removed by hand"
        CAMPAIGN_ENDED = "campaign_ended", "The campaign was archived"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=10, choices=Status, default=Status.ACTIVE)
    step = models.ForeignKey(
        Step,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The step it runs next.",
    )
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the next step runs.")
    enrolled_at = models.DateTimeField(db_default=models.functions.Now())
    enrolled_via = models.CharField(max_length=20, default="manual")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=15, choices=ExitReason, blank=True)
    error = models.CharField(
        max_length=500, blank=True, help_text="Why its step could not run (it is tried again later)."
    )

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            # Never in the same campaign twice at once (the database says so, not a check).
            models.UniqueConstraint(
                fields=["campaign", "lead"], condition=Q(status="active"), name="enrollment_one_active"
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="active"), name="enrollment_due_idx"),
            models.Index(fields=["lead", "campaign"], name="enrollment_lead_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.campaign_id} ({self.status})"


class Message(models.Model):
    """One e-mail in the outbox: written before it is sent, sent at most once (``key``)."""

    class Kind(models.TextChoices):
        MARKETING = "marketing", "Campaign e-mail"
        NOTIFICATION = "notification", "Notification to a user"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent (no consent, suppressed or left the campaign)"

    key = models.CharField(max_length=100, unique=True, help_text="One message per enrollment step.")
    kind = models.CharField(max_length=12, choices=Kind, default=Kind.MARKETING)
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="For tracking links.")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    to_email = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    message_id = models.CharField(max_length=200, blank=True, help_text="The Message-ID header.")

    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(db_default=models.functions.Now())
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to a worker.")
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="A worker started sending.")
    sent_at = models.DateTimeField(null=True, blank=True)

    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "enqueued_at"], name="message_status_idx"),
            models.Index(fields=["step", "status"], name="message_step_idx"),
            models.Index(fields=["message_id"], name="message_message_id_idx"),
            # Open and click rates of the e-mails sent in a period (the KPI dashboard).
            models.Index(
                fields=["sent_at"], condition=models.Q(sent_at__isnull=False), name="message_sent_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject or self.key} → {self.to_email}"

    def get_absolute_url(self) -> str:
        return reverse("nurturing:message", args=[self.pk])


class Suppression(models.Model):
    """An address LeadApp never sends marketing e-mail to."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained (marked as spam)"
        MANUAL = "manual", "Added by hand"

    email = models.EmailField(max_length=254, unique=True)
    reason = models.CharField(max_length=15, choices=Reason)
    detail = models.CharField(max_length=500, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display().lower()})"
