"""A user's notifications: the list, opening one (marks it read), marking all read."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import notifications
from .models import Notification

PAGE = 50


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    notes = Notification.objects.filter(user=request.user).order_by("-created_at", "-id")[:PAGE]
    return render(request, "leadapp/notifications.html", {"notes": notes})


@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Notification, pk=pk, user=request.user)
    if note.read_at is None:
        Notification.objects.filter(pk=note.pk).update(read_at=timezone.now())
    if note.url and url_has_allowed_host_and_scheme(note.url, allowed_hosts={request.get_host()}):
        return redirect(note.url)
    return redirect("notifications")


@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications.mark_read(request.user)
    return redirect("notifications")


def notifications_context(request: HttpRequest) -> dict:
    """For the nav: the unread count (counted only where shown)."""

    def unread() -> int:
        return notifications.unread_count(request.user) if request.user.is_authenticated else 0

    return {"notifications_unread": unread}
