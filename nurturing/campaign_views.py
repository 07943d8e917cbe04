"""The campaign pages (/nurturing/): the overview of the campaigns, a campaign's page (its
settings, the step builder, start/pause/archive, its enrollments), its report (and the
report as CSV), and enrolling leads from the lead pages (one lead, or every lead matching
the lead list's filters). Sales and Managers look; Marketing builds, runs and enrolls.

The campaign page's sections are partials of ``nurturing/campaign.html`` that htmx swaps;
every action also works without htmx (a redirect back to the page, or the page with the
errors). What changes a campaign's life or its enrollments is ``nurturing.services``.
"""

from django.contrib import messages
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leadapp.permissions import permission_required
from leads.exports import csv_lines
from leads.filters import LeadFilter
from leads.models import Lead
from leads.selectors import count_capped

from . import selectors, services
from .campaign_forms import (
    CampaignChoiceForm,
    CampaignSettingsForm,
    EnrollLeadForm,
    NewCampaignForm,
    StepForm,
)
from .models import Campaign, Enrollment, Step

VIEW = "nurturing.view_campaign"
CHANGE = "nurturing.change_campaign"
ENROLL = "nurturing.add_enrollment"
UNENROLL = "nurturing.change_enrollment"
PAGE = "nurturing/campaign.html"
NEW_STEP = "new-step"
ARCHIVED_LOCKED = "An archived campaign cannot be changed."
# Start, pause, resume, archive: (service, message on success).
LIFECYCLE = {
    "start": (services.activate, "Started: leads enrolled in it now go through its steps."),
    "resume": (services.activate, "Resumed: due steps run again and held e-mails go out."),
    "pause": (services.pause, "Paused: no step runs and no e-mail is sent until it is resumed."),
    "archive": (services.archive, "Archived."),
}


# --- The overview and a new campaign ---------------------------------------------------------


@require_GET
@permission_required(VIEW)
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "nurturing/overview.html", {"campaigns": selectors.campaign_list()})


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, "nurturing.add_campaign")
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = NewCampaignForm(request.POST or None, instance=Campaign(created_by=request.user))
    if request.method == "POST" and form.is_valid():
        campaign = form.save()
        messages.success(request, "Campaign created as a draft. Choose what starts it and add its steps.")
        return redirect(campaign)
    status = 400 if form.errors else 200
    return render(request, "nurturing/campaign_create.html", {"form": form}, status=status)


# --- The campaign page ----------------------------------------------------------------------


@require_GET
@permission_required(VIEW)
def campaign(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _campaign(pk))


