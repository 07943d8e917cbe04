"""Public form submissions: spam checks, validation against the form's definition, then
store first, process second.

A valid submission is committed as a ``Submission`` before anything else happens; processing
(the lead, its ``form_submitted`` activity, consent, the visitor's earlier page views) runs
in one transaction afterwards. When processing fails the submission stays stored with its
``error`` and ``process_pending`` (a beat task, every minute) tries it again.
"""

import ipaddress
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django_countries import countries

from . import services, tracking
from .models import (
    ActivityKind,
    ActivitySource,
    CaptureForm,
    Consent,
    CreatedVia,
    FieldKind,
    FormField,
    Lead,
    Source,
    Submission,
    normalize_email,
)

logger = logging.getLogger(__name__)

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
HONEYPOT = "la_hp"
TOKEN = "la_token"  # noqa: S105 - a field name, not a secret
CONSENT = "consent"

TOKEN_SALT = "leads.submissions.form-token"  # noqa: S105 - a salt, public by design
# A rendered form's token expires after this long (the script then fetches a fresh one).
TOKEN_MAX_AGE = 24 * 60 * 60

MAX_LENGTH = {
    FieldKind.TEXT: 300,
    FieldKind.EMAIL: 254,
    FieldKind.PHONE: 40,
    FieldKind.NUMBER: 30,
    FieldKind.SELECT: 200,
    FieldKind.MULTISELECT: 200,
    FieldKind.TEXTAREA: 5000,
    FieldKind.HIDDEN: 300,
}
CHOICE_COLUMNS = {"company_size", "industry", "country"}
TICKED = {"on", "true", "1", "yes"}
PHONE_RE = re.compile(r"^\+?[0-9 ().\-/]+$")
NUMBER_RE = re.compile(r"^-?\d{1,20}(\.\d{1,8})?$")


# --- rejections ------------------------------------------------------------------------------


class Rejected(Exception):
    """A submission that is not stored; ``errors`` maps field names (``__all__`` for the
    form) to messages."""

    code = "invalid"
    default_message = "Please correct the errors below."

    def __init__(self, errors: dict[str, list[str]] | None = None, message: str = ""):
        self.message = message or self.default_message
        self.errors = errors or {"__all__": [self.message]}
        super().__init__(self.message)


class InvalidSubmission(Rejected):
    pass


class SpamSuspected(Rejected):
    code = "spam"
    default_message = "This looked like an automated submission, so it was not sent."


class TooQuick(Rejected):
    code = "too_quick"
    default_message = "That was quick — please try again."


class StaleToken(Rejected):
    code = "stale_token"
    default_message = "This form was open for a long time. Please check it and send it again."


# --- the signed timestamp in each rendered form ----------------------------------------------


def issue_token(form: CaptureForm, *, rendered_at: float | None = None) -> str:
    """The token a rendered form carries: which form, and when it was shown."""
    rendered_at = time.time() if rendered_at is None else rendered_at
    return signing.dumps({"f": form.pk, "t": round(rendered_at, 3)}, salt=TOKEN_SALT)


def snippet_token(form: CaptureForm) -> str:
    """The token of the plain-HTML snippet a marketer pastes: it is not rendered per visit,
    so it carries no time and does not expire (honeypot and rate limit still apply)."""
    return signing.dumps({"f": form.pk, "s": 1}, salt=TOKEN_SALT)


def check_token(form: CaptureForm, token: str, *, now: float | None = None) -> None:
    if not token:
        raise StaleToken()
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        data = signing.loads(token, salt=TOKEN_SALT)
        if not (isinstance(data, dict) and data.get("s")):
            raise StaleToken() from None
    except signing.BadSignature:
        raise StaleToken() from None
    if not isinstance(data, dict) or data.get("f") != form.pk:
        raise StaleToken()
    if data.get("s"):
        return
    now = time.time() if now is None else now
    if now - float(data.get("t", 0)) < settings.LEADAPP_FORM_MIN_FILL_SECONDS:
        raise TooQuick()


# --- what came with the submission besides its fields ----------------------------------------


