"""Lead pages. Each view is thin: parse, authorize, call a service or selector, render.
htmx requests get the named partial of the same template instead of the whole page."""

import functools
from html import escape

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadapp.params import positive_int
from leadapp.permissions import permission_required
from scoring.models import LeadScore

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
    queryset = queryset.only(*ROW_FIELDS)
    params = request.GET.copy()
    params.pop("page", None)
    if request.htmx and request.htmx.target == COUNT_ID:
        # The count the page left out (see selectors.list_total), loaded once the page shows.
        total, capped = selectors.count_capped(queryset, cap=selectors.LIST_COUNT_CAP)
        context = {"total": total, "total_is_capped": capped, "count_id": COUNT_ID}
        return render(request, "leads/lead_list.html#count", context)
    page_number = positive_int(request.GET.get("page"), default=1)
    offset = (page_number - 1) * PAGE_SIZE
    sort = selectors.list_sort(request.GET)
    page = selectors.searched_page(
        filterset, queryset, user=request.user, sort=sort, offset=offset, size=PAGE_SIZE
    )
    rows, has_next = page or selectors.page_of(queryset, offset, PAGE_SIZE, ids_first=filterset.searched)
    known = selectors.list_total(
        filterset, queryset, user=request.user, sort=sort, offset=offset, shown=len(rows), has_next=has_next
    )
    total, capped = known or (offset + len(rows), True)
    filters = QueryDict(mutable=True)  # the filters alone: no page, no sort, no blanks
    for key in params:
        values = [value for value in params.getlist(key) if value]
        if key != "sort" and values:
            filters.setlist(key, values)
    show_score = request.user.has_perm("scoring.view_leadscore")
    context = {
        "filterset": filterset,
        "selects": None if request.htmx else _filter_options(filterset),  # htmx swaps the results only
        "rows": _rows_html(rows, show_score),
        "page_number": page_number,
        "has_next": has_next,
        "has_previous": page_number > 1,
        "total": total,
        "total_is_capped": capped,
        "count_later": known is None,  # "more than {{ total }}", then the count (COUNT_ID)
        "count_id": COUNT_ID,
        "query_string": params.urlencode(),
        "filter_query": filters.urlencode(),  # what a saved segment or a bulk enrollment keeps
        "segments": _segments(request),
        "sorts": [
            (key, SORT_LABELS.get(key) or key.replace("_", " ").capitalize())
            for key in SORTS
            if key != "score" or show_score
        ],
        "sort": sort,
        "show_score": show_score,
    }
    template = "leads/lead_list.html#results" if request.htmx else "leads/lead_list.html"
    return render(request, template, context)


# The element of the list page that shows "N leads"; an htmx request aimed at it gets the count.
COUNT_ID = "lead-count"


def _segments(request: HttpRequest) -> list[SavedSegment] | None:
    """The saved segments, as quick links above the filters (not on htmx swaps of the results)."""
    if request.htmx or not request.user.has_perm("leads.view_savedsegment"):
        return None
    return list(SavedSegment.objects.only("name", "query").order_by("name")[:SEGMENT_LINKS])


# What a row shows (with the last activity, an annotation): the other columns' values would be
# read and converted for nothing, a quarter of the rows' cost (a timestamp with a time zone is
# loaded in Python, the custom attributes are parsed JSON).
ROW_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "company_name",
    "country",
    "source",
    "stage",
    "created_at",
    "owner__username",
    "score__total",
    "score__grade",
    "score__temperature",
)
# One row of the lead list. Built in Python, not with a template loop: 50 rows through the
# template engine cost more than the page's SQL (see the benchmark in the README). Every value
# is escaped here (html.escape, what Django's escape() does); the score cell is HTML already.
ROW = (
    '<tr><td><a href="%s%s/">%s</a></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
    '<td><span class="badge stage-%s">%s</span></td>%s<td>%s</td><td>%s</td><td>%s</td></tr>'
)


