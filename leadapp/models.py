import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """Written by a Celery worker; the home page shows whether background work is running."""

    hostname = models.CharField(max_length=200, primary_key=True)
    pid = models.PositiveIntegerField()
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} (pid {self.pid})"


# --- Outbound webhooks (CRM sync): services in ``leadapp/webhooks.py`` -------------------

EVENT_TYPES = [
    ("lead.created", "Lead created"),
    ("lead.score_changed", "Score changed"),
    ("lead.stage_changed", "Stage changed"),
    ("lead.assigned", "Lead assigned"),
    ("lead.converted", "Lead converted"),
]
# Sent only by the "Send a test event" button, to one subscription, whatever it listens to.
PING = "ping"
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


def validate_target_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return
    raise ValidationError("Use an https:// address (http:// only for localhost or 127.0.0.1).")


def validate_event_types(value) -> None:
    known = {name for name, _ in EVENT_TYPES}
    if not isinstance(value, list) or not value or not set(value) <= known:
        raise ValidationError(f"Choose one or more of: {', '.join(sorted(known))}.")


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookSubscription(models.Model):
    """A receiver (usually a CRM) of lead events, signed with ``secret``."""

    name = models.CharField(max_length=150)
    target_url = models.URLField(max_length=500, validators=[validate_target_url])
    event_types = models.JSONField(default=list, validators=[validate_event_types])
    # Shown to the admin once (on creation and rotation), never again on a page.
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Deliveries that failed for good in a row; a success resets it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("webhooks:detail", args=[self.pk])

    def secret_hint(self) -> str:
        return f"whsec_…{self.secret[-4:]}"


class WebhookDelivery(models.Model):
    """One event for one subscription: the outbox row a worker POSTs, retried with backoff."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DELIVERING = "delivering", "Delivering"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    event_id = models.UUIDField()
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to a worker.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # The same event emitted twice (a retried task, a replayed signal) is one delivery.
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status__in=["queued", "delivering"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id} ({self.status})"


class IdempotencyKey(models.Model):
    """A write another system sent with an ``Idempotency-Key`` header, and the answer it got:
    the same key again gets the same answer, without doing the write twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"


class Notification(models.Model):
    """Something a user should know (a lead assigned to them, an SLA breach, a reminder due):
    shown in the app, and e-mailed by a worker (``leadapp/notifications.py``)."""

    class Email(models.TextChoices):
        PENDING = "pending", "To send"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        NONE = "none", "Not e-mailed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    read_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=10, choices=Email, default=Email.PENDING)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=["id"], condition=models.Q(email="pending"), name="notification_email_idx"),
        ]

    def __str__(self) -> str:
        return self.text