@require_POST
@permission_required(VIEW, CHANGE)
def campaign_settings(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        return _refused(request, campaign, "settings", ARCHIVED_LOCKED)
    # Bound to a copy: a rejected form must not leave its values on the page's other sections.
    form = CampaignSettingsForm(request.POST, instance=Campaign.objects.get(pk=pk), prefix="settings")
    if not form.is_valid():
        return _section(request, campaign, "settings", forms={"settings": form}, status=400)
    campaign = form.save()
    return _section(request, campaign, "settings", saved="Settings saved.")


@require_POST
@permission_required(VIEW, CHANGE)
def campaign_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Start, pause, resume or archive (``action``)."""
    campaign = _campaign(pk)
    action = request.POST.get("action", "")
    if action not in LIFECYCLE:
        messages.error(request, "Unknown action.")
        return _go(request, campaign)
    service, done = LIFECYCLE[action]
    try:
        result = service(campaign)
    except services.CampaignError as error:
        messages.error(request, f"“{campaign}” was not {_past(action)}: {error}")
    else:
        if action == "archive":
            done = f"Archived: {result} lead{'s' if result != 1 else ''} left the campaign."
        messages.success(request, done)
    return _go(request, campaign)


def _go(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """After a change of status: the page again (htmx asked for a confirmation first)."""
    url = campaign.get_absolute_url()
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _past(action: str) -> str:
    return {"start": "started", "resume": "resumed", "pause": "paused", "archive": "archived"}[action]


# --- The step builder -----------------------------------------------------------------------


@require_GET
@permission_required(VIEW)
def steps(request: HttpRequest, pk: int) -> HttpResponse:
    """The steps section (e.g. after Cancel)."""
    return _section(request, _campaign(pk), "steps")


@require_GET
@permission_required(VIEW, CHANGE)
def step_fields(request: HttpRequest, pk: int) -> HttpResponse:
    """The fields of the step form for the kind (and condition) chosen in it: htmx asks
    again when either changes. What was typed in the other fields stays."""
    campaign = _campaign(pk)
    step_pk = request.GET.get("step", "")
    step = _step(campaign, int(step_pk)) if step_pk.isdigit() else Step(campaign=campaign)
    prefix = _prefix(step)
    typed = {}
    for name in StepForm.Meta.fields:
        key = f"{prefix}-{name}"
        if key in request.GET:
            values = request.GET.getlist(key)
            typed[name] = values if name == "wait_weekdays" else values[-1]
    form = StepForm(initial=typed, prefix=prefix, instance=step, campaign=campaign)
    return render(request, f"{PAGE}#step-fields", {"campaign": campaign, "form": form, "step": step})


@require_POST
@permission_required(VIEW, CHANGE, "nurturing.add_step")
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        return _refused(request, campaign, "steps", ARCHIVED_LOCKED)
    form = StepForm(request.POST, prefix=NEW_STEP, instance=Step(campaign=campaign), campaign=campaign)
    if not form.is_valid():
        return _section(request, campaign, "steps", forms={NEW_STEP: form}, status=400)
    try:
        with transaction.atomic():
            Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # one add at a time
            step = form.save(commit=False)
            step.position = (campaign.steps.aggregate(last=Max("position"))["last"] or 0) + 1
            step.save()
            _check_live_flow(campaign)
    except services.CampaignError as error:
        return _section(request, campaign, "steps", forms={NEW_STEP: form}, error=str(error), status=400)
    return _section(request, campaign, "steps", saved=f"Step added: {step.describe_step()}.")


def _check_live_flow(campaign: Campaign) -> None:
    """A live campaign's flow is checked on every change (a draft's when it starts)."""
    if campaign.is_live:
        services.check_flow(campaign)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, CHANGE, "nurturing.change_step")
def step_edit(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    """GET: the step as a form in the list; POST: save it."""
    campaign = _campaign(pk)
    step = _step(campaign, step_pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        return _refused(request, campaign, "steps", ARCHIVED_LOCKED)
    data = request.POST if request.method == "POST" else None
    form = StepForm(data, prefix=_prefix(step), instance=step, campaign=campaign)
    if request.method == "GET":
        return _section(request, campaign, "steps", forms={step.pk: form}, plain_page=True)
    if not form.is_valid():
        return _section(request, campaign, "steps", forms={step.pk: form}, status=400)
    try:
        with transaction.atomic():
            step = form.save()
            _check_live_flow(campaign)
    except services.CampaignError as error:
        return _section(request, campaign, "steps", forms={step.pk: form}, error=str(error), status=400)
    return _section(request, campaign, "steps", saved=f"Step saved: {step.describe_step()}.")


@require_POST
@permission_required(VIEW, CHANGE, "nurturing.change_step")
def step_move(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        return _refused(request, campaign, "steps", ARCHIVED_LOCKED)
    up = request.POST.get("direction") != "down"
    if not services.move_step(campaign, int(step_pk), up=up):
        return _refused(request, campaign, "steps", "This step is no longer in the campaign.", status=404)
    return _section(request, campaign, "steps", saved="Step moved.")


@require_POST
@permission_required(VIEW, CHANGE, "nurturing.delete_step")
def step_delete(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    """In a live campaign (or one with enrollments) the step is only marked removed: the
    leads waiting on it move on to the step after it."""
    campaign = _campaign(pk)
    step = _step(campaign, step_pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        return _refused(request, campaign, "steps", ARCHIVED_LOCKED)
    description = step.describe_step()
    services.remove_step(step)
    return _section(request, campaign, "steps", saved=f"Step removed: {description}.")


# --- Enrollments ----------------------------------------------------------------------------


@require_POST
@permission_required(VIEW, ENROLL)
def enrollment_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Enroll one lead, by its e-mail or ID."""
    campaign = _campaign(pk)
    form = EnrollLeadForm(request.POST, prefix="enroll")
    if not form.is_valid():
        return _section(request, campaign, "enrollments", forms={"enroll": form}, status=400)
    lead = form.cleaned_data["lead"]
    try:
        count = services.enroll(campaign, Lead.objects.filter(pk=lead.pk), via="manual", by=request.user)
    except services.CampaignError as error:
        return _refused(request, campaign, "enrollments", str(error))
    if not count:
        return _refused(request, campaign, "enrollments", _not_enrolled(lead, campaign))
    return _section(request, campaign, "enrollments", saved=f"{lead.email} enrolled.")


