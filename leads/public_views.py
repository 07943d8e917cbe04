"""Hosted and embedded capture forms (/f/...): public, no login, posted from other origins.

No CSRF token (the forms live on other sites): a honeypot, a minimum fill time and a per-IP
rate limit keep robots out instead. Only live forms answer; drafts and archived forms are 404.
"""

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage

from . import submissions
from .models import CaptureForm, FieldKind, FormField
from .submissions import CONSENT, HONEYPOT, TOKEN, UTM_KEYS, SubmissionMeta

CAPTURE_PARTIAL = "leads/public/form_page.html#capture-form"
META_INPUTS = ("la_page_url", "la_referrer", "la_vid", *UTM_KEYS)
MAX_JSON_BYTES = 64 * 1024
AUTOCOMPLETE = {
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "phone": "tel",
    "job_title": "organization-title",
    "company_name": "organization",
    "country": "country-name",
    "website": "url",
}
INPUT_TYPES = {FieldKind.EMAIL: "email", FieldKind.PHONE: "tel", FieldKind.NUMBER: "number"}


def _live_form(slug: str) -> CaptureForm:
    return get_object_or_404(CaptureForm, slug=slug, status=CaptureForm.Status.LIVE)


@csrf_exempt
@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def form_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The hosted landing page; also where the plain-HTML snippet posts (no JavaScript)."""
    form = _live_form(slug)
    if request.method == "GET":
        meta = {
            "la_page_url": request.build_absolute_uri(),
            "la_referrer": request.META.get("HTTP_REFERER", ""),
            "la_vid": request.COOKIES.get("la_vid", ""),
            **{key: request.GET.get(key, "") for key in UTM_KEYS},
        }
        capture = capture_form_context(
            form,
            action=_absolute(request, "public:form", slug),
            token=submissions.issue_token(form),
            meta=meta,
        )
        return render(request, "leads/public/form_page.html", {"cf": form, "capture": capture})

    retry_after = _rate_limited(request)
    if retry_after:
        response = render(
            request, "leads/public/form_message.html", {"cf": form, "rate_limited": True}, status=429
        )
        response["Retry-After"] = str(retry_after)
        return response
    data = {key: request.POST.getlist(key) for key in request.POST}
    try:
        submissions.submit(form, data=data, meta=_meta(request, data))
    except submissions.Rejected as exc:
        return _render_rejected(request, form, data, exc)
    if form.redirect_url:
        return HttpResponseRedirect(form.redirect_url, status=303)
    return HttpResponseRedirect(reverse("public:form-thanks", args=[slug]), status=303)


@login_not_required
@require_GET
def form_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    form = _live_form(slug)
    return render(request, "leads/public/form_message.html", {"cf": form, "thanks": True})


@csrf_exempt
@login_not_required
@never_cache
@require_GET
def form_embed(request: HttpRequest, slug: str) -> JsonResponse:
    """The form for ``static/js/leadapp-form.js``: its HTML (the hosted page's own partial),
    where to post it, and a fresh token."""
    form = _live_form(slug)
    token = submissions.issue_token(form)
    capture = capture_form_context(form, action=_absolute(request, "public:form", slug), token=token, meta={})
    fields = [
        {
            "name": f.name,
            "kind": f.kind,
            "label": f.label,
            "required": f.required,
            "help_text": f.help_text,
            "placeholder": f.placeholder,
            "options": f.options,
        }
        for f in capture["fields"]
    ]
    return JsonResponse(
        {
            "slug": form.slug,
            "title": form.title,
            "submit_url": _absolute(request, "public:form-submit", slug),
            "token": token,
            "min_fill_seconds": settings.LEADAPP_FORM_MIN_FILL_SECONDS,
            "fields": fields,
            "consent": {"text": form.consent_text} if form.consent_enabled else None,
            "html": render_to_string(CAPTURE_PARTIAL, {"capture": capture}, request=request),
        }
    )


@csrf_exempt
@login_not_required
@never_cache
@require_POST
def form_submit(request: HttpRequest, slug: str) -> JsonResponse:
    """The script's submit endpoint: a JSON object (or a form-encoded body) in;
    ``{ok, message|redirect}`` or 400 ``{ok: false, code, message, errors: {field: [...]}}`` out."""
    form = _live_form(slug)
    retry_after = _rate_limited(request)
    if retry_after:
        message = "Too many submissions from your address. Please wait a minute and try again."
        response = JsonResponse(
            {"ok": False, "code": "rate_limited", "message": message, "errors": {"__all__": [message]}},
            status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response
    try:
        data = _request_data(request)
    except ValueError as exc:
        return JsonResponse(
            {"ok": False, "code": "bad_request", "message": str(exc), "errors": {"__all__": [str(exc)]}},
            status=400,
        )
    try:
        submissions.submit(form, data=data, meta=_meta(request, data))
    except submissions.Rejected as exc:
        return JsonResponse(
            {"ok": False, "code": exc.code, "message": exc.message, "errors": exc.errors}, status=400
        )
    if form.redirect_url:
        return JsonResponse({"ok": True, "redirect": form.redirect_url})
    return JsonResponse({"ok": True, "message": form.success_message})


# --- rendering (shared with the builder's preview) -------------------------------------------


def capture_form_context(
    form: CaptureForm,
    *,
    action: str,
    token: str = "",
    meta: dict[str, str] | None = None,
    fields: list[FormField] | None = None,
    data: dict[str, list[str]] | None = None,
    errors: dict[str, list[str]] | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    """What ``leads/public/form_page.html#capture-form`` needs: the hosted page, the embed
    script and the builder's preview all render a form through it."""
    fields = list(form.fields.all()) if fields is None else fields
    data, errors = data or {}, errors or {}
    prefix = f"la-{form.slug}"
    rows = []
    for f in fields:
        posted = [v for v in data.get(f.name, []) if isinstance(v, str)]
        value = posted[0] if posted else (f.default_value if f.kind == FieldKind.HIDDEN else "")
        chosen = {v.lower() for v in posted}
        rows.append(
            {
                "field": f,
                "id": f"{prefix}-{f.name}",
                "input_type": INPUT_TYPES.get(f.kind, "text"),
                "autocomplete": AUTOCOMPLETE.get(f.maps_to, "on"),
                "value": value,
                "checked": any(v.lower() in submissions.TICKED for v in posted),
                "options": [(option, option.lower() in chosen) for option in f.options or []],
                "errors": errors.get(f.name, []),
            }
        )
    return {
        "form": form,
        "fields": fields,
        "rows": rows,
        "prefix": prefix,
        "action": action,
        "token": token,
        "meta": [(name, (meta or {}).get(name, "")) for name in META_INPUTS],
        "consent_checked": any(v.lower() in submissions.TICKED for v in data.get(CONSENT, [])),
        "consent_errors": errors.get(CONSENT, []),
        "form_errors": errors.get("__all__", []),
        "honeypot": HONEYPOT,
        "token_name": TOKEN,
        "preview": preview,
    }


def snippets(request: HttpRequest, form: CaptureForm) -> dict[str, str]:
    """The hosted page's address and the two snippets a marketer pastes on a site."""
    script_url = request.build_absolute_uri(static("js/leadapp-form.js"))
    capture = capture_form_context(
        form,
        action=_absolute(request, "public:form", form.slug),
        token=submissions.snippet_token(form),
        meta={},
    )
    return {
        "hosted_url": _absolute(request, "public:form", form.slug),
        "script": f'<div data-leadapp-form="{form.slug}"></div>\n<script src="{script_url}" async></script>',
        "html": render_to_string(CAPTURE_PARTIAL, {"capture": capture}).strip(),
    }


def _render_rejected(request, form: CaptureForm, data: dict[str, list[str]], exc: submissions.Rejected):
    if isinstance(exc, submissions.InvalidSubmission | submissions.TooQuick):
        # The token was good: keep it, so that the next try counts from the first showing.
        token = (data.get(TOKEN) or [""])[0]
    else:
        token = submissions.issue_token(form)
    errors = dict(exc.errors)
    if "__all__" not in errors:
        errors["__all__"] = [exc.message]
    meta = {name: (data.get(name) or [""])[0] for name in META_INPUTS}
    capture = capture_form_context(
        form,
        action=_absolute(request, "public:form", form.slug),
        token=token,
        meta=meta,
        data=data,
        errors=errors,
    )
    return render(request, "leads/public/form_page.html", {"cf": form, "capture": capture}, status=400)


# --- request parsing -------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The client's address; behind a proxy, from the header named in settings (for
    X-Forwarded-For the last entry: the one our own proxy added, which a client cannot forge)."""
    value = request.META.get(settings.LEADAPP_CLIENT_IP_HEADER) or request.META.get("REMOTE_ADDR", "")
    return value.split(",")[-1].strip()


def _rate_limited(request: HttpRequest) -> int:
    """Seconds to wait when this IP is over ``LEADAPP_FORM_RATE``, else 0. Counts every
    submission attempt, good or bad, on all forms."""
    usage = get_usage(
        request,
        group="leads.form-submit",
        key=lambda group, request: client_ip(request) or "unknown",
        rate=lambda group, request: settings.LEADAPP_FORM_RATE,  # read per request
        increment=True,
    )
    if usage and usage["should_limit"]:
        return max(1, usage["time_left"])
    return 0


def _meta(request: HttpRequest, data: dict[str, list[str]]) -> SubmissionMeta:
    def first(name: str) -> str:
        values = data.get(name) or [""]
        return values[0] if isinstance(values[0], str) else ""

    return SubmissionMeta.clean(
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        # Without JavaScript (the plain-HTML snippet) the page is the one that posted.
        page_url=first("la_page_url") or request.META.get("HTTP_REFERER", ""),
        referrer=first("la_referrer"),
        visitor_id=first("la_vid") or request.COOKIES.get("la_vid", ""),
        utm={key: first(key) for key in UTM_KEYS},
    )


def _request_data(request: HttpRequest) -> dict[str, list[str]]:
    if request.content_type != "application/json":
        return {key: request.POST.getlist(key) for key in request.POST}
    if len(request.body) > MAX_JSON_BYTES:
        raise ValueError("The submission is too large.")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    return {str(key): _as_list(value) for key, value in body.items()}


def _as_list(value) -> list[str]:
    if value is True:
        return ["on"]
    if value is None or value is False:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and not isinstance(v, bool)]
    if isinstance(value, str | int | float):
        return [str(value)]
    return []


def _absolute(request: HttpRequest, name: str, slug: str) -> str:
    return request.build_absolute_uri(reverse(name, args=[slug]))
