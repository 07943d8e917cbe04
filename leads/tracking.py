"""Page tracking: anonymous visitors, their page views, and stitching them to a lead.

A browser is known by the random id the tracking script keeps in its ``la_vid`` cookie. Until
it is linked to a lead (a form submission carrying that cookie calls ``identify_visitor``) its
page views wait in ``AnonymousPageView``; from then on they are the lead's activities.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from leadapp.db import insert_rows

from . import services
from .models import Activity, ActivityKind, ActivitySource, AnonymousPageView, Lead, Visitor
from .services import ACTIVITY_COLUMNS, activities_added, activity_marker

VISITOR_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def normalize_visitor_id(value: str | None) -> str | None:
    """The visitor id in its stored form (a lower-case UUID), or None when it is not one."""
    value = (value or "").strip().lower()
    return value if VISITOR_ID_RE.match(value) else None


def record_page_view(
    *, visitor_id: str, properties: Mapping[str, Any], occurred_at: datetime | None = None
) -> Activity | AnonymousPageView:
    """Store one page view of a visitor: on its lead's timeline when the visitor is known,
    otherwise as an anonymous view kept for when it identifies itself. ``visitor_id`` must
    already be valid (see ``normalize_visitor_id``)."""
    occurred_at = occurred_at or timezone.now()
    properties = dict(properties)
    with transaction.atomic():
        visitor = _lock_visitor(visitor_id, seen_at=occurred_at)
        if visitor.lead_id is None:
            return AnonymousPageView.objects.create(
                visitor=visitor, occurred_at=occurred_at, properties=properties
            )
        return services.record_activity(
            visitor.lead,
            kind=ActivityKind.PAGE_VIEW,
            occurred_at=occurred_at,
            properties={**properties, "visitor": visitor.pk},
            source=ActivitySource.WEB,
        )


def identify_visitor(visitor_id: str, lead: Lead) -> None:
    """Link the visitor to ``lead`` and move its anonymous page views onto the lead's
    timeline, in a few statements whatever their number. An invalid id is ignored (it comes
    from a cookie on someone else's site). A visitor already linked to another lead (a shared
    computer) is re-linked: its earlier views stay with the earlier lead."""
    visitor_id = normalize_visitor_id(visitor_id)
    if visitor_id is None:
        return
    with transaction.atomic():
        # The visitor's row lock orders this against a concurrent record_page_view: each
        # view ends either among the anonymous ones moved here or on the lead directly.
        visitor = _lock_visitor(visitor_id)
        if visitor.lead_id != lead.pk:
            Visitor.objects.filter(pk=visitor_id).update(lead=lead)
        views = list(
            AnonymousPageView.objects.filter(visitor_id=visitor_id)
            .order_by("occurred_at", "id")
            .values_list("occurred_at", "properties")
        )
        if not views:
            return
        marker = activity_marker()
        insert_rows(
            Activity,
            ACTIVITY_COLUMNS,
            [
                (
                    lead.pk,
                    ActivityKind.PAGE_VIEW,
                    occurred_at,
                    {**properties, "visitor": visitor_id},
                    ActivitySource.WEB,
                    "",
                    None,
                )
                for occurred_at, properties in views
            ],
        )
        AnonymousPageView.objects.filter(visitor_id=visitor_id).delete()
        activities_added([lead.pk], after=marker, reason=f"{len(views)} earlier page views of the visitor")


def _lock_visitor(visitor_id: str, *, seen_at: datetime | None = None) -> Visitor:
    """Create the visitor if it is new, lock its row, and note when it was last seen."""
    Visitor.objects.bulk_create([Visitor(pk=visitor_id)], ignore_conflicts=True)
    visitor = Visitor.objects.select_related("lead").select_for_update(of=("self",)).get(pk=visitor_id)
    if seen_at is not None:
        Visitor.objects.filter(pk=visitor_id).update(last_seen_at=seen_at)
    return visitor
