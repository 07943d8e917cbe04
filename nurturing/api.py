"""REST API for campaigns: the list, and enrolling leads in one (or removing one). Thin:
parse, authorize (``RoleModelPermissions``: the campaign's and the enrollment's model
permissions), call a service."""

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from leadapp.api import error_body
from leads.models import Lead, normalize_email

from . import services
from .models import Campaign, Enrollment
from .serializers import CampaignSerializer, EnrollRequestSerializer, EnrollResultSerializer

NOT_FOUND = OpenApiResponse(description="No such campaign (or the lead is not in it).")


class CampaignListView(ListAPIView):
    """Every campaign, newest first."""

    queryset = Campaign.objects.order_by("-created_at", "-id")
    serializer_class = CampaignSerializer


class CampaignEnrollmentsView(GenericAPIView):
    """Enroll up to 1,000 leads, by id or e-mail. A lead already in the campaign (or done with
    it, when it does not allow re-enrollment) is skipped; ids and e-mails of no lead are
    listed in the answer. A campaign that is a draft or archived (or has no steps) takes no
    one: 409."""

    queryset = Enrollment.objects.all()  # POST needs nurturing.add_enrollment
    parser_classes = [JSONParser]
    serializer_class = EnrollRequestSerializer

    @extend_schema(
        request=EnrollRequestSerializer,
        responses={
            201: EnrollResultSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(description="The campaign does not take leads now (draft or archived)."),
        },
    )
    def post(self, request, id: int):
        campaign = get_object_or_404(Campaign, pk=id)
        serializer = EnrollRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = set(serializer.validated_data.get("lead_ids") or [])
        emails = {normalize_email(e) for e in serializer.validated_data.get("emails") or []}
        found = dict(Lead.objects.filter(Q(pk__in=ids) | Q(email__in=emails)).values_list("pk", "email"))
        try:
            enrolled = services.enroll(
                campaign, Lead.objects.filter(pk__in=list(found)), via="api", by=request.user
            )
        except services.CampaignError as error:
            return Response(
                error_body(status.HTTP_409_CONFLICT, "campaign_not_active", str(error)),
                status=status.HTTP_409_CONFLICT,
            )
        body = {
            "enrolled": enrolled,
            "skipped": len(found) - enrolled,
            "unknown_lead_ids": sorted(ids - set(found)),
            "unknown_emails": sorted(emails - set(found.values())),
        }
        return Response(EnrollResultSerializer(body).data, status=status.HTTP_201_CREATED)


class CampaignEnrollmentView(GenericAPIView):
    """Take a lead out of a campaign (its active enrollment ends, "removed by hand")."""

    queryset = Enrollment.objects.all()  # DELETE needs nurturing.delete_enrollment
    serializer_class = None

    @extend_schema(request=None, responses={204: None, 404: NOT_FOUND})
    def delete(self, request, id: int, lead_id: int):
        campaign = get_object_or_404(Campaign, pk=id)
        removed = services.unenroll(Enrollment.objects.filter(campaign=campaign, lead_id=lead_id))
        if not removed:
            raise NotFound("The lead is not in this campaign.")
        return Response(status=status.HTTP_204_NO_CONTENT)
