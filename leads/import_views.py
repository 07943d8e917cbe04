"""CSV import pages (upload, mapping, progress, bad rows) and the lead export."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from leadapp.permissions import permission_required

from . import exports, imports, selectors
from .models import LeadImport, Source

RECENT_IMPORTS = 50
ERRORS_SHOWN = 100


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="UTF-8, comma- or semicolon-separated, first line: headers."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_FILE_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{imports.MAX_FILE_BYTES // 1024 // 1024} MB. Split it into smaller files."
            )
        return upload


class MappingForm(forms.Form):
    """A select per column of the file, then what to do with known e-mails and new leads."""

    on_existing = forms.ChoiceField(
        label="When the e-mail belongs to a lead already",
        choices=LeadImport.OnExisting.choices,
        widget=forms.RadioSelect,
    )
    source = forms.ChoiceField(label="Source of new leads", choices=Source.choices)

    def __init__(self, lead_import: LeadImport, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead_import = lead_import
        self.columns = []
        fields = list(imports.IMPORT_FIELDS.items())
        history = list(imports.HISTORY_FIELDS.items())
        for index, header in enumerate(lead_import.headers):
            current = lead_import.mapping.get(header, "")
            custom = imports.CUSTOM + imports.custom_name(header)
            choices = [("", "— ignore —"), ("Lead field", fields), ("History (closed leads)", history)]
            customs = [(custom, f"custom attribute “{custom[len(imports.CUSTOM) :]}”")]
            if current.startswith(imports.CUSTOM) and current != custom:
                customs.append((current, f"custom attribute “{current[len(imports.CUSTOM) :]}”"))
            choices.append(("Custom attribute", customs))
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=choices, required=False, initial=current
            )
            self.columns.append((header, name))

    def bound_columns(self, preview: list[list[str]]):
        """(header, its select, its first values) for each column of the file."""
        return [
            (header, self[name], [row[index] for row in preview[:3] if row[index].strip()])
            for index, (header, name) in enumerate(self.columns)
        ]

    def mapping(self) -> dict[str, str]:
        return {header: self.cleaned_data.get(name) or "" for header, name in self.columns}

    def clean(self):
        cleaned = super().clean()
        for error in imports.mapping_errors(self.lead_import.headers, self.mapping()):
            self.add_error(None, error)
        return cleaned


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_leadimport")
def import_list(request: HttpRequest) -> HttpResponse:
    """The recent imports, and the upload form."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not request.user.has_perm("leads.add_leadimport"):
            raise PermissionDenied
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                lead_import = imports.create_import(
                    content=upload.read(), filename=upload.name, by=request.user
                )
            except imports.ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect(lead_import)
    recent = LeadImport.objects.defer("content").select_related("created_by")[:RECENT_IMPORTS]
    status = 400 if form.errors else 200
    return render(request, "leads/imports/import_list.html", {"form": form, "imports": recent}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_leadimport")
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Mapping (until started), then progress and results."""
    lead_import = get_object_or_404(LeadImport.objects.defer("content"), pk=pk)
    if lead_import.status != LeadImport.Status.UPLOADED:
        return render(request, "leads/imports/import_detail.html", _status_context(lead_import))
    initial = {"on_existing": lead_import.on_existing, "source": lead_import.source}
    form = MappingForm(lead_import, request.POST or None, initial=initial)
    if request.method == "POST":
        if not request.user.has_perm("leads.add_leadimport"):
            raise PermissionDenied
        if form.is_valid():
            try:
                imports.start_import(
                    lead_import,
                    mapping=form.mapping(),
                    on_existing=form.cleaned_data["on_existing"],
                    source=form.cleaned_data["source"],
                )
            except ValidationError as exc:
                for error in exc.messages:
                    form.add_error(None, error)
            else:
                messages.success(request, "Import started.")
                return redirect(lead_import)
    preview = imports.preview(lead_import)
    context = {
        "lead_import": lead_import,
        "form": form,
        "columns": form.bound_columns(preview),
        "preview": preview,
    }
    return render(request, "leads/imports/import_detail.html", context, status=400 if form.errors else 200)


@require_GET
@permission_required("leads.view_leadimport")
def import_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress (polled every second by htmx while the import runs) and the results."""
    lead_import = get_object_or_404(LeadImport.objects.defer("content"), pk=pk)
    return render(request, "leads/imports/import_detail.html#status", _status_context(lead_import))


def _status_context(lead_import: LeadImport) -> dict:
    finished = lead_import.status in (LeadImport.Status.DONE, LeadImport.Status.FAILED)
    return {
        "lead_import": lead_import,
        "outcomes": imports.outcome_summary(lead_import),
        "running": lead_import.status in (LeadImport.Status.QUEUED, LeadImport.Status.RUNNING),
        "errors": lead_import.row_errors.all()[:ERRORS_SHOWN] if finished or lead_import.error_count else [],
        "errors_shown": ERRORS_SHOWN,
    }


@require_GET
@permission_required("leads.view_leadimport")
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    lead_import = get_object_or_404(LeadImport.objects.defer("content"), pk=pk)
    stem = lead_import.filename.rsplit(".", 1)[0] or "import"
    return _csv_response(exports.bad_rows_lines(lead_import), f"{stem}-bad-rows.csv")


@require_GET
@permission_required("leads.view_lead", "leads.export_lead")
def lead_export(request: HttpRequest) -> StreamingHttpResponse:
    """The lead list as CSV, with the list page's filters and sort; streamed from a
    server-side cursor, so a million leads never sit in memory."""
    _, queryset = selectors.lead_list(request.GET, request=request)
    filename = f"leads-{timezone.localtime():%Y%m%d-%H%M}.csv"
    return _csv_response(exports.lead_export_lines(queryset), filename)


def _csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
