"""The API's shapes for campaigns and enrolling leads in them."""

from rest_framework import serializers

from .models import Campaign

ENROLL_MAX = 1000  # leads per request, as for event batches


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "trigger"]


class EnrollRequestSerializer(serializers.Serializer):
    lead_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="Lead ids."
    )
    emails = serializers.ListField(
        child=serializers.EmailField(), required=False, help_text="Lead e-mails (case does not matter)."
    )

    def validate(self, data):
        count = len(data.get("lead_ids") or []) + len(data.get("emails") or [])
        if not count:
            raise serializers.ValidationError("Send lead_ids or emails: a list of at least one lead.")
        if count > ENROLL_MAX:
            raise serializers.ValidationError(f"At most {ENROLL_MAX} leads per request (got {count}).")
        return data


class EnrollResultSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField(help_text="Leads enrolled now.")
    skipped = serializers.IntegerField(
        help_text="Leads found but not enrolled: already in the campaign, or done with it and it "
        "does not allow re-enrollment."
    )
    unknown_lead_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids sent that are no lead's."
    )
    unknown_emails = serializers.ListField(
        child=serializers.CharField(), help_text="E-mails sent that are no lead's."
    )
