from datetime import UTC, datetime
from functools import cached_property

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django_countries.serializer_fields import CountryField
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from .models import Activity, ActivityKind, Lead, Opportunity, Stage, normalize_email
from .services import EventIn


class LeadScoreSummarySerializer(serializers.Serializer):
    """A lead's current score, as the scoring app stored it (documents ``LeadSerializer.score``;
    ``score_summary`` writes it)."""

    total = serializers.IntegerField()
    fit = serializers.IntegerField()
    engagement = serializers.IntegerField()
    grade = serializers.ChoiceField(
        choices=["A", "B", "C", "D"],
        help_text="A best: from the fit points, the chance or a blend, as the rule set says.",
    )
    temperature = serializers.ChoiceField(choices=["cold", "warm", "hot"], help_text="From engagement.")
    rule_set_version = serializers.IntegerField(allow_null=True, help_text="The rule set that made it.")
    scored_at = serializers.DateTimeField(allow_null=True)
    chance = serializers.IntegerField(
        allow_null=True, help_text="The predictive model's chance of conversion, 0–100 (null: none)."
    )
    model_version = serializers.IntegerField(allow_null=True, help_text="The model version behind it.")


_scored_at = serializers.DateTimeField()


def _plain_iso(field) -> bool:
    """Whether ``field`` writes its aware datetimes as ``_iso`` does: a plain DRF DateTimeField
    in ISO 8601, in the current time zone (the defaults). A page of 50 leads has 250 of them,
    and DRF's way (looking the format and the time zone up for each) was a third of the
    serializer's time."""
    return (
        type(field) is serializers.DateTimeField
        and settings.USE_TZ
        and not hasattr(field, "timezone")
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
    )


def _iso(value: datetime, tz) -> str:
    """DRF's DateTimeField.to_representation of an aware datetime in time zone ``tz``."""
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def score_summary(score) -> dict | None:
    """The ``score`` object of a lead (a ``scoring.LeadScore`` or None), by hand: the API's
    pages of leads write one per row. Read its ``rule_set`` through select_related."""
    if score is None:
        return None
    return {
        "total": score.total,
        "fit": score.fit,
        "engagement": score.engagement,
        "grade": score.grade,
        "temperature": score.get_temperature_display().lower(),
        "rule_set_version": score.rule_set.version if score.rule_set_id else None,
        "scored_at": None if score.scored_at is None else _scored_at.to_representation(score.scored_at),
        "chance": score.probability,
        "model_version": score.model_version,
    }


class OpportunitySummarySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Opportunity.Status.choices)
    expected_close_date = serializers.DateField()
    won_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    won_date = serializers.DateField(allow_null=True)
    lost_reason = serializers.CharField(allow_null=True, help_text="The reason's name.")


def opportunity_summary(opportunity) -> dict | None:
    """A lead's opportunity as the API shows it. Read it (and its lost reason) through
    select_related: a page of leads then costs no query more."""
    if opportunity is None:
        return None
    return {
        "amount": str(opportunity.amount),
        "currency": opportunity.currency,
        "status": opportunity.status,
        "expected_close_date": opportunity.expected_close_date.isoformat(),
        "won_value": None if opportunity.won_value is None else str(opportunity.won_value),
        "won_date": None if opportunity.won_date is None else opportunity.won_date.isoformat(),
        "lost_reason": opportunity.lost_reason.name if opportunity.lost_reason_id else None,
    }


