"""The page-tracking endpoint that ``static/js/leadapp-track.js`` posts to from customers'
sites: public, cross-origin (CORS is opened for /t/ in settings), rate-limited per IP."""

import json
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.core import is_ratelimited

from . import tracking

MAX_BODY_BYTES = 8 * 1024
MAX_URL_LENGTH = 2000
MAX_TITLE_LENGTH = 300
MAX_UTM_LENGTH = 150  # the width of the lead's utm_* columns
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def client_ip(request: HttpRequest) -> str:
    """The client's address; behind a proxy, from the header named in settings (for
    X-Forwarded-For the last entry: the one our own proxy added, which a client cannot forge)."""
    value = request.META.get(settings.LEADAPP_CLIENT_IP_HEADER) or request.META.get("REMOTE_ADDR", "")
    return value.split(",")[-1].strip()


def _tracking_rate(group, request) -> str:
    return settings.LEADAPP_TRACKING_RATE  # read per request: tests and deployments change it


@csrf_exempt
@login_not_required
@require_POST
def page_view(request: HttpRequest) -> HttpResponse:
    """``POST /t/pv`` with a JSON body ``{"vid", "url", "title"?, "referrer"?}``, sent as
    text/plain by ``sendBeacon`` (so no CORS preflight). 204 when stored, 400 on bad input,
    429 over the rate."""
    if is_ratelimited(
        request,
        group="leads.tracking",
        key=lambda group, request: client_ip(request),
        rate=_tracking_rate,
        increment=True,
    ):
        return JsonResponse({"error": "Too many requests."}, status=429)
    try:
        visitor_id, properties = _parse(request.body)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    tracking.record_page_view(visitor_id=visitor_id, properties=properties)
    return HttpResponse(status=204)


def _parse(body: bytes) -> tuple[str, dict]:
    if len(body) > MAX_BODY_BYTES:
        raise ValueError("The request is too large.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object.")
    visitor_id = tracking.normalize_visitor_id(data.get("vid") if isinstance(data.get("vid"), str) else "")
    if visitor_id is None:
        raise ValueError("vid: not a visitor id (a UUID).")
    url = _url(data.get("url"), "url", required=True)
    referrer = _url(data.get("referrer"), "referrer", required=False)
    title = data.get("title") or ""
    if not isinstance(title, str):
        raise ValueError("title: must be a string.")
    title = title.replace("\x00", "").strip()[:MAX_TITLE_LENGTH]  # PostgreSQL cannot store NUL
    properties = {"url": url, "title": title, "referrer": referrer}
    utm = {
        key: value[:MAX_UTM_LENGTH]
        for key, value in parse_qsl(urlsplit(url).query)
        if key in UTM_KEYS and value
    }
    if utm:
        properties["utm"] = utm
    return visitor_id, properties


def _url(value, name: str, *, required: bool) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: required.")
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"{name}: longer than {MAX_URL_LENGTH} characters.")
    if "\x00" in value:
        raise ValueError(f"{name}: not a URL.")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError(f"{name}: not a URL.") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name}: not an http(s) URL.")
    return value
