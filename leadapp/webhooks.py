"""Outbound webhooks (CRM sync): writing, delivering and retrying signed lead events.

``emit`` writes one ``WebhookDelivery`` row per interested subscription inside the caller's
transaction (so an event exists exactly when the change that caused it does) and hands the
rows to a worker on commit. ``deliver`` claims rows (queued → delivering, under ``SKIP
LOCKED`` on PostgreSQL, so a duplicate task finds nothing to do) and POSTs each one. A
failure is tried again 1, 2, 4 … minutes later, up to ``MAX_ATTEMPTS``; ``sweep`` (beat,
every minute) hands over the rows that are due again and those a dead worker or a lost task
left behind. A subscription whose deliveries fail for good ``DISABLE_AFTER`` times in a row
is disabled, with the reason shown on its page.

Delivery is at least once: a receiver de-duplicates on the event id (``id`` in the body).

Signing: ``X-LeadApp-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`` keyed with
the subscription's secret, where ``timestamp`` is the ``X-LeadApp-Timestamp`` header (unix
seconds). A receiver checks it with ``verify_signature`` (or the same few lines, see the
README) and rejects timestamps older than a few minutes, so a captured request cannot be
replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .db import insert_rows
from .models import EVENT_TYPES, PING, WebhookDelivery, WebhookSubscription, new_secret

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # 1 + 2 + 4 + … + 64 minutes: a receiver has two hours to come back
DISABLE_AFTER = 8  # deliveries that failed for good in a row
DELIVER_CHUNK = 20
# A row "delivering" longer than this lost its worker (a chunk takes at most
# DELIVER_CHUNK × the timeout).
STUCK_DELIVERING = timedelta(minutes=10)
LOST_IN_QUEUE = timedelta(minutes=10)
EXCERPT_CHARS = 500
USER_AGENT = "LeadApp-Webhooks/1"

Status = WebhookDelivery.Status
_KNOWN = {name for name, _ in EVENT_TYPES}
_COLUMNS = (
    "subscription",
    "event_type",
    "event_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "response_excerpt",
    "created_at",
)


# --- Signing ------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``X-LeadApp-Signature`` value for ``body`` sent at ``timestamp``."""
    if isinstance(body, str):
        body = body.encode()
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    *,
    now: float | datetime,
    tolerance: int = 300,
) -> bool:
    """True when ``signature`` was made with ``secret`` for exactly this ``body`` and
    ``timestamp``, and the timestamp is within ``tolerance`` seconds of ``now``."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    now_seconds = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_seconds - sent_at) > tolerance:
        return False  # too old (a replay) or from the future
    return hmac.compare_digest(sign(secret, sent_at, body), signature or "")


def body_of(delivery: WebhookDelivery) -> bytes:
    """What is POSTed: the same bytes on every attempt (only the timestamp changes)."""
    envelope = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created_at": delivery.created_at,
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


# --- Writing events -----------------------------------------------------------------------


def subscribers(event_type: str) -> list[int]:
    """The active subscriptions that want ``event_type``: one small query (a handful of
    rows; JSON containment is not portable to SQLite, so the list is filtered here)."""
    rows = WebhookSubscription.objects.filter(active=True).values_list("pk", "event_types")
    return [pk for pk, wanted in rows if event_type in (wanted or [])]


def emit(
    event_type: str, payloads: Sequence[dict], *, event_ids: Sequence[uuid.UUID | str] | None = None
) -> int:
    """Record ``event_type`` once per payload for every active subscription that wants it,
    and hand the rows to a worker when the caller's transaction commits. An event id seen
    before by a subscription is skipped (pass stable ``event_ids`` to make a retried caller
    idempotent). Returns how many rows were offered (duplicates included)."""
    if event_type not in _KNOWN:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    if event_ids is not None and len(event_ids) != len(payloads):
        raise ValueError("event_ids must match payloads one to one.")
    if not payloads:
        return 0
    subscription_ids = subscribers(event_type)
    if not subscription_ids:
        return 0
    ids = (
        [uuid.UUID(str(e)) for e in event_ids] if event_ids is not None else [uuid.uuid4() for _ in payloads]
    )
    return _write(subscription_ids, event_type, list(zip(ids, payloads, strict=True)))


def send_test(subscription: WebhookSubscription) -> WebhookDelivery:
    """A ``ping`` to this subscription only, whatever it listens to (the page's test button)."""
    event_id = uuid.uuid4()
    payload = {"subscription": subscription.name, "message": "A test event from LeadApp."}
    _write([subscription.pk], PING, [(event_id, payload)])
    return WebhookDelivery.objects.get(subscription=subscription, event_id=event_id)


def _write(subscription_ids: list[int], event_type: str, events: list[tuple[uuid.UUID, dict]]) -> int:
    now = timezone.now()
    rows = [
        (sub, event_type, event_id, _json_safe(payload), Status.QUEUED.value, 0, now, "", "", now)
        for sub in subscription_ids
        for event_id, payload in events
    ]
    event_ids = [event_id for event_id, _ in events]
    with transaction.atomic():
        insert_rows(WebhookDelivery, _COLUMNS, rows, ignore_conflicts=True)

        def hand_over():
            ids = WebhookDelivery.objects.filter(
                subscription__in=subscription_ids, event_id__in=event_ids, status=Status.QUEUED
            ).values_list("pk", flat=True)
            enqueue(list(ids))

        transaction.on_commit(hand_over, robust=True)
    return len(rows)


def _json_safe(payload: dict) -> dict:
    """Dates, decimals and UUIDs as JSON has them, so the stored payload is what is sent."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def enqueue(delivery_ids: Iterable[int]) -> None:
    """Hand rows to workers in chunks. If the broker is down this raises, the rows stay
    queued with no ``enqueued_at``, and ``sweep`` hands them over later."""
    from .tasks import deliver_webhooks

    delivery_ids = list(delivery_ids)
    for start in range(0, len(delivery_ids), DELIVER_CHUNK):
        chunk = delivery_ids[start : start + DELIVER_CHUNK]
        deliver_webhooks.delay(chunk)
        WebhookDelivery.objects.filter(pk__in=chunk, status=Status.QUEUED).update(enqueued_at=timezone.now())


# --- Delivering ---------------------------------------------------------------------------


@dataclass
class DeliverResult:
    delivered: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    disabled: list[int] = field(default_factory=list)  # subscriptions


def claim(delivery_ids: Iterable[int], now: datetime) -> list[WebhookDelivery]:
    """Take the rows that are queued, due and of an active subscription; nobody else will."""
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                pk__in=list(delivery_ids),
                status=Status.QUEUED,
                next_attempt_at__lte=now,
                subscription__active=True,
            )
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=Status.DELIVERING, claimed_at=now, attempts=F("attempts") + 1
        )
    return list(WebhookDelivery.objects.filter(pk__in=ids).select_related("subscription").order_by("pk"))


def deliver(delivery_ids: Iterable[int]) -> DeliverResult:
    """POST the rows of ``delivery_ids`` that are still queued and due. Safe to run twice."""
    result = DeliverResult()
    for delivery in claim(delivery_ids, timezone.now()):
        try:
            code, excerpt, error = post(delivery)
        except Exception as exc:  # noqa: BLE001 - one bad row must not hold back the rest
            log.exception("Webhook delivery %s could not be sent", delivery.pk)
            code, excerpt, error = None, "", f"Could not be sent: {exc}"
        if code is not None and 200 <= code < 300:
            _delivered(delivery, code, excerpt, result)
        else:
            _failed_attempt(delivery, code, excerpt, error, result)
    return result


def post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """One signed POST: (status code or None, response excerpt, error text)."""
    body = body_of(delivery)
    timestamp = int(timezone.now().timestamp())
    request = urllib.request.Request(  # noqa: S310 - the URL is validated: http(s) only
        delivery.subscription.target_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-LeadApp-Event": delivery.event_type,
            "X-LeadApp-Delivery": str(delivery.pk),
            "X-LeadApp-Timestamp": str(timestamp),
            "X-LeadApp-Signature": sign(delivery.subscription.secret, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=settings.LEADAPP_WEBHOOK_TIMEOUT) as response:
            return response.status, _excerpt(response), ""
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _excerpt(error), f"The receiver answered {error.code} {error.reason}."
    except TimeoutError:
        return None, "", f"No answer within {settings.LEADAPP_WEBHOOK_TIMEOUT:g} s."
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            return None, "", f"No answer within {settings.LEADAPP_WEBHOOK_TIMEOUT:g} s."
        return None, "", f"The receiver cannot be reached: {reason}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the event is not re-sent elsewhere."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _excerpt(response) -> str:
    try:
        return response.read(4 * EXCERPT_CHARS).decode(errors="replace")[:EXCERPT_CHARS]
    except (OSError, ValueError):
        return ""


def _mine(delivery: WebhookDelivery):
    # Only while this worker's claim stands: a row the sweeper gave to another worker is theirs.
    return WebhookDelivery.objects.filter(
        pk=delivery.pk, status=Status.DELIVERING, claimed_at=delivery.claimed_at
    )


def _delivered(delivery: WebhookDelivery, code: int, excerpt: str, result: DeliverResult) -> None:
    _mine(delivery).update(
        status=Status.DELIVERED,
        delivered_at=timezone.now(),
        last_status_code=code,
        last_error="",
        response_excerpt=excerpt,
    )
    WebhookSubscription.objects.filter(pk=delivery.subscription_id, consecutive_failures__gt=0).update(
        consecutive_failures=0
    )
    result.delivered.append(delivery.pk)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4 … minutes."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


def _failed_attempt(
    delivery: WebhookDelivery, code: int | None, excerpt: str, error: str, result: DeliverResult
) -> None:
    now = timezone.now()
    error = error or f"The receiver answered {code}."
    if delivery.attempts < MAX_ATTEMPTS:
        _mine(delivery).update(
            status=Status.QUEUED,
            next_attempt_at=now + backoff(delivery.attempts),
            last_status_code=code,
            last_error=error[:2000],
            response_excerpt=excerpt,
        )
        result.retry.append(delivery.pk)
        return
    given_up = _mine(delivery).update(
        status=Status.FAILED,
        last_status_code=code,
        last_error=f"Gave up after {delivery.attempts} attempts: {error}"[:2000],
        response_excerpt=excerpt,
    )
    result.failed.append(delivery.pk)
    if given_up:
        _count_failure(delivery.subscription_id, error, now, result)


def _count_failure(subscription_id: int, error: str, now: datetime, result: DeliverResult) -> None:
    subscriptions = WebhookSubscription.objects.filter(pk=subscription_id)
    subscriptions.update(consecutive_failures=F("consecutive_failures") + 1)
    reason = (
        f"Disabled automatically: {DISABLE_AFTER} deliveries in a row failed after "
        f"{MAX_ATTEMPTS} attempts each. Last error: {error}"
    )
    if subscriptions.filter(active=True, consecutive_failures__gte=DISABLE_AFTER).update(
        active=False, disabled_reason=reason[:500], disabled_at=now
    ):
        log.warning("Webhook subscription %s disabled: %s", subscription_id, error)
        result.disabled.append(subscription_id)


def sweep(now: datetime | None = None) -> int:
    """Beat, every minute: put back what a dead worker left "delivering", and hand to workers
    the rows that are due again (a retry) or that no worker took; returns how many."""
    now = now or timezone.now()
    stuck = WebhookDelivery.objects.filter(status=Status.DELIVERING, claimed_at__lt=now - STUCK_DELIVERING)
    for pk, subscription_id in stuck.filter(attempts__gte=MAX_ATTEMPTS).values_list("pk", "subscription_id"):
        error = "The worker stopped while delivering."
        if WebhookDelivery.objects.filter(pk=pk, status=Status.DELIVERING).update(
            status=Status.FAILED, last_error=f"Gave up after {MAX_ATTEMPTS} attempts: {error}"
        ):
            _count_failure(subscription_id, error, now, DeliverResult())
    stuck.update(status=Status.QUEUED, next_attempt_at=now, last_error="The worker stopped while delivering.")
    due = WebhookDelivery.objects.filter(
        Q(enqueued_at=None)
        | Q(enqueued_at__lt=F("next_attempt_at"))
        | Q(enqueued_at__lt=now - LOST_IN_QUEUE),
        status=Status.QUEUED,
        next_attempt_at__lte=now,
        subscription__active=True,
    )
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:20_000])
    enqueue(ids)
    return len(ids)


# --- What the admin does on the pages -----------------------------------------------------


def rotate_secret(subscription: WebhookSubscription) -> str:
    """A new secret; deliveries signed from now on use it. Returned to be shown once."""
    subscription.secret = new_secret()
    subscription.save(update_fields=["secret"])
    return subscription.secret


def enable(subscription: WebhookSubscription) -> int:
    """Switch a (disabled) subscription back on; what waited is handed over at once."""
    with transaction.atomic():
        subscription.active = True
        subscription.disabled_reason = ""
        subscription.disabled_at = None
        subscription.consecutive_failures = 0
        subscription.save(update_fields=["active", "disabled_reason", "disabled_at", "consecutive_failures"])
        waiting = list(
            subscription.deliveries.filter(
                status=Status.QUEUED, next_attempt_at__lte=timezone.now()
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: enqueue(waiting), robust=True)
    return len(waiting)


class CannotRedeliver(Exception):
    pass


def redeliver(delivery: WebhookDelivery) -> None:
    """Send a delivery that failed for good again, with a fresh round of attempts."""
    if not delivery.subscription.active:
        raise CannotRedeliver("Enable the subscription first.")
    with transaction.atomic():
        if not WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.FAILED).update(
            status=Status.QUEUED, attempts=0, next_attempt_at=timezone.now(), enqueued_at=None
        ):
            raise CannotRedeliver("Only a failed delivery can be sent again.")
        transaction.on_commit(lambda: enqueue([delivery.pk]), robust=True)


# --- The events that exist today ------------------------------------------------------------

LEAD_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company_name",
    "company_size",
    "industry",
    "country",
    "website",
    "source",
    "created_via",
    "stage",
    "owner_id",
    "marketing_consent",
    "created_at",
    "updated_at",
)


_EVENT_NAMESPACE = uuid.UUID("6f1c1f4e-2b0a-4d59-9a57-1d1f0c6a3e21")


def lead_payloads(lead_ids: Iterable[int]) -> list[dict]:
    from leads.models import Lead

    rows = Lead.objects.filter(pk__in=list(lead_ids)).order_by("pk").values(*LEAD_FIELDS)
    return [{"lead": {**row, "country": str(row["country"] or "")}} for row in rows]


def stage_changed(
    lead_ids: Iterable[int], *, from_stage: str, to_stage: str, changed_at, reason: str
) -> None:
    """``lead.stage_changed`` for leads that moved (and ``lead.converted`` when they became
    customers), in the mover's transaction. One id per move: a retried caller is one event."""
    wanted = [event for event in ("lead.stage_changed", "lead.converted") if subscribers(event)]
    if not wanted or (wanted == ["lead.converted"] and to_stage != "customer"):
        return
    payloads = lead_payloads(lead_ids)
    move = {"from": from_stage, "to": to_stage, "changed_at": changed_at.isoformat(), "reason": reason}
    for event in wanted:
        if event == "lead.converted" and to_stage != "customer":
            continue
        event_ids = [
            uuid.uuid5(_EVENT_NAMESPACE, f"{event}:{p['lead']['id']}:{to_stage}:{changed_at.isoformat()}")
            for p in payloads
        ]
        emit(event, [{**p, "stage_change": move} for p in payloads], event_ids=event_ids)


def score_changed(changes) -> None:
    """``lead.score_changed`` for real-time score moves (``scoring.ScoreChange`` rows, in the
    scorer's transaction). A bulk rescore after publishing rules sends none: a CRM would get
    a million calls for one decision; it reads scores through the API instead."""
    moved = [change for change in changes if change.delta]
    if not moved or not subscribers("lead.score_changed"):
        return
    payloads = {p["lead"]["id"]: p for p in lead_payloads(change.lead_id for change in moved)}
    events, event_ids = [], []
    for change in moved:
        if change.lead_id not in payloads:
            continue
        score = {
            "total": change.total,
            "fit": change.fit,
            "engagement": change.engagement,
            "delta": change.delta,
            "reason": change.reason,
            "changed_at": change.changed_at.isoformat(),
        }
        events.append({**payloads[change.lead_id], "score": score})
        key = f"lead.score_changed:{change.lead_id}:{change.total}:{change.changed_at.isoformat()}"
        event_ids.append(uuid.uuid5(_EVENT_NAMESPACE, key))
    emit("lead.score_changed", events, event_ids=event_ids)


def on_leads_changed(sender, *, lead_ids, reason, new_activities_after=None, **kwargs) -> None:
    """``leads.signals.leads_changed`` → ``lead.created``. Cheap when nobody listens: one
    small query. A failure here is logged, never allowed to undo the lead."""
    if reason != "Lead created" or not subscribers("lead.created"):
        return
    try:
        payloads = lead_payloads(lead_ids)
        # One id per lead: the same lead announced twice is one event for the receiver.
        event_ids = [uuid.uuid5(_EVENT_NAMESPACE, f"lead.created:{p['lead']['id']}") for p in payloads]
        with transaction.atomic():
            emit("lead.created", payloads, event_ids=event_ids)
    except Exception:  # noqa: BLE001 - capture must not fail because of a webhook
        log.exception("lead.created webhooks for %s could not be recorded", sorted(lead_ids))
