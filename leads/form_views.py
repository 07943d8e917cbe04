"""The form builder (/leads/forms/...): marketers build capture forms, Sales and Managers
look. One page per form; its sections (settings, fields, publishing, preview) are partials of
``leads/forms/form_builder.html`` that htmx swaps, and every action also works without htmx
(a redirect back to the page, or the page with its errors)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadapp.permissions import permission_required

from . import form_builder
from .form_forms import CaptureFormSettingsForm, FormFieldForm, NewCaptureFormForm
from .models import CaptureForm, FormField
from .public_views import capture_form_context, snippets

TEMPLATE = "leads/forms/form_builder.html"
CHANGED = "capture-form-changed"  # htmx event: the preview and publishing sections reload
STATUS_ACTIONS = {
    "publish": (CaptureForm.Status.LIVE, "Published: the form accepts submissions."),
    "unpublish": (CaptureForm.Status.DRAFT, "Unpublished: the form is a draft again."),
    "archive": (CaptureForm.Status.ARCHIVED, "Archived: the form no longer accepts submissions."),
}


@require_GET
@permission_required("leads.view_captureform")
def form_list(request: HttpRequest) -> HttpResponse:
    forms = CaptureForm.objects.annotate(
        submission_count=Count("submissions"), last_submission_at=Max("submissions__submitted_at")
    ).order_by("-updated_at", "-id")
    return render(request, "leads/forms/form_list.html", {"forms": forms})


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_captureform", "leads.add_captureform")
def form_create(request: HttpRequest) -> HttpResponse:
    form = NewCaptureFormForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        capture_form = form_builder.create_form(
            name=form.cleaned_data["name"], slug=form.cleaned_data["slug"], by=request.user
        )
        messages.success(request, "Form created with its e-mail field. Add fields, then publish it.")
        return redirect(capture_form)
    status = 400 if form.errors else 200
    return render(request, "leads/forms/form_create.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_captureform")
def form_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The builder page; a POST saves the settings."""
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    if request.method == "GET":
        return _page(request, capture_form)
    _require_change(request)
    # Bound to a copy: a rejected form must not leave its values on the page's other sections.
    settings_form = CaptureFormSettingsForm(request.POST, instance=CaptureForm.objects.get(pk=pk))
    if settings_form.is_valid():
        settings_form.save()
        if not request.htmx:
            messages.success(request, "Settings saved.")
            return redirect(capture_form)
        capture_form.refresh_from_db()
        context = _context(request, capture_form, settings_form=settings_form, settings_saved=True)
        return _changed(render(request, f"{TEMPLATE}#settings", context))
    if request.htmx:
        context = _context(request, capture_form, settings_form=settings_form)
        return render(request, f"{TEMPLATE}#settings", context, status=400)
    return _page(request, capture_form, settings_form=settings_form, status=400)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_captureform")
def form_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The form as visitors see it; a POST of the settings form previews unsaved settings."""
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    if request.method == "POST":
        draft = CaptureFormSettingsForm(request.POST, instance=CaptureForm.objects.get(pk=pk))
        draft.is_valid()  # applies the valid values to the (never saved) instance
        capture_form = draft.instance
        capture_form.slug = CaptureForm.objects.values_list("slug", flat=True).get(pk=pk)
    context = {"cf": capture_form, "preview": _preview(capture_form)}
    return render(request, f"{TEMPLATE}#preview", context)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_captureform")
def form_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The publishing section; a POST publishes, unpublishes or archives."""
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    if request.method == "GET":
        return render(request, f"{TEMPLATE}#publish", _context(request, capture_form))
    _require_change(request)
    status, message = STATUS_ACTIONS.get(request.POST.get("action", ""), (None, ""))
    error = ""
    if status is None:
        error = "Unknown action."
    else:
        try:
            form_builder.set_status(capture_form, status)
        except form_builder.CannotPublish as exc:
            error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, message)
        return redirect(capture_form)
    context = _context(request, capture_form, status_message=message, status_error=error)
    return render(request, f"{TEMPLATE}#publish", context, status=400 if error else 200)


