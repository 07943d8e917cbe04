"""Lead pages. Each view is thin: parse, authorize, call a service or selector, render.
htmx requests get the named partial of the same template instead of the whole page."""

import functools

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadapp.params import positive_int
from leadapp.permissions import permission_required

from . import selectors, services
from .filters import SORTS, LeadFilter
from .forms import LeadForm, StageChangeForm, conversion_panel
from .handoff_forms import REJECT_REASONS
from .lifecycle import FORCE_PERMISSION, TransitionNotAllowed
from .models import CreatedVia, Lead, SavedSegment

PAGE_SIZE = 50
SEGMENT_LINKS = 100
SORT_LABELS = {"score": "Score (highest first)"}


@require_GET
@permission_required("leads.view_lead")
def lead_list(request: HttpRequest) -> HttpResponse:
    filterset, queryset = selectors.lead_list(request.GET, request=request)
    # No COUNT over the whole table: fetch one row more than a page to know if there is a next.
    page_number = positive_int(request.GET.get("page"), default=1)
    offset = (page_number - 1) * PAGE_SIZE
    rows = list(queryset[offset : offset + PAGE_SIZE + 1])
    total, more = selectors.count_capped(queryset)
    params = request.GET.copy()
    params.pop("page", None)
    filters = QueryDict(mutable=True)  # the filters alone: no page, no sort, no blanks
    for key in params:
        values = [value for value in params.getlist(key) if value]
        if key != "sort" and values:
            filters.setlist(key, values)
    show_score = request.user.has_perm("scoring.view_leadscore")
    context = {
        "filterset": filterset,
        "selects": None if request.htmx else _filter_options(filterset),  # htmx swaps the results only
        "rows": _rows_html(rows[:PAGE_SIZE], show_score),
        "page_number": page_number,
        "has_next": len(rows) > PAGE_SIZE,
        "has_previous": page_number > 1,
        "total": total,
        "total_is_capped": more,
        "query_string": params.urlencode(),
        "filter_query": filters.urlencode(),  # what a saved segment or a bulk enrollment keeps
        "segments": _segments(request),
        "sorts": [
            (key, SORT_LABELS.get(key) or key.replace("_", " ").capitalize())
            for key in SORTS
            if key != "score" or show_score
        ],
        "sort": request.GET.get("sort") if request.GET.get("sort") in SORTS else "newest",
        "show_score": show_score,
    }
    template = "leads/lead_list.html#results" if request.htmx else "leads/lead_list.html"
    return render(request, template, context)


def _segments(request: HttpRequest) -> list[SavedSegment] | None:
    """The saved segments, as quick links above the filters (not on htmx swaps of the results)."""
    if request.htmx or not request.user.has_perm("leads.view_savedsegment"):
        return None
    return list(SavedSegment.objects.only("name", "query").order_by("name")[:SEGMENT_LINKS])


# One row of the lead list. Built in Python, not with a template loop: 50 rows through the
# template engine cost more than the page's SQL (see the benchmark in the README).
ROW = (
    '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
    '<td><span class="badge stage-{}">{}</span></td>{}<td>{}</td><td>{}</td><td>{}</td></tr>'
)


def _rows_html(leads: list[Lead], show_score: bool) -> str:
    detail = reverse("leads:detail", args=[0]).removesuffix("0/")
    return format_html_join(
        "\n",
        ROW,
        (
            (
                f"{detail}{lead.pk}/",
                lead.full_name or "—",
                lead.email,
                lead.company_name,
                lead.country.code or "",
                lead.get_source_display(),
                lead.stage,
                lead.get_stage_display(),
                _score_cell(lead) if show_score else "",
                lead.owner or "",
                _day(lead.created_at) or "",
                _day(lead.last_activity_at) or "—",
            )
            for lead in leads
        ),
    )


def _score_cell(lead: Lead) -> str:
    try:
        score = lead.score
    except ObjectDoesNotExist:
        return mark_safe('<td class="score-cell"><span class="muted" title="Not scored yet">—</span></td>')
    return format_html(
        '<td class="score-cell"><strong>{}</strong> <small class="score-label">{}·{}</small></td>',
        score.total,
        score.grade,
        score.get_temperature_display().lower(),
    )