@dataclass(frozen=True)
class SubmissionMeta:
    ip: str | None = None
    user_agent: str = ""
    page_url: str = ""
    referrer: str = ""
    visitor_id: str = ""
    utm: dict[str, str] = field(default_factory=dict)

    @classmethod
    def clean(
        cls,
        *,
        ip: str = "",
        user_agent: str = "",
        page_url: str = "",
        referrer: str = "",
        visitor_id: str = "",
        utm: Mapping[str, str] | None = None,
    ) -> "SubmissionMeta":
        """Sanitized: only http(s) URLs, UTM values the lead's columns can hold (taken from
        the page URL where not given), a well-formed visitor id, a real IP address."""
        page_url = _clean_url(page_url)
        from_url = dict(parse_qsl(urlsplit(page_url).query)) if page_url else {}
        given = utm or {}
        clean_utm = {}
        for key in UTM_KEYS:
            value = (_text(given.get(key)) or _text(from_url.get(key))).strip()
            if value:
                clean_utm[key] = value[:150]
        return cls(
            ip=_clean_ip(ip),
            user_agent=_text(user_agent)[:500],
            page_url=page_url,
            referrer=_clean_url(referrer),
            visitor_id=tracking.normalize_visitor_id(_text(visitor_id)) or "",
            utm=clean_utm,
        )


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _clean_url(value, max_length: int = 1000) -> str:
    value = _text(value).strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return value[:max_length]


def _clean_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(_text(value).strip()))
    except ValueError:
        return None


# --- validation ------------------------------------------------------------------------------


def validate(fields: list[FormField], data: Mapping[str, list[str]]) -> dict[str, Any]:
    """The submitted values, cleaned, by field name; ``InvalidSubmission`` with every field's
    errors when one is wrong."""
    values, errors = {}, {}
    for form_field in fields:
        # NUL cannot be stored in PostgreSQL text or jsonb, and no person types one.
        raw = [v.replace("\x00", "").strip() for v in data.get(form_field.name, []) if isinstance(v, str)]
        try:
            values[form_field.name] = _clean_value(form_field, raw)
        except ValidationError as exc:
            errors[form_field.name] = exc.messages
    if not any(f.maps_to == "email" for f in fields):
        errors["__all__"] = ["This form has no e-mail field; it cannot be submitted."]
    if errors:
        raise InvalidSubmission(errors)
    return values


def _clean_value(form_field: FormField, raw: list[str]):
    kind = form_field.kind
    if kind == FieldKind.CHECKBOX:
        ticked = any(v.lower() in TICKED for v in raw)
        if form_field.required and not ticked:
            raise ValidationError("Please tick this box.")
        return ticked
    if kind == FieldKind.MULTISELECT:
        chosen = list(dict.fromkeys(v for v in raw if v))
        bad = [v for v in chosen if _option(form_field, v) is None]
        if bad:
            raise ValidationError(f"Select a valid choice: {bad[0][:50]} is not one of the options.")
        if form_field.required and not chosen:
            raise ValidationError("Choose at least one.")
        return [_option(form_field, v) for v in chosen]

    value = raw[0] if raw else ""
    if kind == FieldKind.HIDDEN and not value:
        value = form_field.default_value
    if not value:
        if form_field.required:
            raise ValidationError("This field is required.")
        return ""
    limit = _max_length(form_field)
    if len(value) > limit:
        raise ValidationError(f"Ensure this value has at most {limit} characters (it has {len(value)}).")
    if kind == FieldKind.EMAIL:
        EmailValidator("Enter a valid email address.")(value)
        value = normalize_email(value)
    elif kind == FieldKind.NUMBER:
        if not NUMBER_RE.match(value):
            raise ValidationError("Enter a number.")
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    elif kind == FieldKind.PHONE:
        if not PHONE_RE.match(value) or sum(c.isdigit() for c in value) < 5:
            raise ValidationError("Enter a valid phone number.")
    elif kind == FieldKind.SELECT:
        option = _option(form_field, value)
        if option is None:
            raise ValidationError("Select a valid choice.")
        value = option
    column = form_field.maps_to
    if column == "website":
        value = _clean_website(value)
    elif column in CHOICE_COLUMNS and column_choice(column, value) is None:
        raise ValidationError(f"Not a known {column.replace('_', ' ')}.")
    return value