@require_POST
@permission_required(VIEW, UNENROLL)
def enrollment_remove(request: HttpRequest, pk: int, enrollment_pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("lead"), pk=enrollment_pk, campaign=campaign
    )
    removed = services.unenroll(Enrollment.objects.filter(pk=enrollment.pk))
    text = f"{enrollment.lead.email} removed from the campaign." if removed else "The lead had already left."
    if request.POST.get("next") == "lead":
        messages.success(request, text)
        return redirect(enrollment.lead)
    return _section(request, campaign, "enrollments", saved=text)


def _not_enrolled(lead: Lead, campaign: Campaign) -> str:
    if campaign.enrollments.filter(lead=lead, status=Enrollment.Status.ACTIVE).exists():
        return f"{lead.email} is already in “{campaign}”."
    return f"{lead.email} went through “{campaign}” before, and it does not allow re-enrollment."


# --- The report -----------------------------------------------------------------------------


@require_GET
@permission_required(VIEW)
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    context = {"campaign": campaign, "report": selectors.campaign_report(campaign)}
    return render(request, "nurturing/campaign_report.html", context)


@require_GET
@permission_required(VIEW)
def campaign_report_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    campaign = _campaign(pk)
    rows = selectors.report_rows(selectors.campaign_report(campaign))
    response = StreamingHttpResponse(
        csv_lines(selectors.REPORT_COLUMNS, rows), content_type="text/csv; charset=utf-8"
    )
    filename = f"campaign-{campaign.pk}-report-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --- Enrolling from the lead pages ------------------------------------------------------------


@require_GET
@permission_required("leads.view_lead", "nurturing.view_enrollment")
def lead_campaigns(request: HttpRequest, lead_pk: int) -> HttpResponse:
    """The lead page's "Campaigns" panel (loaded with htmx; on its own, a page)."""
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=lead_pk)
    context = {
        "lead": lead,
        "enrollments": selectors.lead_enrollments(lead),
        "enroll_form": CampaignChoiceForm() if request.user.has_perm(ENROLL) else None,
    }
    template = "nurturing/campaign_lead_panel.html"
    return render(request, f"{template}#lead-campaigns" if request.htmx else template, context)


@require_POST
@permission_required("leads.view_lead", ENROLL)
def enroll_lead(request: HttpRequest, lead_pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=lead_pk)
    form = CampaignChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an active campaign to enroll the lead in.")
        return redirect(lead)
    campaign = form.cleaned_data["campaign"]
    try:
        count = services.enroll(campaign, Lead.objects.filter(pk=lead.pk), via="manual", by=request.user)
    except services.CampaignError as error:
        messages.error(request, str(error))
    else:
        if count:
            messages.success(request, f"Enrolled in “{campaign}”.")
        else:
            messages.error(request, _not_enrolled(lead, campaign))
    return redirect(lead)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_lead", ENROLL)
def enroll_bulk(request: HttpRequest) -> HttpResponse:
    """Every lead matching the lead list's filters (``query``, its query string) into a
    campaign: one INSERT … SELECT, however many leads match. GET: the form (the lead list
    loads it with htmx; on its own, a page)."""
    query = QueryDict(
        (request.POST if request.method == "POST" else request.GET).get("query", "")
    ).urlencode()
    filterset = LeadFilter(QueryDict(query), queryset=Lead.objects.all())
    back = reverse("leads:list") + (f"?{query}" if query else "")
    if request.method == "GET":
        form = CampaignChoiceForm()
        matching = count_capped(filterset.qs, cap=10_000) if filterset.is_valid() else (0, False)
        context = {"form": form, "query": query, "back": back, "matching": matching, "filterset": filterset}
        template = "nurturing/campaign_enroll_bulk.html"
        return render(request, f"{template}#enroll-bulk-form" if request.htmx else template, context)
    form = CampaignChoiceForm(request.POST)
    if not filterset.is_valid():
        messages.error(request, "The filters are not valid; nobody was enrolled.")
    elif not form.is_valid():
        messages.error(request, "Choose an active campaign; nobody was enrolled.")
    else:
        campaign = form.cleaned_data["campaign"]
        try:
            count = services.enroll(campaign, filterset.qs, via="bulk", by=request.user)
        except services.CampaignError as error:
            messages.error(request, f"Nobody was enrolled: {error}")
        else:
            messages.success(
                request,
                f"{count:,} lead{'s' if count != 1 else ''} enrolled in “{campaign}” "
                "(matching leads already in it, or done with it, were left as they were).",
            )
    return redirect(back)


