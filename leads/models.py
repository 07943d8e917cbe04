from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower, Now
from django.urls import reverse
from django_countries.fields import CountryField


def normalize_email(email: str) -> str:
    """The one rule for e-mail identity: surrounding blanks dropped, lower-cased."""
    return (email or "").strip().lower()


class Stage(models.TextChoices):
    NEW = "new", "New"
    MQL = "mql", "MQL"
    SAL = "sal", "SAL (sales accepted)"
    SQL = "sql", "SQL (sales qualified)"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    LOST = "lost", "Lost"
    DISQUALIFIED = "disqualified", "Disqualified"
    RECYCLED = "recycled", "Recycled"


class Source(models.TextChoices):
    """The channel the lead came from (what ROI is reported by)."""

    ORGANIC_SEARCH = "organic_search", "Organic search"
    PAID_SEARCH = "paid_search", "Paid search"
    ORGANIC_SOCIAL = "organic_social", "Organic social"
    PAID_SOCIAL = "paid_social", "Paid social"
    EMAIL = "email", "E-mail"
    REFERRAL = "referral", "Referral"
    EVENT = "event", "Event / webinar"
    PARTNER = "partner", "Partner"
    DIRECT = "direct", "Direct"
    OTHER = "other", "Other"


class CreatedVia(models.TextChoices):
    """How the record entered LeadApp (independent of the marketing channel)."""

    MANUAL = "manual", "Entered by hand"
    FORM = "form", "Form"
    IMPORT = "import", "Import"
    API = "api", "API"
    TRACKING = "tracking", "Tracking"
    DEMO = "demo", "Demo data"


class CompanySize(models.TextChoices):
    S1 = "1-10", "1–10"
    S11 = "11-50", "11–50"
    S51 = "51-200", "51–200"
    S201 = "201-500", "201–500"
    S501 = "501-1000", "501–1,000"
    S1001 = "1001-5000", "1,001–5,000"
    S5001 = "5001+", "5,001+"


class Industry(models.TextChoices):
    SOFTWARE = "software", "Software / SaaS"
    FINANCE = "finance", "Financial services"
    HEALTHCARE = "healthcare", "Healthcare"
    EDUCATION = "education", "Education"
    MANUFACTURING = "manufacturing", "Manufacturing"
    RETAIL = "retail", "Retail / e-commerce"
    MEDIA = "media", "Media / marketing"
    CONSULTING = "consulting", "Consulting / services"
    TELECOM = "telecom", "Telecommunications"
    GOVERNMENT = "government", "Government / non-profit"
    LOGISTICS = "logistics", "Transport / logistics"
    ENERGY = "energy", "Energy / utilities"
    REAL_ESTATE = "real_estate", "Real estate"
    OTHER = "other", "Other"


class Lead(models.Model):
    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    job_title = models.CharField(max_length=150, blank=True)

    company_name = models.CharField(max_length=200, blank=True)
    company_size = models.CharField(max_length=10, choices=CompanySize, blank=True)
    industry = models.CharField(max_length=20, choices=Industry, blank=True)
    country = CountryField(blank=True)
    website = models.URLField(max_length=300, blank=True)

    source = models.CharField(max_length=20, choices=Source, default=Source.OTHER)
    created_via = models.CharField(max_length=10, choices=CreatedVia, default=CreatedVia.MANUAL)
    utm_source = models.CharField(max_length=150, blank=True)
    utm_medium = models.CharField(max_length=150, blank=True)
    utm_campaign = models.CharField(max_length=150, blank=True)
    utm_term = models.CharField(max_length=150, blank=True)
    utm_content = models.CharField(max_length=150, blank=True)
    referrer = models.URLField(max_length=500, blank=True)

    stage = models.CharField(max_length=20, choices=Stage, default=Stage.NEW)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )

    marketing_consent = models.BooleanField(default=False)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_method = models.CharField(
        max_length=200, blank=True, help_text="How consent was given, e.g. the form and its text."
    )

    custom = models.JSONField(default=dict, blank=True, help_text="Attributes without a column.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(
        null=True, blank=True, help_text="When the lead last did something (stage changes do not count)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The lead list: newest first, alone or behind one filter.
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["stage", "-created_at"], name="lead_stage_created_idx"),
            models.Index(fields=["source", "-created_at"], name="lead_source_created_idx"),
            models.Index(fields=["country", "-created_at"], name="lead_country_created_idx"),
            models.Index(fields=["owner", "-created_at"], name="lead_owner_created_idx"),
            models.Index(
                F("last_activity_at").desc(nulls_last=True), F("id").desc(), name="lead_last_activity_idx"
            ),
            models.Index(Lower("last_name"), Lower("first_name"), name="lead_name_idx"),
            models.Index(Lower("company_name"), name="lead_company_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ActivityKind(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    FORM_SUBMITTED = "form_submitted", "Form submitted"
    EMAIL_SENT = "email_sent", "E-mail sent"
    EMAIL_OPEN = "email_open", "E-mail opened"
    EMAIL_CLICK = "email_click", "E-mail link clicked"
    EMAIL_BOUNCE = "email_bounce", "E-mail bounced"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    DOWNLOAD = "download", "Download"
    WEBINAR_REGISTERED = "webinar_registered", "Webinar registration"
    WEBINAR_ATTENDED = "webinar_attended", "Webinar attended"
    DEMO_REQUESTED = "demo_requested", "Demo requested"
    TRIAL_STARTED = "trial_started", "Trial started"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"
    STAGE_CHANGED = "stage_changed", "Stage changed"
    CUSTOM = "custom", "Custom event"


class ActivitySource(models.TextChoices):
    WEB = "web", "Website"
    API = "api", "API"
    EMAIL = "email", "E-mail"
    USER = "user", "LeadApp user"
    IMPORT = "import", "Import"
    SYSTEM = "system", "System"
    DEMO = "demo", "Demo data"


class Activity(models.Model):
    """Something a lead did, or something that was done to it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=30, choices=ActivityKind)
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=ActivitySource, default=ActivitySource.API)
    external_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="The sender's id for the event: a retried delivery with the same id is ignored.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "-occurred_at", "-id"], name="activity_lead_time_idx"),
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="activity_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.occurred_at:%Y-%m-%d %H:%M}"


class StageChange(models.Model):
    """The lead's lifecycle history: velocity and cycle times are computed from it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    forced = models.BooleanField(default=False, help_text="A manager's override of the rules.")

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "changed_at"], name="stagechange_lead_idx"),
            models.Index(fields=["to_stage", "changed_at"], name="stagechange_stage_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '—'} → {self.to_stage}"
