"""The e-mail template pages (/nurturing/templates/...): the list, the editor with a live
preview for a chosen lead, copying and deleting. Marketing writes templates; Sales and
Managers read them (the editor page shows the template and its preview, without the form;
choosing another lead there reloads the preview of the saved template, never of posted text).

The preview, the lead chooser and the plain-text field are partials of
``nurturing/template_form.html``: htmx posts the unsaved form to the preview as the marketer
types, and template mistakes are shown there (and beside their field), never as an error page.
Saving, copying and deleting are plain form posts that also work without htmx. The preview
of posted text and the plain-text helper are for those who may write templates: rendering any
text sent is work done on the asker's behalf (``rendering`` bounds it, but only writers need it).
"""

from contextlib import suppress
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadapp.permissions import permission_required
from leads.filters import search
from leads.models import Lead

from . import rendering
from .models import EmailTemplate, Step
from .sanitize import MergeTagError, clean_html
from .template_forms import MAX_HTML, EmailTemplateForm

VIEW = "nurturing.view_emailtemplate"
ADD = "nurturing.add_emailtemplate"
CHANGE = "nurturing.change_emailtemplate"
DELETE = "nurturing.delete_emailtemplate"
VIEW_LEADS = "leads.view_lead"
PAGE = "nurturing/template_form.html"
REFRESH = "template-preview-refresh"  # htmx event: the preview reloads (another lead, new text)
TEMPLATE_FIELDS = ["subject", "preheader", "html_body", "text_body"]
LEAD_CHOICES = 15
STARTER_HTML = """<p>Hi {{ first_name or "there" }},</p>

<p>…</p>

<p>Best regards,<br>{{ owner_name or "The team" }}</p>

<p style="font-size:12px;color:#666666"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>"""


@require_GET
@permission_required(VIEW)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = EmailTemplate.objects.annotate(campaign_count=Count("steps__campaign", distinct=True))
    return render(request, "nurturing/template_list.html", {"templates": templates})


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, ADD)
def template_create(request: HttpRequest) -> HttpResponse:
    form = EmailTemplateForm(request.POST or None, initial={"html_body": STARTER_HTML})
    if request.method == "POST" and form.is_valid():
        template = form.save(commit=False)
        template.created_by = request.user
        template.save()
        messages.success(request, f"Template “{template}” created.")
        return redirect(template)
    return _page(request, None, form, status=400 if form.errors else 200)


def writer_required(view):
    """403 unless the user may create or change templates (and see them)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not (user.has_perm(VIEW) and (user.has_perm(ADD) or user.has_perm(CHANGE))):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "POST"])
@permission_required(VIEW)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor (read-only without the change permission); a POST saves. ``?preview=1`` gives
    the preview of the saved template alone (for ``preview_lead``): the read-only page's."""
    template = get_object_or_404(EmailTemplate, pk=pk)
    can_edit = request.user.has_perm(CHANGE)
    if request.method == "GET":
        if request.GET.get("preview") == "1":
            lead = _preview_lead(request, request.GET.get("preview_lead"))
            values = {name: getattr(template, name) for name in TEMPLATE_FIELDS}
            return render(request, f"{PAGE}#preview", _preview_context(values, lead))
        return _page(request, template, EmailTemplateForm(instance=template) if can_edit else None)
    if not can_edit:
        raise PermissionDenied
    # Bound to a copy: a refused form must not leave its values in the page's heading.
    form = EmailTemplateForm(request.POST, instance=EmailTemplate.objects.get(pk=pk))
    if form.is_valid():
        form.save()
        messages.success(request, "Template saved.")
        return redirect(template)
    return _page(request, template, form, status=400)


@require_POST
@permission_required(VIEW, ADD)
def template_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    original = get_object_or_404(EmailTemplate, pk=pk)
    name_length = EmailTemplate._meta.get_field("name").max_length
    copy = EmailTemplate.objects.create(
        name=f"Copy of {original.name}"[:name_length],
        **{name: getattr(original, name) for name in TEMPLATE_FIELDS},
        created_by=request.user,
    )
    messages.success(request, f"“{copy}” created. Rename it and change what you like: the original stays.")
    return redirect(copy)


@require_POST
@permission_required(VIEW, DELETE)
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(EmailTemplate, pk=pk)
    try:
        template.delete()
    except ProtectedError:
        messages.error(request, _in_use(template))
        return redirect(template)
    messages.success(request, f"Template “{template}” deleted.")
    return redirect("nurturing:template_list")


@require_POST
@writer_required
def template_preview(request: HttpRequest) -> HttpResponse:
    """The preview of the posted (unsaved) template for the chosen lead."""
    lead = _preview_lead(request, request.POST.get("preview_lead"))
    context = {**_preview_context(request.POST, lead), "oob": request.POST.get("live_errors") == "1"}
    return render(request, f"{PAGE}#preview", context)


@require_GET
@permission_required(VIEW, VIEW_LEADS)
def template_preview_leads(request: HttpRequest) -> HttpResponse:
    """The lead chooser's options for a search; the preview then shows the first of them."""
    query = request.GET.get("q", "").strip()
    leads = _lead_choices(request.user, query)
    context = {"preview_leads": leads, "preview_lead": leads[0] if leads else None, "lead_query": query}
    response = render(request, f"{PAGE}#lead-select", context)
    if leads:
        response["HX-Trigger-After-Settle"] = REFRESH
    return response


