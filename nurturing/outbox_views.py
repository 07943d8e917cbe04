"""Internal pages about what was sent and to whom not: the outbox (every e-mail, as sent),
the suppression list, and retargeting audiences exported from saved segments.

Lists never COUNT a huge table: a page fetches one row more than it shows to know whether
there is a next one, and runs newest first on the primary key's index.
"""

import hashlib
import re
from collections.abc import Iterator

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadapp.params import positive_int
from leadapp.permissions import permission_required
from leads.exports import EXPORT_CHUNK, csv_lines
from leads.models import SavedSegment, normalize_email
from leads.selectors import count_capped

from . import links, sending, tracking
from .models import Campaign, Message, Suppression
from .outbox_forms import SuppressionForm
from .selectors import audience_leads

PAGE_SIZE = 50
AUDIENCE_COUNT_CAP = 100_000


# --- The outbox ---------------------------------------------------------------------------


@require_GET
@permission_required("nurturing.view_message")
def outbox(request: HttpRequest) -> HttpResponse:
    queryset = Message.objects.select_related("campaign").defer("html", "text").order_by("-pk")
    status = request.GET.get("status", "")
    if status in Message.Status.values:
        queryset = queryset.filter(status=status)
    campaign_id = positive_int(request.GET.get("campaign"), default=None)
    if campaign_id:
        queryset = queryset.filter(campaign_id=campaign_id)
    q = request.GET.get("q", "").strip()
    if q:
        queryset = queryset.filter(to_email__icontains=q)
    context = {
        **_page(request, queryset),
        "status": status,
        "statuses": Message.Status.choices,
        "campaign_id": campaign_id,
        "campaigns": Campaign.objects.order_by("name").values_list("pk", "name"),
        "q": q,
    }
    template = "nurturing/outbox.html#results" if request.htmx else "nurturing/outbox.html"
    return render(request, template, context)


