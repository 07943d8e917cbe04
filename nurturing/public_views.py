"""The links in campaign e-mails (/e/...): open pixel, tracked clicks, unsubscribe and the
preference page. Public (no login), rate-limited per IP, and they show nothing internal: the
person sees their own address masked, never a campaign or a lead.

A click link redirects only to the address signed into it (``links.read_click``): a forged
or altered link is refused, so /e/c/ is no open redirect. The unsubscribe link takes a POST
without a CSRF token or cookies: that is what mail clients send for RFC 8058 one-click
unsubscribe (``List-Unsubscribe-Post: List-Unsubscribe=One-Click``).
"""

import base64
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from leads.public_views import client_ip

from . import links, tracking
from .models import Message

log = logging.getLogger(__name__)

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _rate(group, request) -> str:
    return settings.NURTURING_LINK_RATE  # read per request: tests change it


def _limited(request: HttpRequest) -> bool:
    return is_ratelimited(
        request,
        group="nurturing.email-links",
        key=lambda group, request: client_ip(request) or "unknown",
        rate=_rate,
        increment=True,
    )


def _meta(request: HttpRequest) -> dict[str, str]:
    return {"user_agent": request.META.get("HTTP_USER_AGENT", "")}


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token) -> HttpResponse:
    """Always the pixel, whatever happens: an e-mail never shows a broken image."""
    if request.method == "GET" and not _limited(request):
        try:
            tracking.record_open(token, _meta(request))
        except Exception:  # noqa: BLE001 - the open is lost, the image still shows
            log.exception("Recording an open failed")
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
    return response


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, signed: str) -> HttpResponse:
    try:
        token, url = links.read_click(signed)
    except (signing.BadSignature, ValueError, TypeError):
        return _invalid(request, status=404)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _invalid(request, status=400)
    if request.method == "GET" and not _limited(request):
        try:
            tracking.record_click(token, url, _meta(request))
        except Exception:  # noqa: BLE001 - the person still gets where the link goes
            log.exception("Recording a click failed")
    response = HttpResponseRedirect(url)
    # The link's address carries the message's token: the destination must not see it.
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt  # RFC 8058: the mail client POSTs with no token and no cookies
@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token) -> HttpResponse:
    # Never limit the POST: mail providers send one-click unsubscribes from a few shared
    # addresses, and refusing one would keep mailing someone who asked us to stop. It is
    # idempotent and needs a token nobody can guess.
    if request.method == "GET" and _limited(request):
        return _too_many(request)
    message = tracking.message_for_token(token)
    if message is None or message.kind != Message.Kind.MARKETING:
        return _invalid(request, status=404)
    context = {"email": mask_email(message.to_email), "token": message.token}
    if request.method == "GET":
        context["state"] = tracking.subscription_state(message)
        return render(request, "nurturing/public/unsubscribe.html", context)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    how = "One-click unsubscribe (mail client)" if one_click else "Unsubscribe link in an e-mail"
    tracking.unsubscribe(token=message.token, how=how)
    return render(request, "nurturing/public/unsubscribed.html", context)


@csrf_protect
@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token) -> HttpResponse:
    if _limited(request):
        return _too_many(request)
    message = tracking.message_for_token(token)
    if message is None or message.kind != Message.Kind.MARKETING:
        return _invalid(request, status=404)
    notice, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "unsubscribe":
            tracking.unsubscribe(token=message.token, how="Preference page")
            notice = "You are unsubscribed. You will not receive our marketing e-mails any more."
        elif action == "resubscribe":
            try:
                tracking.resubscribe(message.token, how="Preference page")
                notice = "Welcome back: you will receive our e-mails again."
            except tracking.CannotResubscribe:
                notice, status = "This address cannot be subscribed again here.", 409
        else:
            notice, status = "Choose an option.", 400
        message = tracking.message_for_token(token)  # as the action left it
    context = {
        "email": mask_email(message.to_email),
        "token": message.token,
        "state": tracking.subscription_state(message),
        "notice": notice,
        "notice_error": status != 200,
    }
    return render(request, "nurturing/public/preferences.html", context, status=status)


def mask_email(email: str) -> str:
    """j***@example.com: enough for the person to recognise their address, not enough for
    someone holding a forwarded e-mail to read it."""
    local, _, domain = (email or "").partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def _invalid(request: HttpRequest, *, status: int) -> HttpResponse:
    return render(request, "nurturing/public/invalid_link.html", status=status)


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "nurturing/public/too_many.html", status=429)
    response["Retry-After"] = "60"
    return response
