"""The predictive model's pages (/scoring/predictive/): the active version and how good it is,
every version, training on demand with its progress, activation, and what the model may
learn from. Everyone who reads scores looks; Marketing and Managers train and choose the
settings; only a Manager activates a version that scored worse than the active one."""

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadapp.permissions import permission_required
from leads.models import Lead

from . import predictive
from .features import CUSTOM_PREFIX
from .models import PredictiveModel, PredictiveSettings

VIEW = "scoring.view_predictivemodel"
TRAIN = "scoring.train_predictive_model"
FORCE = "scoring.force_predictive_model"
PAGE = "scoring/predictive.html"
VERSIONS_SHOWN = 20
# Version columns that are large or only needed on a version's own page.
_LIST_DEFER = ("artefact", "calibration", "importance", "features")


class SettingsForm(forms.Form):
    excluded_attributes = forms.MultipleChoiceField(
        label="Never learn from these custom attributes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick the attributes your sales team fills in after talking to a lead (a status, a "
        "quality rating, tags): they are written once the answer is known, so a model that learns "
        "from them looks excellent and is useless for new leads.",
    )
    recycled_after_days = forms.IntegerField(
        label="A recycled lead counts as not converted after (days)",
        min_value=1,
        max_value=3650,
    )

    def __init__(self, *args, attributes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["excluded_attributes"].choices = [(name, name) for name in attributes]


def custom_attributes(recent: int = 5000) -> list[str]:
    """The custom attributes a marketer may exclude: those the newest model learned from and
    those the newest leads carry (not a scan of every lead's attributes on each page view)."""
    keys: set[str] = set()
    newest = PredictiveModel.objects.exclude(features=[]).values_list("features", flat=True).first()
    for feature in newest or []:
        if feature["name"].startswith(CUSTOM_PREFIX):
            keys.add(feature["name"].removeprefix(CUSTOM_PREFIX))
    for custom in Lead.objects.exclude(custom={}).order_by("-id").values_list("custom", flat=True)[:recent]:
        keys.update(custom or {})
    return sorted(keys)


def _settings_form(data=None) -> SettingsForm:
    current = PredictiveSettings.load()
    attributes = sorted(set(custom_attributes()) | set(current.excluded_attributes))
    return SettingsForm(
        data,
        attributes=attributes,
        initial={
            "excluded_attributes": current.excluded_attributes,
            "recycled_after_days": current.recycled_after_days,
        },
    )


@require_GET
@permission_required(VIEW)
def overview(request: HttpRequest) -> HttpResponse:
    versions = list(PredictiveModel.objects.defer(*_LIST_DEFER)[:VERSIONS_SHOWN])
    active = PredictiveModel.objects.defer("artefact").filter(status=PredictiveModel.Status.ACTIVE).first()
    running = next((v for v in versions if not v.is_finished), None)
    return render(
        request,
        PAGE,
        {
            "active": active,
            "versions": versions,
            "running": running,
            "settings_form": _settings_form() if request.user.has_perm(TRAIN) else None,
            "min_closed": predictive.MIN_CLOSED,
            "min_each": predictive.MIN_EACH,
        },
    )


@require_GET
@permission_required(VIEW)
def version(request: HttpRequest, version: int) -> HttpResponse:
    run = get_object_or_404(PredictiveModel.objects.defer("artefact"), version=version)
    return render(request, "scoring/predictive_version.html", {"run": run})


@require_GET
@permission_required(VIEW)
def status(request: HttpRequest, version: int) -> HttpResponse:
    """A training's progress (polled by htmx every second until it finishes)."""
    run = get_object_or_404(PredictiveModel.objects.defer(*_LIST_DEFER), version=version)
    response = render(request, f"{PAGE}#training", {"running": run})
    if request.htmx and run.is_finished:
        response["HX-Refresh"] = "true"  # the versions and the active model changed: show them
    return response


@require_POST
@permission_required(VIEW, TRAIN)
def train(request: HttpRequest) -> HttpResponse:
    run = predictive.start_training(by=request.user, reason=f"On demand by {request.user.get_username()}")
    if run.started_now:
        messages.success(request, f"Training {run} started. This page shows its progress.")
    else:
        messages.info(request, f"{run} is training already: its progress is below.")
    return redirect("scoring:predictive")


@require_POST
@permission_required(VIEW, TRAIN)
def activate(request: HttpRequest, version: int) -> HttpResponse:
    run = get_object_or_404(
        PredictiveModel.objects.filter(
            Q(status=PredictiveModel.Status.READY) | Q(status=PredictiveModel.Status.RETIRED)
        ),
        version=version,
    )
    worse = run.below_active
    if worse and not request.user.has_perm(FORCE):
        messages.error(
            request,
            f"{run} scored worse than the active version on the same leads; only a manager can "
            "activate it anyway.",
        )
        return redirect("scoring:predictive")
    try:
        predictive.activate(run, by=request.user, force=worse)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{run} is active: {run.scored_leads:,} open leads were scored with it.")
    return redirect("scoring:predictive")


@require_http_methods(["POST"])
@permission_required(VIEW, TRAIN, "scoring.change_predictivesettings")
def settings(request: HttpRequest) -> HttpResponse:
    form = _settings_form(request.POST)
    if not form.is_valid():
        messages.error(request, "The settings were not saved: " + " ".join(form.errors.get("__all__", [])))
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
        return redirect(reverse("scoring:predictive") + "#predictive-settings")
    PredictiveSettings.objects.update_or_create(
        pk=1,
        defaults={
            "excluded_attributes": sorted(form.cleaned_data["excluded_attributes"]),
            "recycled_after_days": form.cleaned_data["recycled_after_days"],
        },
    )
    messages.success(request, "Saved. The next training uses these settings (train now to apply them).")
    return redirect(reverse("scoring:predictive") + "#predictive-settings")