@require_GET
@permission_required("nurturing.view_message")
def message(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(
        Message.objects.select_related("campaign", "step", "lead", "enrollment"), pk=pk
    )
    timestamps = [
        ("Written", message.created_at),
        ("Handed to a worker", message.enqueued_at),
        ("Sending started", message.claimed_at),
        ("Sent", message.sent_at),
        ("Opened", message.opened_at),
        ("Clicked", message.clicked_at),
        ("Unsubscribed", message.unsubscribed_at),
        ("Bounced", message.bounced_at),
        ("Complained", message.complained_at),
    ]
    context = {
        "message": message,
        "headers": message_headers(message),
        "timestamps": timestamps,
        "preview": untracked_html(message),
    }
    return render(request, "nurturing/outbox_message.html", context)


def message_headers(message: Message) -> list[tuple[str, str]]:
    """The headers the message goes out with."""
    sent_with = sending.envelope(message)
    headers = [("From", sent_with["from_email"]), ("To", message.to_email), ("Subject", message.subject)]
    headers += [("Reply-To", address) for address in sent_with["reply_to"]]
    return headers + list(sent_with["headers"].items())


def untracked_html(message: Message) -> str:
    """The HTML as sent, minus what would count the team's look as the lead's: the open
    pixel is dropped and tracked links point straight at their destination."""
    html = message.html
    if not html:
        return ""
    open_path = reverse("nurturing_public:open", args=[message.token])
    html = re.sub(r'<img\b[^>]*\bsrc="[^"]*' + re.escape(open_path) + r'"[^>]*>', "", html)
    click_path = reverse("nurturing_public:click", args=["-"]).removesuffix("-/")

    def destination(match: re.Match) -> str:
        try:
            _, url = links.read_click(match.group(2))
        except (signing.BadSignature, ValueError, TypeError):
            return match.group(0)
        return f"{match.group(1)}{escape(url)}{match.group(3)}"

    return re.sub(r'(href=")[^"]*' + re.escape(click_path) + r'([^/"]+)/(")', destination, html)


# --- The suppression list ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("nurturing.view_suppression")
def suppressions(request: HttpRequest) -> HttpResponse:
    """The list; a POST adds an address by hand (Marketing)."""
    form = SuppressionForm()
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("nurturing.add_suppression"):
            raise PermissionDenied
        form = SuppressionForm(request.POST)
        if form.is_valid():
            email, detail = form.cleaned_data["email"], form.cleaned_data["detail"]
            tracking.suppress(email, Suppression.Reason.MANUAL, f"Added by {request.user}. {detail}".strip())
            messages.success(request, f"{email} is on the suppression list: it gets no more campaign e-mail.")
            return redirect("nurturing:suppressions")
        status = 400
    queryset, reason, q = _suppression_queryset(request)
    context = {
        **_page(request, queryset),
        "form": form,
        "reason": reason,
        "reasons": Suppression.Reason.choices,
        "q": q,
    }
    template = "nurturing/suppressions.html#results" if request.htmx else "nurturing/suppressions.html"
    return render(request, template, context, status=status)


@require_POST
@permission_required("nurturing.delete_suppression")
def suppression_delete(request: HttpRequest, pk: int) -> HttpResponse:
    suppression = get_object_or_404(Suppression, pk=pk)
    suppression.delete()
    messages.success(
        request,
        f"{suppression.email} was removed from the suppression list. Its marketing consent is unchanged.",
    )
    return redirect("nurturing:suppressions")


@require_GET
@permission_required("nurturing.view_suppression", "leads.export_lead")
def suppressions_export(request: HttpRequest) -> StreamingHttpResponse:
    queryset, _, _ = _suppression_queryset(request)
    rows = queryset.values_list("email", "reason", "detail", "created_at").iterator(chunk_size=EXPORT_CHUNK)
    lines = csv_lines(["email", "reason", "detail", "created_at"], rows)
    return _csv_response(lines, f"suppressions-{timezone.localtime():%Y%m%d-%H%M}.csv")


def _suppression_queryset(request: HttpRequest) -> tuple[QuerySet[Suppression], str, str]:
    queryset = Suppression.objects.order_by("-pk")
    reason = request.GET.get("reason", "")
    if reason in Suppression.Reason.values:
        queryset = queryset.filter(reason=reason)
    q = request.GET.get("q", "").strip()
    if q:
        queryset = queryset.filter(email__icontains=q)
    return queryset, reason, q


# --- Retargeting audiences ---------------------------------------------------------------


def hashed_email(email: str) -> str:
    """What ad platforms' customer match expects: SHA-256 (lowercase hex) of the address
    trimmed and lower-cased."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


@require_GET
@permission_required("leads.view_savedsegment", "leads.export_lead")
def audiences(request: HttpRequest) -> HttpResponse:
    segments = SavedSegment.objects.order_by("name")
    chosen = None
    segment_id = positive_int(request.GET.get("segment"), default=None)
    if segment_id:
        chosen = get_object_or_404(SavedSegment, pk=segment_id)
    context = {"segments": segments, "chosen": chosen, "cap": AUDIENCE_COUNT_CAP}
    if chosen is not None and chosen.problem:
        context["refused"] = refused_audience(chosen)
    elif chosen is not None:
        context["in_segment"] = count_capped(chosen.leads(), cap=AUDIENCE_COUNT_CAP)
        context["included"] = count_capped(audience_leads(chosen), cap=AUDIENCE_COUNT_CAP)
    return render(request, "nurturing/audiences.html", context)


def refused_audience(segment: SavedSegment) -> str:
    return f"The audience of “{segment}” cannot be exported. {segment.problem}"


@require_GET
@permission_required("leads.view_savedsegment", "leads.export_lead")
def audience_export(request: HttpRequest, pk: int) -> HttpResponse:
    """One column, ``email``, of hashed addresses; streamed from a server-side cursor, so a
    million leads never sit in memory. A segment whose filters are no longer valid is
    refused (409), saying why: an empty file would look like an audience that emptied."""
    segment = get_object_or_404(SavedSegment, pk=pk)
    if segment.problem:
        return HttpResponse(refused_audience(segment), status=409, content_type="text/plain; charset=utf-8")
    emails = audience_leads(segment).order_by("pk").values_list("email", flat=True)

    def lines() -> Iterator[bytes]:
        yield b"email\n"
        for email in emails.iterator(chunk_size=EXPORT_CHUNK):
            yield (hashed_email(email) + "\n").encode()

    name = slugify(segment.name) or f"segment-{segment.pk}"
    return _csv_response(lines(), f"audience-{name}-{timezone.localtime():%Y%m%d}.csv")


# --- Helpers ------------------------------------------------------------------------------


def _page(request: HttpRequest, queryset: QuerySet) -> dict:
    """One page of ``queryset`` without counting it: one row more than a page tells whether
    there is a next."""
    page_number = positive_int(request.GET.get("page"), default=1)
    offset = (page_number - 1) * PAGE_SIZE
    rows = list(queryset[offset : offset + PAGE_SIZE + 1])
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "rows": rows[:PAGE_SIZE],
        "page_number": page_number,
        "has_next": len(rows) > PAGE_SIZE,
        "has_previous": page_number > 1,
        "query_string": params.urlencode(),
    }


def _csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
