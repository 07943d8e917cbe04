from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from leads import selectors

from .models import WorkerHeartbeat

# Beat asks every worker for a heartbeat each minute; older than this means trouble.
HEARTBEAT_STALE_AFTER = timedelta(minutes=3)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    worker_ok = heartbeat is not None and timezone.now() - heartbeat.seen_at < HEARTBEAT_STALE_AFTER
    context = {
        "heartbeat": heartbeat,
        "worker_ok": worker_ok,
        "stage_counts": selectors.stage_counts(request.user)
        if request.user.has_perm("leads.view_lead")
        else None,
    }
    return render(request, "home.html", context)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