class LeadSerializer(serializers.ModelSerializer):
    country = CountryField(required=False, allow_blank=True)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text="A change must follow the lifecycle rules (see the README's Lifecycle section).",
    )
    last_activity_at = serializers.DateTimeField(  # the queryset's with_last_activity()
        read_only=True,
        allow_null=True,
        help_text="When the lead last did something (stage changes do not count); null if never.",
    )
    stage_reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Why the stage changes: required for recycled, disqualified and lost.",
    )
    score = serializers.SerializerMethodField(
        help_text="The current score; null when the lead is not scored yet or you may not read scores."
    )

    opportunity = serializers.SerializerMethodField(
        help_text="The lead's opportunity (amount, status, outcome); null before one is opened."
    )

    class Meta:
        model = Lead
        fields = [
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
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "referrer",
            "stage",
            "stage_reason",
            "stage_changed_at",
            "owner",
            "marketing_consent",
            "consent_at",
            "consent_method",
            "custom",
            "created_at",
            "updated_at",
            "last_activity_at",
            "score",
            "opportunity",
        ]
        read_only_fields = [
            "created_via",
            "stage_changed_at",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is decided by the database (see services.create_lead), not by a lookup
        # that a concurrent request could slip past.
        extra_kwargs = {"email": {"validators": []}}

    def validate_email(self, value: str) -> str:
        return normalize_email(value)

    def to_representation(self, instance: Lead) -> dict:
        """DRF's own loop, without its per-field source resolution: every field here reads a
        plain attribute, and a page of 50 leads spends a third of the request in that loop."""
        fields = self.__dict__.get("_plain_fields")
        if fields is None:
            readable = list(self._readable_fields)
            fields = self._plain_fields = [
                (f.field_name, f.source, f, _plain_iso(f))
                for f in readable
                if f.field_name not in ("score", "opportunity")
            ]
            self._with_score = any(f.field_name == "score" for f in readable)
            self._with_opportunity = any(f.field_name == "opportunity" for f in readable)
        tz = timezone.get_current_timezone()
        data = {}
        for name, source, field, iso in fields:
            value = getattr(instance, source)
            if value is None:
                data[name] = None
            elif iso and value.utcoffset() is not None:
                data[name] = _iso(value, tz)
            else:
                data[name] = field.to_representation(value)
        if self._with_score:
            data["score"] = self.get_score(instance)
        if self._with_opportunity:
            data["opportunity"] = self.get_opportunity(instance)
        return data

    @extend_schema_field(LeadScoreSummarySerializer(allow_null=True))
    def get_score(self, instance: Lead) -> dict | None:
        return score_summary(_cached_score(instance)) if self._may_read_scores else None

    @extend_schema_field(OpportunitySummarySerializer(allow_null=True))
    def get_opportunity(self, instance: Lead) -> dict | None:
        return opportunity_summary(_cached_opportunity(instance))

    @cached_property
    def _may_read_scores(self) -> bool:
        # Once per page: a list's rows share one child serializer.
        request = self.context.get("request")
        return request is None or request.user.has_perm("scoring.view_leadscore")

    def validate_custom(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object of attribute names to values.")
        return value


def _cached_score(lead: Lead):
    """The lead's score row or None. A lead read with select_related("score") has it (or the
    lack of it) cached: no query either way."""
    try:
        return lead.score
    except ObjectDoesNotExist:
        return None


def _cached_opportunity(lead: Lead):
    try:
        return lead.opportunity
    except ObjectDoesNotExist:
        return None


class ActivitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ["id", "lead", "kind", "occurred_at", "properties", "source", "external_id", "received_at"]
        read_only_fields = fields


_EVENT_KINDS = frozenset(ActivityKind.values)
_EVENT_FIELDS = frozenset(["lead", "email", "kind", "occurred_at", "properties", "external_id"])
_validate_email = EmailValidator()


def parse_event(item: object) -> tuple[EventIn | None, dict]:
    """Validate one incoming event by hand: the batch endpoint checks up to 1,000 per request
    and a DRF field-by-field pass costs ~15x more. ``EventSerializer`` documents the same shape
    (for the OpenAPI schema) and validates with this function, so there is one set of rules."""
    if not isinstance(item, dict):
        return None, {"non_field_errors": ["Each event must be an object."]}
    errors: dict[str, list[str]] = {}
    unknown = item.keys() - _EVENT_FIELDS
    if unknown:
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}."]

    kind = item.get("kind")
    if kind is None:
        errors["kind"] = ["This field is required."]
    elif not isinstance(kind, str) or kind not in _EVENT_KINDS:
        errors["kind"] = [f'"{kind}" is not a valid choice.']

    lead_id, email = item.get("lead"), item.get("email") or ""
    if isinstance(email, str):
        email = email.strip()
    if lead_id is not None and (isinstance(lead_id, bool) or not isinstance(lead_id, int) or lead_id < 1):
        errors["lead"] = ["A valid lead id (a positive integer) is required."]
    if email:
        try:
            if not isinstance(email, str) or len(email) > 254:
                raise ValidationError("")
            _validate_email(email)
        except ValidationError:
            errors["email"] = ["Enter a valid email address."]
    if lead_id is None and not email:
        errors.setdefault("lead", ["Give the lead's id or its e-mail."])

    occurred_at = item.get("occurred_at")
    if occurred_at is None:
        occurred_at = timezone.now()
    else:
        occurred_at = _parse_time(occurred_at)
        if occurred_at is None:
            errors["occurred_at"] = ["Must be an ISO 8601 date-time, e.g. 2026-05-01T12:30:00Z."]
        elif occurred_at > timezone.now() + settings.LEADAPP_EVENT_CLOCK_SKEW:
            errors["occurred_at"] = ["Must not be in the future."]

    properties = item.get("properties", {})
    if not isinstance(properties, dict):
        errors["properties"] = ["Must be an object."]
    external_id = item.get("external_id") or ""
    if not isinstance(external_id, str) or len(external_id) > 100:
        errors["external_id"] = ["Must be a string of at most 100 characters."]

    if errors:
        return None, errors
    return EventIn(
        kind=kind,
        occurred_at=occurred_at,
        lead_id=lead_id,
        email=email,
        properties=properties,
        external_id=external_id,
    ), {}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if timezone.is_naive(parsed) else parsed


class EventSerializer(serializers.Serializer):
    """An event sent by another system. Address the lead by ``lead`` (id) or ``email``; an
    e-mail LeadApp does not know yet creates the lead. Naive times are read as UTC."""

    lead = serializers.IntegerField(required=False, min_value=1)
    email = serializers.EmailField(required=False, max_length=254)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    occurred_at = serializers.DateTimeField(required=False, help_text="Defaults to the time received.")
    properties = serializers.DictField(required=False, help_text="Anything about the event, e.g. a URL.")
    external_id = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Your id for this event: sending it again is harmless (reported as duplicate).",
    )

    def to_internal_value(self, data):
        event, errors = parse_event(data)
        if errors:
            raise serializers.ValidationError(errors)
        return event


class EventBatchSerializer(serializers.Serializer):
    """The batch request's shape, for the schema; the view checks each item with ``parse_event``
    so that one bad item does not reject the others."""

    events = EventSerializer(many=True, min_length=1, max_length=settings.LEADAPP_EVENT_BATCH_MAX)


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    errors = serializers.DictField(required=False)


class EventBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()
    follow_up = serializers.ChoiceField(
        choices=["done", "queued"],
        help_text="done: the leads' scores and campaigns already reflect these events. queued: the "
        "batch touched more leads than LEADAPP_INGEST_INLINE_LEADS (50), and a worker brings them "
        "up to date within seconds.",
    )
    results = EventResultSerializer(many=True)
