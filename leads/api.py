"""REST API for leads and their activities. Thin: parse, authorize, call a service."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from leadapp.api import validation_error_response

from . import services
from .filters import LeadFilter
from .lifecycle import TransitionNotAllowed
from .models import Activity, ActivitySource, CreatedVia, Lead
from .serializers import (
    ActivitySerializer,
    EventBatchResultSerializer,
    EventBatchSerializer,
    EventSerializer,
    LeadSerializer,
    parse_event,
)


class NewestFirst(CursorPagination):
    """Cursor pages stay fast and stable at millions of rows (no COUNT, no OFFSET)."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ActivityPages(NewestFirst):
    ordering = ("-occurred_at", "-id")


class LeadViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    # The score and its rule set, the opportunity and its lost reason: LEFT JOINs on keys, no
    # query per lead.
    queryset = Lead.objects.select_related("owner", "score__rule_set", "opportunity__lost_reason")
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    pagination_class = NewestFirst

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        email, custom = data.pop("email"), data.pop("custom", {})
        data.pop("stage_reason", None)
        try:
            lead = services.create_lead(
                email=email, data=data, custom=custom, created_via=CreatedVia.API, by=self.request.user
            )
        except services.DuplicateEmail as exc:
            raise _duplicate(exc) from None
        serializer.instance = self._reread(lead)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        reason = data.pop("stage_reason", "")
        try:
            services.update_lead(serializer.instance, data=data, by=self.request.user, reason=reason)
        except services.DuplicateEmail as exc:
            raise _duplicate(exc) from None
        except TransitionNotAllowed as exc:
            raise ValidationError({"stage": [str(exc)]}) from None
        serializer.instance = self._reread(serializer.instance)

    def _reread(self, lead: Lead) -> Lead:
        # The write rescored the lead in its transaction: answer with the new score, not
        # with the one read (and cached) before it.
        return self.get_queryset().get(pk=lead.pk)

    @extend_schema(responses=ActivitySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=ActivityPages)
    def activities(self, request, pk=None):
        """The lead's timeline, newest first."""
        lead = self.get_object()
        page = self.paginate_queryset(lead.activities.all())
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)


def _duplicate(exc: services.DuplicateEmail) -> ValidationError:
    return ValidationError({"email": [f"A lead with this e-mail already exists (id {exc.lead.pk})."]})


class EventView(GenericAPIView):
    """Record one event (activity) for a lead."""

    queryset = Activity.objects.none()
    parser_classes = [JSONParser]
    serializer_class = EventSerializer

    @extend_schema(responses={201: EventBatchResultSerializer})
    def post(self, request):
        serializer = EventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        [result] = services.ingest_events(
            [serializer.validated_data], source=ActivitySource.API, by=request.user
        )
        if result.status == "error":
            return validation_error_response(result.errors)
        return Response(_batch_body([result]), status=status.HTTP_201_CREATED)


class EventBatchView(GenericAPIView):
    """Record up to 1,000 events in one request. Good items are stored even when others are
    bad: the answer is 201 when every item was accepted, 207 with per-item errors otherwise."""

    queryset = Activity.objects.none()
    parser_classes = [JSONParser]
    serializer_class = EventBatchSerializer

    @extend_schema(
        request=EventBatchSerializer,
        responses={
            201: EventBatchResultSerializer,
            207: OpenApiResponse(EventBatchResultSerializer, description="Some items were rejected."),
        },
    )
    def post(self, request):
        items = request.data.get("events") if isinstance(request.data, dict) else None
        limit = settings.LEADAPP_EVENT_BATCH_MAX
        if not isinstance(items, list) or not 1 <= len(items) <= limit:
            return validation_error_response({"events": [f"Send a list of 1 to {limit} events."]})
        events, errors = [], {}
        for index, item in enumerate(items):
            event, item_errors = parse_event(item)
            events.append(event)
            if item_errors:
                errors[index] = item_errors
        results = services.ingest_events(events, source=ActivitySource.API, by=request.user)
        for index, item_errors in errors.items():
            results[index] = services.EventResult("error", item_errors)
        body = _batch_body(results)
        return Response(body, status=207 if body["errors"] else status.HTTP_201_CREATED)


def _batch_body(results: list[services.EventResult]) -> dict:
    items = []
    for index, result in enumerate(results):
        item = {"index": index, "status": result.status}
        if result.errors:
            item["errors"] = result.errors
        items.append(item)
    return {
        "created": sum(r.status == "created" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "errors": sum(r.status == "error" for r in results),
        "results": items,
    }