@require_POST
@writer_required
def template_plain_text(request: HttpRequest) -> HttpResponse:
    """The plain-text field filled from the posted HTML body (not saved until the form is)."""
    html_body = request.POST.get("html_body", "")[:MAX_HTML]  # the form refuses more anyway
    # Cleaned when it can be; else as it is: the text part has no markup to fear, and the HTML
    # body's mistake shows in the preview.
    with suppress(MergeTagError):
        html_body = clean_html(html_body)
    form = EmailTemplateForm(initial={"text_body": rendering.text_template_from_html(html_body)})
    response = render(request, f"{PAGE}#text-body", {"form": form, "text_generated": True})
    response["HX-Trigger-After-Settle"] = REFRESH
    return response


# --- helpers ---------------------------------------------------------------------------------


def _page(request: HttpRequest, template: EmailTemplate | None, form, *, status: int = 200):
    if form is None:  # read-only
        values = {name: getattr(template, name) for name in TEMPLATE_FIELDS}
    elif form.is_bound:
        values = {name: form.data.get(name, "") for name in TEMPLATE_FIELDS}
    else:
        values = {name: form[name].value() or "" for name in TEMPLATE_FIELDS}
    lead = _preview_lead(request, request.GET.get("preview_lead"))
    can_pick = request.user.has_perm(VIEW_LEADS)
    context = {
        "template": template,
        "form": form,
        "values": values,
        "merge_fields": [(f"{{{{ {name} }}}}", label) for name, label in rendering.MERGE_FIELDS.items()],
        "filters": rendering.FILTERS,
        "preview_leads": _lead_choices(request.user, "") if can_pick else [],
        "can_pick_lead": can_pick,
        **_preview_context(values, lead),
    }
    return render(request, PAGE, context, status=status)


def _preview_context(data, lead: Lead) -> dict:
    """The template in ``data`` rendered for ``lead``, or what stops it, by field."""
    fields = {name: data.get(name, "") for name in TEMPLATE_FIELDS}
    errors = {}
    try:
        if len(fields["html_body"]) > MAX_HTML:
            raise MergeTagError(f"At most {MAX_HTML:,} characters.")
        fields["html_body"] = clean_html(fields["html_body"])
    except MergeTagError as error:
        errors["html_body"] = str(error)
    for name, source in fields.items():
        if name not in errors:
            try:
                rendering.check_template(source)
            except rendering.TemplateError as error:
                errors[name] = str(error)
    preview = None
    if not errors:
        merge = rendering.merge_context(lead, unsubscribe_url="#", preferences_url="#")
        try:
            preview = rendering.render(EmailTemplate(**fields), merge)
        except rendering.TemplateError:
            for name, source in fields.items():  # which field fails for this lead
                try:
                    rendering.render_string(source, merge, autoescape=name == "html_body")
                except rendering.TemplateError as error:
                    errors[name] = str(error)
    labels = {name: EmailTemplate._meta.get_field(name).verbose_name for name in TEMPLATE_FIELDS}
    return {
        "preview": preview,
        "preview_document": _document(preview.html) if preview else "",
        "preview_lead": lead,
        "preview_errors": [(name, labels[name], errors[name]) for name in TEMPLATE_FIELDS if name in errors],
        "live_errors": [(name, errors.get(name, "")) for name in TEMPLATE_FIELDS],
        "adds_unsubscribe_footer": "unsubscribe_url" not in fields["html_body"],
    }


def _document(body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:8px;font-family:Arial,sans-serif">{body}</body></html>'
    )


def _preview_lead(request: HttpRequest, lead_id) -> Lead:
    """The chosen lead, else the newest; a sample for those who may not see leads (or none)."""
    if request.user.has_perm(VIEW_LEADS):
        leads = Lead.objects.visible_to(request.user).select_related("owner")
        lead = leads.filter(pk=lead_id).first() if str(lead_id or "").isdigit() else None
        lead = lead or leads.order_by("-created_at", "-id").first()
        if lead is not None:
            return lead
    return Lead(
        first_name="Alex",
        last_name="Sample",
        email="alex.sample@example.com",
        company_name="Example Ltd",
        job_title="Head of Marketing",
        industry="software",
    )


def _lead_choices(user, query: str) -> list[Lead]:
    visible = Lead.objects.visible_to(user)
    leads = search(visible.order_by("-created_at", "-id"), query)
    if query.isdigit():  # a lead's id
        leads = leads | visible.filter(pk=int(query))
    return list(leads[:LEAD_CHOICES])


def _in_use(template: EmailTemplate) -> str:
    steps = Step.objects.filter(template=template).select_related("campaign")
    names = sorted({step.campaign.name for step in steps})
    listed = ", ".join(f"“{name}”" for name in names)
    sends = f"the campaigns {listed} send it" if len(names) > 1 else f"the campaign {listed} sends it"
    kept = (
        " (a step removed from a running campaign keeps its e-mail, for the leads that went through it)"
        if any(step.removed for step in steps)
        else ""
    )
    return f"“{template}” cannot be deleted: {sends}. Take it out of their e-mail steps first{kept}."