def _day(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d") if moment else ""


# The filter selects of the list page: field, label, what "no filter" reads.
FILTER_SELECTS = [
    ("stage", "Stage", "All stages"),
    ("source", "Source", "All sources"),
    ("country", "Country", "All countries"),
    ("owner", "Owner", "Any owner"),
]


def _filter_options(filterset) -> list[tuple[str, str, str, str]]:
    """(name, label, blank label, <option>s) of each filter select. The options are built
    here rather than in the template: looping over 250 countries there, translating each
    name, cost more than the rest of the page."""
    selects = []
    for name, label, blank in FILTER_SELECTS:
        field = filterset.form[name]
        chosen = field.value()
        chosen = {str(v) for v in chosen} if isinstance(chosen, list) else {str(chosen or "")}
        choices = field.field.choices if name == "owner" else _static_choices(name, get_language())
        rows = ((value, " selected" if str(value) in chosen else "", text) for value, text in choices)
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>', (row for row in rows if row[0] != "")
        )
        selects.append((name, label, blank, options))
    return selects


@functools.cache
def _static_choices(name: str, language: str) -> tuple[tuple[str, str], ...]:
    """A filter's fixed choices with their labels in ``language``, worked out once."""
    return tuple((str(value), str(label)) for value, label in LeadFilter.base_filters[name].extra["choices"])


@require_GET
@permission_required("leads.view_lead")
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user).select_related("owner"), pk=pk)
    return _detail_page(request, lead)


def _detail_page(
    request: HttpRequest, lead: Lead, stage_form: StageChangeForm | None = None, conversion_form=None
) -> HttpResponse:
    activities, more = selectors.lead_timeline(lead)
    if stage_form is None and _may_change_stage(request.user):
        stage_form = StageChangeForm(lead=lead, user=request.user)
    can_edit = request.user.has_perm("leads.change_lead")
    invalid = bool(stage_form and stage_form.errors) or bool(conversion_form and conversion_form.errors)
    context = {
        "lead": lead,
        "activities": activities,
        "more": more,
        "stage_changes": lead.stage_changes.select_related("changed_by")[:20],
        "stage_durations": selectors.stage_durations(lead),
        "can_edit": can_edit,
        "stage_form": stage_form,
        "conversion": conversion_panel(lead, can_convert=can_edit, submitted=conversion_form),
        "reject_reasons": REJECT_REASONS,
    }
    return render(request, "leads/lead_detail.html", context, status=400 if invalid else 200)


def _may_change_stage(user) -> bool:
    return user.has_perm("leads.change_lead") or user.has_perm(FORCE_PERMISSION)


@require_POST
@permission_required("leads.view_lead")
def lead_stage(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead page's "Change stage": a move the rules allow, or a manager's forced one."""
    if not _may_change_stage(request.user):
        raise PermissionDenied
    if request.POST.get("force") and not request.user.has_perm(FORCE_PERMISSION):
        raise PermissionDenied("Only a manager may force a stage change.")
    lead = get_object_or_404(Lead.objects.visible_to(request.user).select_related("owner"), pk=pk)
    form = StageChangeForm(request.POST, lead=lead, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.change_stage(
                lead, to_stage=data["to_stage"], by=request.user, reason=data["reason"], forced=form.forced
            )
        except TransitionNotAllowed as exc:  # the lead moved since the page was shown
            lead.refresh_from_db()
            form.add_error("to_stage", str(exc))
        else:
            messages.success(request, f"Stage changed to {lead.get_stage_display()}.")
            return redirect(lead)
    return _detail_page(request, lead, form)


@require_GET
@permission_required("leads.view_lead")
def lead_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The next page of the timeline, for the "Load more" button."""
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    before = positive_int(request.GET.get("before"), default=None)
    activities, more = selectors.lead_timeline(lead, before_id=before)
    context = {"lead": lead, "activities": activities, "more": more}
    return render(request, "leads/lead_detail.html#timeline-page", context)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_lead", "leads.change_lead")
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    form = LeadForm(request.POST or None, instance=lead, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("stage_reason", "")
        data.pop("force", None)
        try:
            services.update_lead(lead, data=data, by=request.user, reason=reason, forced=form.forced)
        except services.DuplicateEmail:
            form.add_error("email", "Another lead already has this e-mail.")
        except TransitionNotAllowed as exc:  # the lead moved since the form was shown
            form.add_error("stage", str(exc))
        else:
            messages.success(request, "Lead saved.")
            return redirect(lead)
    status = 400 if form.errors else 200
    return render(request, "leads/lead_form.html", {"form": form, "lead": lead}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("leads.add_lead")
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        email, custom = data.pop("email"), data.pop("custom")
        try:
            lead = services.create_lead(
                email=email, data=data, custom=custom, created_via=CreatedVia.MANUAL, by=request.user
            )
        except services.DuplicateEmail as exc:
            form.add_error("email", f"A lead with this e-mail already exists: {exc.lead}.")
        else:
            messages.success(request, "Lead created.")
            return redirect(lead)
    status = 400 if form.errors else 200
    return render(request, "leads/lead_form.html", {"form": form, "lead": None}, status=status)