@require_POST
@permission_required("leads.view_captureform", "leads.change_captureform")
def field_add(request: HttpRequest, pk: int) -> HttpResponse:
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    form = FormFieldForm(request.POST, prefix="new", capture_form=capture_form)
    if form.is_valid():
        field = form_builder.add_field(capture_form, form.save(commit=False))
        return _fields_response(request, capture_form, saved=f"Field “{field.label}” added.")
    return _fields_response(request, capture_form, add_form=form, status=400)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_captureform", "leads.change_captureform")
def field_edit(request: HttpRequest, pk: int, field_pk: int) -> HttpResponse:
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    field = get_object_or_404(FormField, pk=field_pk, form=capture_form)
    form = FormFieldForm(
        request.POST or None, instance=field, prefix=f"field-{field.pk}", capture_form=capture_form
    )
    if request.method == "POST" and form.is_valid():
        form_builder.save_field(form.save(commit=False))
        return _fields_response(request, capture_form, saved=f"Field “{field.label}” saved.")
    status = 400 if form.errors else 200
    return _fields_response(request, capture_form, edit_form=form, status=status)


@require_POST
@permission_required("leads.view_captureform", "leads.change_captureform")
def field_move(request: HttpRequest, pk: int, field_pk: int) -> HttpResponse:
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    field = get_object_or_404(FormField, pk=field_pk, form=capture_form)
    form_builder.move_field(field, up=request.POST.get("direction") != "down")
    return _fields_response(request, capture_form, saved=f"Field “{field.label}” moved.")


@require_POST
@permission_required("leads.view_captureform", "leads.change_captureform")
def field_delete(request: HttpRequest, pk: int, field_pk: int) -> HttpResponse:
    capture_form = get_object_or_404(CaptureForm, pk=pk)
    field = get_object_or_404(FormField, pk=field_pk, form=capture_form)
    try:
        form_builder.remove_field(field)
    except form_builder.ProtectedField as exc:
        return _fields_response(request, capture_form, fields_error=str(exc), status=400)
    return _fields_response(request, capture_form, saved=f"Field “{field.label}” removed.")


# --- helpers ---------------------------------------------------------------------------------


def _require_change(request: HttpRequest) -> None:
    if not request.user.has_perm("leads.change_captureform"):
        raise PermissionDenied


def _fields_response(request, capture_form, *, saved: str = "", status: int = 200, **extra) -> HttpResponse:
    """The fields section for htmx; otherwise back to the page (or the page with the errors)."""
    if request.htmx:
        context = _context(request, capture_form, fields_message=saved, **extra)
        response = render(request, f"{TEMPLATE}#fields", context, status=status)
        return _changed(response) if saved else response
    if saved:
        messages.success(request, saved)
        return redirect(reverse("leads:form-edit", args=[capture_form.pk]) + "#form-fields")
    return _page(request, capture_form, status=status, **extra)


def _page(request, capture_form, *, status: int = 200, **extra) -> HttpResponse:
    return render(request, TEMPLATE, _context(request, capture_form, **extra), status=status)


def _context(
    request,
    capture_form: CaptureForm,
    *,
    settings_form=None,
    add_form=None,
    edit_form=None,
    **extra,
) -> dict:
    fields = list(capture_form.fields.all())
    for field in fields:
        field.column_label = form_builder.COLUMN_LABELS.get(field.maps_to, "")
    counts = capture_form.submissions.aggregate(count=Count("id"), last=Max("submitted_at"))
    context = {
        "cf": capture_form,
        "fields": fields,
        "can_edit": request.user.has_perm("leads.change_captureform"),
        "settings_form": settings_form or CaptureFormSettingsForm(instance=capture_form),
        "add_form": add_form or FormFieldForm(prefix="new", capture_form=capture_form),
        "edit_form": edit_form,
        "editing": edit_form.instance.pk if edit_form is not None else None,
        "submission_count": counts["count"],
        "last_submission_at": counts["last"],
        "preview": _preview(capture_form, fields),
        **extra,
    }
    if capture_form.is_live:
        context["snippets"] = snippets(request, capture_form)
    return context


def _preview(capture_form: CaptureForm, fields: list[FormField] | None = None) -> dict:
    return capture_form_context(capture_form, action="#", fields=fields, preview=True)


def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = CHANGED
    return response
