"""REST API for leads and their activities. Thin: parse, authorize, call a service."""

from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from leadapp.api import IDEMPOTENCY_HEADER, idempotent, validation_error_response
from leadapp.permissions import RoleModelPermissions

from . import conversion, selectors, services
from .filters import LeadFilter, id_in
from .lifecycle import TransitionNotAllowed
from .models import Activity, ActivitySource, CreatedVia, Lead, LostReason, Stage
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


class LeadPages(NewestFirst):
    """Pages of leads. A search's page is read ids first (see selectors.page_of): its ids and
    creation times, sorted, without the joined rows, then those 50 leads with their score,
    owner and opportunity, instead of joining them to every match before sorting. The first
    page of a search alone sorts only the first ids the lookup found, in its order already
    (``selectors.searched_in_order``): for 759 matches, 2 ms of SQL instead of 8 on a slow
    machine. Its next link is the usual cursor."""

    def paginate_queryset(self, queryset, request, view=None):
        if not request.query_params.get("q", "").strip():
            return super().paginate_queryset(queryset, request, view)
        filterset = getattr(view, "filterset", None)  # see LeadFilterBackend
        if filterset is not None and not request.query_params.get(self.cursor_query_param):
            # The first page of a search alone: its leads and the one after are the first ids
            # the search found.
            ids = selectors.searched_in_order(filterset, user=request.user)
            if ids is not None:
                queryset = queryset.filter(id_in(ids[: self.get_page_size(request) + 1], queryset.db))
        # Rows as dicts: the cursor reads its position from them as it would from leads.
        light = queryset.select_related(None).values("pk", *(field.lstrip("-") for field in self.ordering))
        page = super().paginate_queryset(light, request, view)
        return page if page is None else selectors.rows_of(queryset, [row["pk"] for row in page])


class LeadFilterBackend(DjangoFilterBackend):
    """django-filter's backend, leaving its filterset on the view (``view.filterset``): the
    pagination reads what a search found (``LeadFilter.searched_ids``)."""

    def get_filterset(self, request, queryset, view):
        view.filterset = super().get_filterset(request, queryset, view)
        return view.filterset


class ChangeLead(RoleModelPermissions):
    """A POST that changes a lead (its stage, its outcome) needs the change permission."""

    perms_map = {**RoleModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class StageUpdateSerializer(serializers.Serializer):
    """Either a stage (with a reason where the lifecycle asks for one) or an outcome."""

    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    outcome = serializers.ChoiceField(choices=["won", "lost"], required=False)
    value = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    won_date = serializers.DateField(required=False)
    lost_reason = serializers.CharField(required=False, max_length=100)
    note = serializers.CharField(required=False, allow_blank=True)

    def validate(self, data):
        if bool(data.get("stage")) == bool(data.get("outcome")):
            raise serializers.ValidationError("Send either a stage or an outcome (won or lost).")
        if data.get("outcome") == "lost" and not data.get("lost_reason"):
            raise serializers.ValidationError({"lost_reason": ["Say why the opportunity was lost."]})
        return data


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
    queryset = Lead.objects.select_related(
        "owner", "score__rule_set", "opportunity__lost_reason"
    ).with_last_activity()
    serializer_class = LeadSerializer
    filter_backends = [LeadFilterBackend]
    filterset_class = LeadFilter

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)

    pagination_class = LeadPages

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

    @idempotent
    def update(self, request, *args, **kwargs):
        return super().update(request, *args, **kwargs)

    @extend_schema(
        request=StageUpdateSerializer,
        responses=LeadSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Send the same key again to retry safely: the first answer is replayed.",
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="stage", permission_classes=[ChangeLead])
    @idempotent
    def stage(self, request, pk=None):
        """Move the lead to another stage, or record the outcome of its opportunity (won or
        lost): what a CRM pushes back. Retry-safe with an ``Idempotency-Key`` header."""
        lead = self.get_object()
        serializer = StageUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if data.get("outcome") == "won":
                conversion.mark_won(
                    lead, by=request.user, value=data.get("value"), won_date=data.get("won_date")
                )
            elif data.get("outcome") == "lost":
                reason = LostReason.objects.filter(name__iexact=data["lost_reason"]).first()
                if reason is None:
                    raise ValidationError({"lost_reason": ["Not one of the lost reasons an admin keeps."]})
                conversion.mark_lost(lead, by=request.user, reason=reason, note=data.get("note", ""))
            else:
                services.change_stage(
                    lead, to_stage=data["stage"], by=request.user, reason=data.get("reason", "")
                )
        except TransitionNotAllowed as exc:
            raise ValidationError({"stage": [str(exc)]}) from None
        except conversion.ConversionError as exc:
            raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from None
        return Response(LeadSerializer(self._reread(lead)).data)

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
        ingested = services.ingest_events(
            [serializer.validated_data], source=ActivitySource.API, by=request.user
        )
        [result] = ingested.results
        if result.status == "error":
            return validation_error_response(result.errors)
        return Response(_batch_body(ingested), status=status.HTTP_201_CREATED)


class EventBatchView(GenericAPIView):
    """Record up to 1,000 events in one request. Good items are stored even when others are
    bad: the answer is 201 when every item was accepted, 207 with per-item errors otherwise.
    A batch touching many leads is scored by a worker within seconds (``follow_up``)."""

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
        ingested = services.ingest_events(events, source=ActivitySource.API, by=request.user)
        for index, item_errors in errors.items():
            ingested.results[index] = services.EventResult("error", item_errors)
        body = _batch_body(ingested)
        return Response(body, status=207 if body["errors"] else status.HTTP_201_CREATED)


def _batch_body(ingested: services.Ingested) -> dict:
    results = ingested.results
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
        "follow_up": ingested.follow_up,
        "results": items,
    }
