"""The SDR's queue and the lead's handoff panel: claim, accept, reject, log a touch, reassign.

The queue page polls its live part (reminders and the table, ``#queue-live``) with htmx; the
panel where the SDR works one lead lives outside it, so a refresh never loses what is being
typed, and the open row stays marked (the page sends its id along). Each action answers an
htmx request with the part it changed and an ``HX-Trigger: queue-changed`` that refreshes the
table; without JavaScript, it redirects back with a message.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from leadapp.params import positive_int
from leadapp.permissions import permission_required

from . import filters
from . import handoff as handoffs
from .handoff_forms import REJECT_REASONS, ReassignForm, RejectForm, TouchForm, sales_users
from .lifecycle import stage_name
from .models import Handoff, Lead, Reminder, Stage

PAGE_SIZE = 25  # the top of a prioritized queue; a page renders in a third of the time of 50
WORK = ("leads.view_handoff", "leads.change_handoff")
SCOPES = [("", "Mine and the pool"), ("mine", "Mine"), ("pool", "The pool")]
STAGES = [(Stage.MQL, "To accept (MQL)"), (Stage.SAL, "Accepted (SAL)"), (Stage.SQL, "Qualified (SQL)")]
POLL_SECONDS = 20


def _may_see(request: HttpRequest) -> Q:
    if request.user.has_perm("leads.view_all_leads"):
        return Q()
    return Q(owner=request.user) | Q(owner__isnull=True)


def _handoff(request: HttpRequest, pk: int) -> Handoff:
    """An open or closed handoff the user may see (404 for a colleague's)."""
    return get_object_or_404(Handoff.objects.filter(_may_see(request)).select_related("lead", "owner"), pk=pk)


def sla_text(handoff: Handoff, now) -> tuple[str, bool]:
    """ "due in 2 h 10 min" / "overdue 35 min" for the next deadline, and whether it passed."""
    if handoff.due_at is None:
        return "", False
    seconds = int((handoff.due_at - now).total_seconds())
    minutes = abs(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        span = f"{days} d {hours} h"
    elif hours:
        span = f"{hours} h {minutes} min"
    else:
        span = f"{minutes} min"
    what = "accept" if handoff.accepted_at is None else "first touch"
    if seconds < 0:
        return f"{what} overdue {span}", True
    return f"{what} due in {span}", False


def _queue_context(request: HttpRequest, params=None) -> dict:
    """The queue as the filters in ``params`` (the query string; for an action, the page's
    filters posted along) ask for."""
    params = request.GET if params is None else params
    scope = params.get("scope", "") if params.get("scope", "") in dict(SCOPES) else ""
    see_all = request.user.has_perm("leads.view_all_leads")
    owner = positive_int(params.get("owner"), default=None) if see_all else None
    rows = handoffs.queue(request.user, scope=scope, owner=owner)
    stage = params.get("stage", "")
    if stage in dict(STAGES):
        rows = rows.filter(lead__stage=stage)
    query = params.get("q", "").strip()
    if query:
        rows = rows.filter(filters.matches(query, prefix="lead__"))
    # Page the ids (a narrow sort of handoff rows), then load the leads of the 50 shown.
    # Every visible id in order, in one narrow query (an SDR sees a few thousand): the count and
    # the page come from it, instead of a COUNT and a second sort.
    page = Paginator(list(rows.values_list("pk", flat=True)), PAGE_SIZE).get_page(params.get("page"))
    page.object_list = handoffs.with_leads(page.object_list)
    now = timezone.now()
    reminders = list(
        Reminder.objects.filter(
            owner=request.user, done_at__isnull=True, due_at__lte=now + timedelta(hours=24)
        )
        .select_related("lead")
        .order_by("due_at")[:20]
    )
    for reminder in reminders:
        reminder.is_due = reminder.due_at <= now
    open_row = positive_int(params.get("open"), default=None)
    return {
        "page": page,
        "rows_html": _rows_html(page.object_list, request.user, open_row),
        "reminders": reminders,
        "scope": scope,
        "scopes": SCOPES,
        "stage": stage,
        "stages": STAGES,
        "q": query,
        "owner": owner,
        "owners": list(sales_users()) if see_all else [],
        "open_row": open_row,
        "poll_seconds": POLL_SECONDS,
        "reject_reasons": REJECT_REASONS,
    }


# One row of the queue, built in Python: a page of 50 rows through the template engine cost
# three times as much (the benchmark's in-process figures). Accept posts with htmx (the CSRF
# token rides in the header base.html sets); without JavaScript, "Work" opens the lead's
# panel as a page, with real forms.
ROW = (
    '<tr id="row-{pk}" data-testid="queue-row" data-lead="{lead_id}"{current}>'
    '<td>{badge}<a href="{detail}">{name}</a><br><small class="muted">{subtitle}</small></td>'
    "<td>{score}</td>"
    '<td><span class="badge stage-{stage}">{stage_label}</span></td>'
    "<td>{owner}</td>"
    "<td>{sla}</td>"
    '<td class="row-actions">{accept}<a href="{panel}" role="button" class="secondary" data-testid="work" '
    'hx-get="{panel}" hx-target="#handoff-panel" hx-swap="innerHTML scroll:top">Work</a></td></tr>'
)
ACCEPT = (
    '<button type="button" data-testid="accept" title="{title}" hx-post="{url}" hx-target="#queue-live" '
    'hx-swap="outerHTML" hx-include="#queue-filters">Accept</button> '
)
HOT_BADGE = mark_safe(
    '<span class="badge hand-raise hot" title="Hot, and asked for sales">Hot hand-raiser</span> '
)
RAISE_BADGE = mark_safe('<span class="badge hand-raise" title="Asked for sales">Hand-raiser</span> ')
POOL = mark_safe("<em>Pool</em>")


def _rows_html(rows: list[Handoff], user, open_row: int | None) -> str:
    if not rows:
        return ""
    now = timezone.now()
    detail = reverse("leads:detail", args=[0]).removesuffix("0/")
    queue_base = reverse("leads:queue")
    may_work = user.has_perm("leads.change_handoff")
    html = []
    for row in rows:
        lead = row.lead
        sla, overdue = sla_text(row, now)
        subtitle = " · ".join(part for part in (lead.job_title, lead.company_name) if part)
        if row.reason:
            subtitle = f"{subtitle} — {row.reason}" if subtitle else row.reason
        accept = ""
        takeable = row.status == Handoff.Status.POOL or row.owner_id == user.pk
        if may_work and takeable and lead.stage == Stage.MQL and row.status != Handoff.Status.ACCEPTED:
            title = (
                "Take it from the pool and accept it"
                if row.owner_id is None
                else "Accept it (sales accepted)"
            )
            accept = format_html(ACCEPT, title=title, url=f"{queue_base}{row.pk}/accept/")
        html.append(
            format_html(
                ROW,
                pk=row.pk,
                lead_id=lead.pk,
                current=mark_safe(' aria-current="true" class="open-row"') if row.pk == open_row else "",
                badge=HOT_BADGE if row.hot_hand_raise else (RAISE_BADGE if row.hand_raise else ""),
                detail=f"{detail}{lead.pk}/",
                name=lead.full_name or lead.email,
                subtitle=subtitle,
                score=_score_html(lead),
                stage=lead.stage,
                stage_label=lead.get_stage_display(),
                owner=(row.owner.get_full_name() or row.owner.username) if row.owner else POOL,
                sla=format_html(
                    '<span class="{}" data-testid="sla">{}</span>', "error" if overdue else "", sla
                )
                if sla
                else "",
                accept=accept,
                panel=f"{queue_base}{row.pk}/",
            )
        )
    return format_html_join("\n", "{}", ((row,) for row in html))


def _score_html(lead: Lead) -> str:
    try:
        score = lead.score
    except ObjectDoesNotExist:
        return "—"
    return format_html(
        '<span class="badge score-badge temperature-{}">{}</span> {}',
        score.get_temperature_display().lower(),
        score.label,
        score.total,
    )


@require_GET
@permission_required("leads.view_handoff")
def queue(request: HttpRequest) -> HttpResponse:
    context = _queue_context(request)
    if request.htmx and request.htmx.target == "queue-live":
        return render(request, "leads/queue.html#queue-live", context)
    return render(request, "leads/queue.html", context)


def _panel_context(request: HttpRequest, handoff: Handoff, **forms) -> dict:
    lead = handoff.lead
    handoff.sla, handoff.overdue = sla_text(handoff, timezone.now())
    user = request.user
    mine = handoff.owner_id == user.pk
    return {
        "handoff": handoff,
        "lead": lead,
        "mine": mine,
        "can_work": user.has_perm("leads.change_handoff") and (mine or handoff.owner_id is None),
        "can_reassign": user.has_perm("leads.assign_handoff") and handoff.is_open,
        "touch_form": forms.get("touch_form") or TouchForm(),
        "reject_form": forms.get("reject_form") or RejectForm(),
        "reassign_form": forms.get("reassign_form") or ReassignForm(initial={"to": handoff.owner_id}),
        "recent": _summarized(lead.activities.order_by("-occurred_at", "-id")[:5]),
        "reject_reasons": REJECT_REASONS,
        "reminders": lead.reminders.filter(done_at__isnull=True).order_by("due_at"),
    }


def _summarized(activities) -> list:
    """Activities with a line a person reads: "Call · Connected", "Stage changed → SAL"."""
    outcomes = dict(handoffs.OUTCOMES)
    rows = list(activities)
    for activity in rows:
        props = activity.properties or {}
        text = activity.get_kind_display()
        if props.get("outcome"):
            text += f" · {outcomes.get(props['outcome'], props['outcome'])}"
        if activity.kind == "stage_changed" and props.get("to") in Stage.values:
            text += f" → {stage_name(props['to'])}"
        activity.summary = text
    return rows


def _panel(request: HttpRequest, handoff: Handoff, *, status: int = 200, changed: bool = False, **forms):
    response = render(
        request,
        "leads/handoff_panel.html#handoff-panel",
        _panel_context(request, handoff, **forms),
        status=status,
    )
    if changed:
        current = urlsplit(request.htmx.current_url or "").path if request.htmx else ""
        if current.startswith(reverse("leads:queue")):
            response["HX-Trigger"] = "queue-changed"  # the queue refreshes its table
        else:
            response["HX-Refresh"] = "true"  # the lead page shows the new stage and timeline
    return response


@require_GET
@permission_required("leads.view_handoff")
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """One lead's handoff, to work it: from the queue (htmx, into the side panel) or alone."""
    handoff = _handoff(request, pk)
    if request.htmx:
        return _panel(request, handoff)
    return render(request, "leads/handoff_panel.html", _panel_context(request, handoff))


@require_GET
@permission_required("leads.view_lead")
def lead_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead page's "Sales" panel: its open handoff, or the last one (htmx)."""
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    handoff = lead.handoffs.select_related("lead", "owner").order_by("-handed_at", "-id").first()
    if handoff is None:
        return HttpResponse('<p class="muted" data-testid="no-handoff">Not handed to sales yet.</p>')
    if request.htmx:
        return _panel(request, handoff)
    return redirect(reverse("leads:queue-panel", args=[handoff.pk]))


def _after(request: HttpRequest, handoff: Handoff, message: str, *, error: bool = False) -> HttpResponse:
    """The answer to a row action (claim, accept): the refreshed queue for htmx, with the
    message; a redirect otherwise."""
    (messages.error if error else messages.success)(request, message)
    if request.htmx:
        if request.htmx.target == "handoff-panel":
            handoff.refresh_from_db()
            return _panel(request, handoff, changed=True)
        # The page sent its filters along: answer with the queue as the SDR sees it, and with
        # the side panel too when it shows this lead (else it would still offer "Accept").
        context = _queue_context(request, request.POST)
        response = render(request, "leads/queue.html#queue-live", context)
        if context["open_row"] == handoff.pk:
            handoff.refresh_from_db()
            panel = render(
                request, "leads/handoff_panel.html#handoff-panel", _panel_context(request, handoff)
            )
            response.content += b'<div hx-swap-oob="innerHTML:#handoff-panel">' + panel.content + b"</div>"
        return response
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("leads:queue")
    return redirect(target)


@require_POST
@permission_required(*WORK)
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _handoff(request, pk)
    try:
        handoffs.claim(handoff, by=request.user)
    except handoffs.HandoffError as exc:
        return _after(request, handoff, str(exc), error=True)
    return _after(request, handoff, f"{handoff.lead} is yours now.")


@require_POST
@permission_required(*WORK)
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _handoff(request, pk)
    try:
        handoffs.accept(handoff, by=request.user)
    except handoffs.HandoffError as exc:
        return _after(request, handoff, str(exc), error=True)
    return _after(request, handoff, f"Accepted: {handoff.lead} is sales accepted (SAL).")


@require_POST
@permission_required(*WORK)
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _handoff(request, pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            handoffs.reject(handoff, by=request.user, reason=form.cleaned_data["reason"])
        except handoffs.HandoffError as exc:
            form.add_error(None, str(exc))
        else:
            return _after(request, handoff, f"Rejected: {handoff.lead} went back to marketing.")
    return _form_failed(request, handoff, reject_form=form)


@require_POST
@permission_required(*WORK)
def touch(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _handoff(request, pk)
    form = TouchForm(request.POST)
    if form.is_valid():
        if not (handoff.owner_id == request.user.pk or request.user.has_perm("leads.assign_handoff")):
            form.add_error(None, "Claim or accept the lead first: it is not yours.")
        else:
            try:
                handoffs.log_touch(handoff.lead, form.touch(), by=request.user)
            except handoffs.HandoffError as exc:
                form.add_error(None, str(exc))
            else:
                kind = dict(form.fields["kind"].choices)[form.cleaned_data["kind"]]
                return _after(request, handoff, f"{kind} logged.")
    return _form_failed(request, handoff, touch_form=form)


@require_POST
@permission_required("leads.view_handoff", "leads.assign_handoff")
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = _handoff(request, pk)
    form = ReassignForm(request.POST)
    if form.is_valid():
        to = form.cleaned_data["to"]
        try:
            handoffs.reassign(handoff, to=to, by=request.user)
        except handoffs.HandoffError as exc:
            form.add_error("to", str(exc))
        else:
            who = (to.get_full_name() or to.username) if to else "the pool"
            return _after(request, handoff, f"{handoff.lead} reassigned to {who}.")
    return _form_failed(request, handoff, reassign_form=form)


def _form_failed(request: HttpRequest, handoff: Handoff, **forms) -> HttpResponse:
    """A refused form: the panel again, with the errors beside the fields (400)."""
    handoff.refresh_from_db()
    if request.htmx:
        return _panel(request, handoff, status=400, **forms)
    return render(request, "leads/handoff_panel.html", _panel_context(request, handoff, **forms), status=400)


@require_POST
@permission_required("leads.view_handoff")
def reminder_done(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = get_object_or_404(Reminder, pk=pk, owner=request.user)
    handoffs.complete_reminder(reminder, by=request.user)
    if request.htmx:
        return render(request, "leads/queue.html#queue-live", _queue_context(request, request.POST))
    messages.success(request, "Done.")
    return _back(request)
