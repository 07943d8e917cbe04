"""Scoring rules (data a marketer edits), the scores they produce and the history of both.

A rule set is a versioned document: a *draft* is edited, *published* once (exactly one
rule set is published at a time), then *archived* when another replaces it. Scores are
computed by ``scoring.engine`` from the published rule set.
"""

import re

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.text import capfirst

from leads.models import ActivityKind, Lead


class Drive(models.TextChoices):
    POINTS = "points", "Points"
    PREDICTIVE = "predictive", "Predictive score"
    BLEND = "blend", "A blend of both"


class RuleSet(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=100, default="Lead scoring")
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    version = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="Set when published."
    )
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    # Temperature comes from engagement, the fit grade from fit; MQL from the total.
    warm_threshold = models.IntegerField(default=20, help_text="Engagement points from which a lead is warm.")
    hot_threshold = models.IntegerField(default=50, help_text="Engagement points from which a lead is hot.")
    grade_a_threshold = models.IntegerField(default=40, help_text="Fit points for grade A.")
    grade_b_threshold = models.IntegerField(default=25, help_text="Fit points for grade B.")
    grade_c_threshold = models.IntegerField(default=10, help_text="Fit points for grade C (below: D).")
    mql_threshold = models.IntegerField(
        default=70, help_text="Total points at which a new lead becomes a marketing-qualified lead (MQL)."
    )
    half_life_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=30,
        help_text="Engagement points lose half their value after this many days. Blank: no decay.",
    )
    inactivity_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="After this many days without activity, add the inactivity points."
    )
    inactivity_points = models.IntegerField(default=0, help_text="Usually negative, e.g. -10.")

    # What drives the grade (and so the SDR queue's order and routing by grade): the fit
    # points, the predictive model's chance of conversion, or a blend of the two.
    drive = models.CharField(
        max_length=10,
        choices=Drive,
        default=Drive.POINTS,
        verbose_name="grades come from",
        help_text="Points: the fit rules' points. Predictive: the model's chance of conversion. "
        "Blend: a weighted mix of the two.",
    )
    blend_weight = models.PositiveSmallIntegerField(
        default=50,
        validators=[MaxValueValidator(100)],
        verbose_name="weight of the predictive score (%)",
        help_text="With a blend: 0 is the points alone, 100 the predictive score alone.",
    )
    chance_grade_a = models.PositiveSmallIntegerField(
        default=50,
        validators=[MaxValueValidator(100)],
        verbose_name="grade A from (%)",
        help_text="Predictive or blend: the chance (0–100) from which a lead is grade A.",
    )
    chance_grade_b = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(100)], verbose_name="grade B from (%)"
    )
    chance_grade_c = models.PositiveSmallIntegerField(
        default=15, validators=[MaxValueValidator(100)], verbose_name="grade C from (%)"
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="published"), name="one_published_rule_set"
            ),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="draft"), name="one_draft_rule_set"
            ),
        ]

    def __str__(self) -> str:
        if self.version:
            return f"{self.name} v{self.version}"
        return f"{self.name} ({self.get_status_display().lower()})"

    def clean(self):
        errors = {}
        if self.hot_threshold <= self.warm_threshold:
            errors["hot_threshold"] = "Hot must be above warm."
        if not self.grade_a_threshold > self.grade_b_threshold > self.grade_c_threshold:
            errors["grade_b_threshold"] = "Grade thresholds must fall from A to C (A > B > C)."
        if self.drive != Drive.POINTS and not self.chance_grade_a > self.chance_grade_b > self.chance_grade_c:
            errors["chance_grade_b"] = "Grade chances must fall from A to C (A > B > C)."
        if self.inactivity_days and not self.inactivity_points:
            errors["inactivity_points"] = "Give the points to add after the days without activity."
        if errors:
            raise ValidationError(errors)

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def grade_for(self, fit: float) -> str:
        for grade, threshold in (("A", self.grade_a_threshold), ("B", self.grade_b_threshold)):
            if fit >= threshold:
                return grade
        return "C" if fit >= self.grade_c_threshold else "D"

    def temperature_for(self, engagement: float) -> int:
        if engagement >= self.hot_threshold:
            return Temperature.HOT
        return Temperature.WARM if engagement >= self.warm_threshold else Temperature.COLD


ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(_[A-Za-z0-9-]+)*$")


