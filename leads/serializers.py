from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from .models import Activity, ActivityKind, Lead, Stage, normalize_email
from .services import EventIn


class LeadSerializer(serializers.ModelSerializer):
    country = CountryField(required=False, allow_blank=True)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    url = serializers.HyperlinkedIdentityField(view_name="api:lead-detail")

    class Meta:
        model = Lead
        fields = [
            "id",
            "url",
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
            "stage_changed_at",
            "owner",
            "marketing_consent",
            "consent_at",
            "consent_method",
            "custom",
            "created_at",
            "updated_at",
            "last_activity_at",
        ]
        read_only_fields = [
            "created_via",
            "stage_changed_at",
            "created_at",
            "updated_at",
            "last_activity_at",
        ]
        # Uniqueness is decided by the database (see services.create_lead), not by a lookup
        # that a concurrent request could slip past.
        extra_kwargs = {"email": {"validators": []}}

    def validate_email(self, value: str) -> str:
        return normalize_email(value)

    def validate_custom(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object of attribute names to values.")
        return value


class ActivitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ["id", "lead", "kind", "occurred_at", "properties", "source", "external_id", "received_at"]
        read_only_fields = fields


class EventSerializer(serializers.Serializer):
    """An event sent by another system. Address the lead by ``lead`` (id) or ``email``; an
    e-mail LeadApp does not know yet creates the lead."""

    lead = serializers.IntegerField(required=False, min_value=1)
    email = serializers.EmailField(required=False, max_length=254)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    occurred_at = serializers.DateTimeField(required=False, help_text="Defaults to the time received.")
    properties = serializers.DictField(required=False, default=dict)
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        default="",
        help_text="Your id for this event: sending it again is harmless (reported as duplicate).",
    )

    def validate_occurred_at(self, value):
        if value > timezone.now() + settings.LEADAPP_EVENT_CLOCK_SKEW:
            raise serializers.ValidationError("Must not be in the future.")
        return value

    def validate(self, attrs):
        if not attrs.get("lead") and not attrs.get("email"):
            raise serializers.ValidationError({"lead": ["Give the lead's id or its e-mail."]})
        return attrs

    def to_event(self) -> EventIn:
        data = self.validated_data
        return EventIn(
            kind=data["kind"],
            occurred_at=data.get("occurred_at") or timezone.now(),
            lead_id=data.get("lead"),
            email=data.get("email", ""),
            properties=data["properties"],
            external_id=data["external_id"],
        )


class EventBatchSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=settings.LEADAPP_EVENT_BATCH_MAX
    )


class EventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    errors = serializers.DictField(required=False)


class EventBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = EventResultSerializer(many=True)