def _option(form_field: FormField, value: str) -> str | None:
    for option in form_field.options or []:
        if option.lower() == value.lower():
            return option
    return None


def _max_length(form_field: FormField) -> int:
    limit = MAX_LENGTH.get(form_field.kind, 300)
    if form_field.maps_to and form_field.maps_to not in CHOICE_COLUMNS:
        column_limit = Lead._meta.get_field(form_field.maps_to).max_length
        limit = min(limit, column_limit) if column_limit else limit
    return limit


def _clean_website(value: str) -> str:
    if "://" not in value:
        value = f"https://{value}"
    URLValidator(schemes=["http", "https"], message="Enter a valid web address.")(value)
    return value


def column_choice(column: str, value: str) -> str | None:
    """The stored value of a choice column (company size, industry, country) for what a
    person chose, by code or by label; None when it is not one."""
    value = value.strip()
    if not value:
        return None
    if column == "country":
        return countries.alpha2(value) or countries.by_name(value) or None
    for code, label in Lead._meta.get_field(column).choices:
        if value.lower() in (str(code).lower(), str(label).lower()):
            return code
    return None


def column_choice_labels(column: str) -> list[str]:
    """A select field's options for a choice column."""
    if column == "country":
        return [name for _code, name in countries]
    return [str(label) for _code, label in Lead._meta.get_field(column).choices]


# --- submitting ------------------------------------------------------------------------------


def check_spam(form: CaptureForm, data: Mapping[str, list[str]], *, now: float | None = None) -> None:
    if any(v.strip() for v in data.get(HONEYPOT, []) if isinstance(v, str)):
        raise SpamSuspected()
    check_token(form, _first(data, TOKEN), now=now)


def submit(form: CaptureForm, *, data: Mapping[str, list[str]], meta: SubmissionMeta) -> Submission:
    """Check, validate, store (committed), then process a submission of a live form.

    Raises a ``Rejected`` subclass, having stored nothing, when the submission is refused.
    A processing failure does not raise: the submission is stored and will be retried.
    """
    check_spam(form, data)
    fields = list(form.fields.all())
    values = validate(fields, data)
    consent = form.consent_enabled and any(v.lower() in TICKED for v in data.get(CONSENT, []))
    payload = {
        "fields": values,
        "map": {f.name: f.maps_to for f in fields},
        "utm": meta.utm,
        "consent": consent,
    }
    if consent:
        payload["consent_text"] = form.consent_text
    submission = Submission.objects.create(
        form=form,
        payload=payload,
        ip=meta.ip,
        user_agent=meta.user_agent,
        page_url=meta.page_url,
        referrer=meta.referrer,
        visitor_id=meta.visitor_id,
    )
    process_submission(submission.pk)
    submission.refresh_from_db()
    return submission