def attribute_name(name: str) -> str:
    """``name`` if it may name a custom attribute or an activity property (letters, digits,
    - and single _; never ``__``, which the ORM would read as a nested lookup)."""
    if not ATTRIBUTE_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid attribute name.")
    return name


class Operator(models.TextChoices):
    EQUALS = "equals", "equals"
    ONE_OF = "one_of", "is one of"
    CONTAINS = "contains", "contains"
    STARTS_WITH = "starts_with", "starts with"
    ENDS_WITH = "ends_with", "ends with"
    IS_SET = "is_set", "is set"
    IN_RANGE = "in_range", "is a number in range"


class Condition(models.Model):
    """What a fit rule asks of a lead field, or an engagement rule of an activity property.
    Text comparisons ignore case; ``one of``, ``contains``, ``starts with`` and ``ends with``
    take a comma-separated list of alternatives; ``in range`` takes ``value`` as the minimum
    and ``value_max`` as the maximum (either may be blank)."""

    operator = models.CharField(max_length=12, choices=Operator, default=Operator.EQUALS)
    value = models.CharField(max_length=500, blank=True)
    value_max = models.CharField(max_length=50, blank=True, verbose_name="maximum")

    class Meta:
        abstract = True

    def clean_condition(self, subject: str) -> dict:
        """Field errors for the operand (``subject`` names what the condition reads)."""
        errors = {}
        if self.operator == Operator.IN_RANGE:
            for name in ("value", "value_max"):
                raw = getattr(self, name).strip()
                if raw:
                    try:
                        float(raw)
                    except ValueError:
                        errors[name] = "Enter a number."
            if not errors and not (self.value.strip() or self.value_max.strip()):
                errors["value"] = "Enter a minimum, a maximum or both."
        elif self.operator != Operator.IS_SET and not self.value.strip():
            errors["value"] = f"Enter the value {subject} is compared with."
        return errors

    @property
    def values(self) -> list[str]:
        return [v.strip().lower() for v in self.value.split(",") if v.strip()]

    def describe(self) -> str:
        if self.operator == Operator.IS_SET:
            return "is set"
        if self.operator == Operator.IN_RANGE:
            return f"in {self.value or '−∞'} … {self.value_max or '∞'}"
        return f"{self.get_operator_display()} “{self.value}”"


