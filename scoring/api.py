"""REST API for scores: a lead's score rule by rule, with its latest changes."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from leads.models import Lead
from leads.serializers import LeadScoreSummarySerializer, score_summary

from . import selectors
from .models import LeadScore, RuleSet, ScoreChange, Temperature

HISTORY_ENTRIES = 20


class RuleLineSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="The rule as the marketer wrote it.")
    points = serializers.FloatField()


class EngagementLineSerializer(RuleLineSerializer):
    detail = serializers.CharField(help_text="Occurrences × points, decay and caps.")


class FitGroupSerializer(serializers.Serializer):
    name = serializers.CharField()
    points = serializers.FloatField(help_text="The group's points, after its maximum.")
    note = serializers.CharField(help_text='E.g. "capped at 30" when the maximum applied; else empty.')
    rules = RuleLineSerializer(many=True, help_text="The rules that matched.")


class ExplanationSerializer(serializers.Serializer):
    rule_set_version = serializers.IntegerField(allow_null=True)
    as_of = serializers.DateTimeField(help_text="The moment the score was computed for.")
    fit = serializers.IntegerField()
    engagement = serializers.IntegerField()
    total = serializers.IntegerField()
    grade = serializers.ChoiceField(choices=["A", "B", "C", "D"])
    temperature = serializers.ChoiceField(choices=["cold", "warm", "hot"])
    fit_groups = FitGroupSerializer(many=True)
    engagement_lines = EngagementLineSerializer(many=True, help_text="Engagement rules, then inactivity.")


class RuleDeltaSerializer(serializers.Serializer):
    rule = serializers.CharField()
    delta = serializers.FloatField()


class ScoreChangeSerializer(serializers.Serializer):
    changed_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    fit = serializers.IntegerField()
    engagement = serializers.IntegerField()
    delta = serializers.IntegerField(help_text="Change of the total.")
    reason = serializers.CharField()
    rule_set_version = serializers.IntegerField(allow_null=True)
    details = RuleDeltaSerializer(many=True, help_text="The rules that moved, when known.")


class LeadScoreDetailSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    score = LeadScoreSummarySerializer(allow_null=True, help_text="Null when the lead is not scored yet.")
    explanation = ExplanationSerializer(
        allow_null=True, help_text="The score rule by rule, as it was computed; null when not scored."
    )
    history = ScoreChangeSerializer(
        many=True, help_text=f"The latest {HISTORY_ENTRIES} changes, newest first."
    )


class LeadScoreView(GenericAPIView):
    """A lead's score rule by rule (fit groups with their rules, engagement rules with their
    occurrences, decay and caps) and the latest changes of its score."""

    queryset = LeadScore.objects.all()  # reading needs scoring.view_leadscore (RoleModelPermissions)
    serializer_class = LeadScoreDetailSerializer

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The lead's id.")],
        responses=LeadScoreDetailSerializer,
    )
    def get(self, request, id: int):  # named as in /api/leads/{id}/
        lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=id)
        score = selectors.lead_score(lead)
        explanation = selectors.explain(lead, score=score) if score else None
        history = selectors.score_history(lead, limit=HISTORY_ENTRIES)
        body = {
            "lead": lead.pk,
            "score": score_summary(score),
            "explanation": _explanation(explanation) if explanation else None,
            "history": _history(history),
        }
        return Response(LeadScoreDetailSerializer(body).data)


def _explanation(explanation: selectors.Explanation) -> dict:
    return {
        "rule_set_version": explanation.rule_set.version,
        "as_of": explanation.as_of,
        "fit": explanation.fit,
        "engagement": explanation.engagement,
        "total": explanation.total,
        "grade": explanation.grade,
        "temperature": Temperature(explanation.temperature).label.lower(),
        "fit_groups": [
            {
                "name": name,
                "points": points,
                "note": note,
                "rules": [{"label": line.label, "points": line.points} for line in lines],
            }
            for name, points, note, lines in explanation.fit_groups
        ],
        "engagement_lines": [
            {"label": line.label, "points": line.points, "detail": line.detail}
            for line in explanation.engagement_lines
        ],
    }


def _history(changes: list[ScoreChange]) -> list[dict]:
    versions = dict(
        RuleSet.objects.filter(pk__in={c.rule_set_id for c in changes if c.rule_set_id}).values_list(
            "pk", "version"
        )
    )
    return [
        {
            "changed_at": change.changed_at,
            "total": change.total,
            "fit": change.fit,
            "engagement": change.engagement,
            "delta": change.delta,
            "reason": change.reason,
            "rule_set_version": versions.get(change.rule_set_id),
            "details": change.details or [],
        }
        for change in changes
    ]