def process_submission(submission_id: int) -> bool:
    """Turn a stored submission into the lead's data; True when this call did it. Safe to
    call again and from several workers: a processed or locked submission is skipped."""
    try:
        with transaction.atomic():
            submission = (
                Submission.objects.select_for_update(skip_locked=True)
                .filter(pk=submission_id, processed_at=None)
                .first()
            )
            if submission is None:
                return False
            _process(submission)
    except Exception as exc:
        logger.exception("Processing form submission %s failed; it will be retried.", submission_id)
        Submission.objects.filter(pk=submission_id, processed_at=None).update(
            error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return False
    return True


def process_pending(*, older_than: timedelta = timedelta(minutes=1), time_budget: float = 50.0) -> int:
    """Process the submissions left pending for longer than ``older_than`` (never tried
    ones first, then failed ones); returns how many were processed."""
    cutoff = timezone.now() - older_than
    pending = Submission.objects.filter(processed_at=None, submitted_at__lt=cutoff).order_by("submitted_at")
    ids = [
        *pending.filter(error="").values_list("pk", flat=True)[:1000],
        *pending.exclude(error="").values_list("pk", flat=True)[:1000],
    ]
    started, done = time.monotonic(), 0
    for pk in ids:
        if time.monotonic() - started > time_budget:
            break
        done += process_submission(pk)
    return done


def _process(submission: Submission) -> None:
    form = CaptureForm.objects.get(pk=submission.form_id)
    payload = submission.payload
    email, data, custom = _lead_input(payload)
    data.update(payload.get("utm") or {})
    consent = bool(payload.get("consent"))
    if consent:
        method = f"Form: {form.name}"[:200]
        data.update(marketing_consent=True, consent_at=submission.submitted_at, consent_method=method)
    lead, created = services.upsert_lead(email=email, data=data, custom=custom, created_via=CreatedVia.FORM)
    if created:
        # First touch: where the lead came from is decided once.
        first_touch = {"source": source_from_utm(payload.get("utm") or {}) or form.default_source}
        if submission.referrer and len(submission.referrer) <= Lead._meta.get_field("referrer").max_length:
            first_touch["referrer"] = submission.referrer
        Lead.objects.filter(pk=lead.pk).update(**first_touch)
    if consent:
        Consent.objects.create(
            lead=lead,
            given=True,
            text=payload.get("consent_text", ""),
            method=f"Form: {form.name}"[:200],
            submission=submission,
        )
    properties = {"form": form.name, "form_id": form.pk, "submission_id": submission.pk}
    properties.update({"page_url": submission.page_url, **(payload.get("utm") or {})})
    services.record_activity(
        lead,
        kind=ActivityKind.FORM_SUBMITTED,
        occurred_at=submission.submitted_at,
        properties=properties,
        source=ActivitySource.WEB,
    )
    if submission.visitor_id:
        tracking.identify_visitor(submission.visitor_id, lead)
    Submission.objects.filter(pk=submission.pk).update(lead=lead, processed_at=timezone.now(), error="")


def _lead_input(payload: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    email, data, custom = "", {}, {}
    mapping = payload.get("map") or {}
    for name, value in (payload.get("fields") or {}).items():
        if value is None or value is False or value in ("", []):
            continue  # blanks never overwrite (a 0 is not blank)
        column = mapping.get(name, "")
        if column == "email":
            email = value
        elif column in CHOICE_COLUMNS:
            data[column] = column_choice(column, str(value)) or ""
        elif column:
            data[column] = value
        else:
            custom[name] = value
    if not email:
        raise ValueError("The submission carries no e-mail address.")
    return email, data, custom


SEARCH_ENGINES = {"google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia", "qwant"}
SOCIAL_NETWORKS = {
    "facebook",
    "fb",
    "instagram",
    "ig",
    "linkedin",
    "twitter",
    "x",
    "tiktok",
    "youtube",
    "reddit",
    "pinterest",
    "meta",
    "mastodon",
}
PAID_MEDIUMS = {
    "cpc",
    "ppc",
    "paid",
    "paidsearch",
    "paid_search",
    "paid-search",
    "sem",
    "cpm",
    "display",
    "ads",
}


def source_from_utm(utm: Mapping[str, str]) -> str | None:
    """The lead source the UTM parameters point to, or None when they say nothing known."""
    source = (utm.get("utm_source") or "").strip().lower()
    medium = (utm.get("utm_medium") or "").strip().lower()
    if medium in ("paid_social", "paid-social", "paidsocial") or (
        medium in PAID_MEDIUMS and source in SOCIAL_NETWORKS
    ):
        return Source.PAID_SOCIAL
    if medium in PAID_MEDIUMS:
        return Source.PAID_SEARCH
    if medium in ("email", "e-mail", "newsletter"):
        return Source.EMAIL
    if medium in ("social", "social-media", "social_media", "organic_social") or source in SOCIAL_NETWORKS:
        return Source.ORGANIC_SOCIAL
    if medium in ("organic", "seo") or source in SEARCH_ENGINES:
        return Source.ORGANIC_SEARCH
    if medium == "referral":
        return Source.REFERRAL
    if medium in ("event", "webinar", "conference"):
        return Source.EVENT
    if medium in ("partner", "affiliate"):
        return Source.PARTNER
    return None


def _first(data: Mapping[str, list[str]], key: str) -> str:
    values = data.get(key) or []
    return values[0] if values and isinstance(values[0], str) else ""