class FitGroup(models.Model):
    """Fit rules in one group add up to at most ``max_points`` (when given)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="fit_groups")
    name = models.CharField(max_length=100)
    max_points = models.IntegerField(null=True, blank=True, help_text="Blank: no maximum.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


# Lead columns a fit rule may read; anything else is ``custom.<attribute>``.
FIT_FIELDS = [
    "email",
    "job_title",
    "company_name",
    "company_size",
    "industry",
    "country",
    "website",
    "phone",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "first_name",
    "last_name",
]


class FitRule(Condition):
    """Explicit scoring: points for what we know about the lead."""

    group = models.ForeignKey(FitGroup, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(
        max_length=80,
        help_text="A lead field, or custom.<name> for a custom attribute from a form or import.",
    )
    points = models.IntegerField(help_text="Negative for leads you do not want (students, competitors).")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.field_label} {self.describe()}: {self.points:+d}"

    @property
    def field_label(self) -> str:
        if self.field.startswith("custom."):
            return self.field
        try:
            return capfirst(Lead._meta.get_field(self.field).verbose_name)
        except FieldDoesNotExist:
            return self.field

    def clean(self):
        errors = self.clean_condition("the field")
        if self.field.startswith("custom."):
            if not ATTRIBUTE_NAME.match(self.field.removeprefix("custom.")):
                errors["field"] = (
                    "A custom attribute name starts with a letter and has letters, digits, - and _ only."
                )
        elif self.field not in FIT_FIELDS:
            errors["field"] = "Choose a lead field or custom.<attribute>."
        if errors:
            raise ValidationError(errors)


class EngagementRule(Condition):
    """Implicit scoring: points for each activity of a kind (and, optionally, whose property
    matches), capped, windowed and decaying with the rule set's half-life."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="engagement_rules")
    name = models.CharField(max_length=100)
    activity_kind = models.CharField(max_length=30, choices=ActivityKind)
    property_name = models.CharField(
        max_length=60, blank=True, help_text="Blank: every activity of the kind counts. E.g. url, asset."
    )
    points = models.IntegerField(help_text="Per occurrence.")
    max_occurrences = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only the most recent N occurrences count."
    )
    max_points = models.PositiveIntegerField(
        null=True, blank=True, help_text="The rule adds (or takes) at most this many points."
    )
    window_days = models.PositiveIntegerField(null=True, blank=True, help_text="Only the last N days count.")
    decays = models.BooleanField(default=True, help_text="Points lose value with the rule set's half-life.")
    hand_raise = models.BooleanField(
        default=False,
        verbose_name="hand-raise",
        help_text="The lead asked for sales (a demo request, a contact-sales form): it becomes an MQL "
        "at once, whatever its score.",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        if self.property_name:
            errors = self.clean_condition("the property")
            if not ATTRIBUTE_NAME.match(self.property_name):
                errors["property_name"] = (
                    "A property name starts with a letter and has letters, digits, - and _ only."
                )
        if self.activity_kind == ActivityKind.STAGE_CHANGED:
            errors["activity_kind"] = "Stage changes are not engagement."
        if errors:
            raise ValidationError(errors)


class Temperature(models.IntegerChoices):
    COLD = 1, "Cold"
    WARM = 2, "Warm"
    HOT = 3, "Hot"


class Grade(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class LeadScore(models.Model):
    """A lead's current scores: one narrow row per lead, kept apart from the wide lead row
    so that rescoring touches neither its many indexes nor its TOAST."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="score")
    rule_set = models.ForeignKey(RuleSet, null=True, on_delete=models.SET_NULL, related_name="+")
    fit = models.IntegerField(default=0)
    engagement = models.IntegerField(default=0)
    total = models.IntegerField(default=0)
    grade = models.CharField(max_length=1, choices=Grade, default=Grade.D)
    temperature = models.PositiveSmallIntegerField(choices=Temperature, default=Temperature.COLD)
    scored_at = models.DateTimeField(
        null=True, blank=True, help_text="The moment the scores were computed for."
    )
    probability = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The predictive model's chance of conversion, 0–100."
    )
    model_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The predictive model version that computed the chance."
    )

    class Meta:
        indexes = [
            # The SDR queue: A-hot first, then by points.
            models.Index(fields=["grade", "-temperature", "-total"], name="leadscore_queue_idx"),
            # The lead list's "Score (highest first)".
            models.Index(fields=["-total", "-lead"], name="leadscore_total_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.total} ({self.grade}, {self.get_temperature_display().lower()})"

    @property
    def label(self) -> str:
        """Grade and temperature, as the queue shows them: "A-hot"."""
        return f"{self.grade}-{self.get_temperature_display().lower()}"


class ScoreChange(models.Model):
    """One line of a lead's score history: the scores after the change and why they moved."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="score_changes", db_index=False)
    changed_at = models.DateTimeField()
    rule_set = models.ForeignKey(RuleSet, null=True, on_delete=models.SET_NULL, related_name="+")
    fit = models.IntegerField()
    engagement = models.IntegerField()
    total = models.IntegerField()
    delta = models.IntegerField(help_text="Change of the total.")
    reason = models.CharField(max_length=200)
    details = models.JSONField(
        default=list, blank=True, help_text="[{rule, delta}] for each rule that moved."
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["lead", "-changed_at", "-id"], name="scorechange_lead_idx")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.total} ({self.delta:+d}) {self.reason}"


class ScoringJob(models.Model):
    """A rescore of every lead or a preview of a draft, recorded before its task is queued so
    that a sweeper can requeue it; ``position`` is the last lead id done, to resume from."""

    class Kind(models.TextChoices):
        RESCORE = "rescore", "Rescore all leads"
        PREVIEW = "preview", "Preview a draft"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind)
    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    reason = models.CharField(max_length=200, blank=True)
    as_of = models.DateTimeField(help_text="Scores are computed for this moment.")
    total = models.PositiveIntegerField(default=0, help_text="Leads to do.")
    done = models.PositiveIntegerField(default=0)
    position = models.BigIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0, help_text="Leads whose score changed.")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.rule_set}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class PredictiveModel(models.Model):
    """One training of the predictive model: what it learned from, how good it is on the
    newest closed leads it did not learn from (the hold-out), and the fitted model itself.
    At most one version is active: it scores the open leads."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        TRAINING = "training", "Training"
        READY = "ready", "Trained, not active"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    reason = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True, help_text="Why training refused or failed; notes on activation.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    phase = models.CharField(max_length=100, blank=True)

    excluded_attributes = models.JSONField(default=list, blank=True)
    features = models.JSONField(default=list, blank=True, help_text="[{name, label, kind}] in model order.")
    trained_on = models.PositiveIntegerField(default=0, help_text="Closed leads learned from.")
    holdout_size = models.PositiveIntegerField(default=0, help_text="The newest closed leads, kept apart.")
    positives = models.PositiveIntegerField(default=0, help_text="Customers among all closed leads used.")
    closed_leads = models.PositiveIntegerField(default=0)
    holdout_from = models.DateTimeField(null=True, blank=True, help_text="The hold-out's oldest outcome.")
    auc = models.FloatField(null=True, blank=True, verbose_name="ROC AUC")
    log_loss = models.FloatField(null=True, blank=True)
    top_decile_lift = models.FloatField(null=True, blank=True)
    calibration = models.JSONField(
        default=list, blank=True, help_text="[{low, high, leads, predicted, observed}] per band of chance."
    )
    importance = models.JSONField(default=list, blank=True, help_text="[{label, weight}] most useful first.")
    active_auc = models.FloatField(
        null=True, blank=True, help_text="The then active version's ROC AUC on this version's hold-out."
    )
    artefact = models.BinaryField(null=True, blank=True, editable=False)

    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    forced = models.BooleanField(default=False, help_text="Activated by a manager although it scored worse.")
    scored_leads = models.PositiveIntegerField(default=0, help_text="Open leads scored after activation.")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_predictive_model"
            )
        ]
        permissions = [
            ("train_predictive_model", "Can train and activate predictive models"),
            ("force_predictive_model", "Can activate a predictive model that scored worse"),
        ]

    def __str__(self) -> str:
        return f"Predictive model v{self.version}"

    @property
    def below_active(self) -> bool:
        """It did worse than the version active when it was trained, on the same newest leads:
        only a manager activates it."""
        return self.active_auc is not None and self.auc is not None and self.auc < self.active_auc

    @property
    def is_finished(self) -> bool:
        """Nothing more will happen to it: refused, failed, or trained and (when activated)
        done scoring the open leads."""
        if self.status in (self.Status.REFUSED, self.Status.FAILED):
            return True
        return self.status not in (self.Status.QUEUED, self.Status.TRAINING) and self.progress >= 100


class PredictiveSettings(models.Model):
    """What the next training may learn from (one row)."""

    excluded_attributes = models.JSONField(
        default=list,
        blank=True,
        help_text="Custom attributes the model must not learn from: those your sales team writes "
        "after contact (they would leak the outcome), or that should not decide.",
    )
    recycled_after_days = models.PositiveIntegerField(
        default=90, help_text="A lead recycled this many days ago and not back since counts as not converted."
    )

    class Meta:
        verbose_name_plural = "predictive settings"

    def __str__(self) -> str:
        return "Predictive settings"

    @classmethod
    def load(cls) -> "PredictiveSettings":
        return cls.objects.get_or_create(pk=1)[0]