def _rows_html(leads: list[Lead], show_score: bool) -> str:
    detail = escape(reverse("leads:detail", args=[0]).removesuffix("0/"))
    language, tz = get_language(), timezone.get_current_timezone()
    sources, stages = _labels(Lead, "source", language), _labels(Lead, "stage", language)
    temperatures = _labels(LeadScore, "temperature", language)
    rows = []
    for lead in leads:
        source, stage = lead.source, lead.stage
        rows.append(
            ROW
            % (
                detail,
                lead.pk,
                escape(lead.full_name or "—"),
                escape(lead.email),
                escape(lead.company_name),
                escape(lead.country.code or ""),
                escape(sources.get(source, source)),
                escape(stage),
                escape(stages.get(stage, stage)),
                _score_cell(lead, temperatures) if show_score else "",
                "" if lead.owner is None else escape(str(lead.owner)),
                _day(lead.created_at, tz),
                _day(lead.last_activity_at, tz) or "—",
            )
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value escaped above


@functools.cache
def _labels(model, field: str, language: str) -> dict[str, str]:
    """The display names of a field's choices in ``language`` (``get_FOO_display``)."""
    return {str(value): str(label) for value, label in model._meta.get_field(field).flatchoices}


def _score_cell(lead: Lead, temperatures: dict[str, str]) -> str:
    try:
        score = lead.score
    except ObjectDoesNotExist:
        return '<td class="score-cell"><span class="muted" title="Not scored yet">—</span></td>'
    temperature = temperatures.get(str(score.temperature), str(score.temperature))
    return (
        f'<td class="score-cell"><strong>{score.total}</strong> <small class="score-label">'
        f"{escape(score.grade)}·{escape(temperature.lower())}</small></td>"
    )


def _day(moment, tz) -> str:
    """The local date of ``moment`` as YYYY-MM-DD ("" for None)."""
    return moment.astimezone(tz).strftime("%Y-%m-%d") if moment else ""


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
    name, cost more than the rest of the page; the fixed ones are escaped once per language."""
    selects = []
    for name, label, blank in FILTER_SELECTS:
        field = filterset.form[name]
        chosen = field.value()
        chosen = {str(v) for v in chosen} if isinstance(chosen, list) else {str(chosen or "")}
        if name == "owner":
            options = _options(_owner_choices(field.field), chosen)
        else:
            options = _options(_static_options(name, get_language()), chosen)
        selects.append((name, label, blank, mark_safe(options)))  # noqa: S308 - escaped in _option_html
    return selects


def _options(choices: "tuple[tuple[str, str, str], ...]", chosen: set[str]) -> str:
    """The <option>s of ``choices`` ((value, unselected, selected) HTML), ``chosen`` selected."""
    return "".join(selected if value in chosen else plain for value, plain, selected in choices)


def _option_html(value, text) -> tuple[str, str, str]:
    value, text = str(value), escape(str(text))
    return (
        value,
        f'<option value="{escape(value)}">{text}</option>',
        f'<option value="{escape(value)}" selected>{text}</option>',
    )


@functools.cache
def _static_options(name: str, language: str) -> tuple[tuple[str, str, str], ...]:
    """A filter's fixed choices as <option>s with their labels in ``language``, worked out once."""
    choices = LeadFilter.base_filters[name].extra["choices"]
    return tuple(_option_html(value, text) for value, text in choices if str(value) != "")


def _owner_choices(field) -> tuple[tuple[str, str, str], ...]:
    """The owner filter's choices: "Unassigned", then the active users (one query)."""
    choices = [(field.null_value, field.null_label)] if field.null_label is not None else []
    choices += [(field.prepare_value(user), field.label_from_instance(user)) for user in field.queryset]
    return tuple(_option_html(value, text) for value, text in choices if str(value) != "")


@require_GET
@permission_required("leads.view_lead")
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(
        Lead.objects.visible_to(request.user).select_related("owner", "last_activity"), pk=pk
    )
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