# --- Helpers --------------------------------------------------------------------------------


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("trigger_form", "trigger_segment"), pk=pk)


def _step(campaign: Campaign, step_pk) -> Step:
    return get_object_or_404(Step, pk=step_pk, campaign=campaign, removed=False)


def _prefix(step: Step) -> str:
    return f"step-{step.pk}" if step.pk else NEW_STEP


def _context(request: HttpRequest, campaign: Campaign, forms: dict | None = None, **extra) -> dict:
    """Everything the campaign page shows; ``forms`` are bound forms to show instead of the
    empty ones, by key: "settings", NEW_STEP, a step's pk (its edit form), "enroll"."""
    forms = forms or {}
    user = request.user
    editable = campaign.status != Campaign.Status.ARCHIVED
    can_change = editable and user.has_perm(CHANGE)
    steps = selectors.campaign_steps(campaign)
    numbers = {step.pk: number for number, step in enumerate(steps, start=1)}
    for step in steps:
        step.number = numbers[step.pk]
        step.form = forms.get(step.pk)
        step.yes_number = numbers.get(step.yes_step_id)
        step.no_number = numbers.get(step.no_step_id)
    add_form = None
    if can_change and user.has_perm("nurturing.add_step"):
        add_form = forms.get(NEW_STEP) or StepForm(
            prefix=NEW_STEP, instance=Step(campaign=campaign), campaign=campaign
        )
    accepts = campaign.status in (Campaign.Status.ACTIVE, Campaign.Status.PAUSED)
    return {
        "campaign": campaign,
        "can_change": can_change,
        "can_add_step": can_change and user.has_perm("nurturing.add_step"),
        "can_change_step": can_change and user.has_perm("nurturing.change_step"),
        "can_delete_step": can_change and user.has_perm("nurturing.delete_step"),
        "can_enroll": accepts and user.has_perm(ENROLL),
        "can_unenroll": user.has_perm(UNENROLL),
        "settings_form": forms.get("settings") or CampaignSettingsForm(instance=campaign, prefix="settings"),
        "steps": steps,
        "add_form": add_form,
        "counts": selectors.enrollment_counts(campaign),
        "latest": selectors.latest_enrollments(campaign),
        "enroll_form": forms.get("enroll") or EnrollLeadForm(prefix="enroll"),
        **extra,
    }


def _page(request: HttpRequest, campaign: Campaign, *, forms: dict | None = None, status: int = 200, **extra):
    return render(request, PAGE, _context(request, campaign, forms, **extra), status=status)


ANCHORS = {"settings": "campaign-settings", "steps": "campaign-steps", "enrollments": "campaign-enrollments"}


def _section(
    request: HttpRequest,
    campaign: Campaign,
    partial: str,
    *,
    forms: dict | None = None,
    saved: str = "",
    error: str = "",
    status: int = 200,
    plain_page: bool = False,
) -> HttpResponse:
    """A section of the page for htmx; otherwise back to the page (with a message), or the
    page with the errors (or, ``plain_page``, with the forms open)."""
    if not request.htmx:
        if saved or (error and not forms):
            messages.add_message(request, messages.SUCCESS if saved else messages.ERROR, saved or error)
            return redirect(f"{campaign.get_absolute_url()}#{ANCHORS[partial]}")
        if forms or plain_page or status != 200:
            return _page(request, campaign, forms=forms, status=status)
        return redirect(f"{campaign.get_absolute_url()}#{ANCHORS[partial]}")
    context = _context(request, campaign, forms, saved=saved, error=error)
    return render(request, f"{PAGE}#{partial}", context, status=status)


def _refused(request: HttpRequest, campaign: Campaign, partial: str, error: str, *, status: int = 400):
    return _section(request, campaign, partial, error=error, status=status)
