"""The scoring page (/scoring/): the published rule set and how it grades the leads, every
version, and the editor of the one draft (/scoring/draft/) with a preview of its effect before
it is published. Sales and Managers look; Marketing and Admin edit, publish and restore.

Beside each published rule, the points a model learned from the leads with an outcome would
give it (``scoring.suggestions``): loaded into the page by htmx from /scoring/suggestions/ (a
page of its own without htmx), since working them out takes a moment on many leads; Marketing
and Admin turn them into the draft with one button.

The editor's rows (the settings, each fit group, each rule) are partials of
``scoring/draft.html`` that htmx swaps one at a time; every action also works without htmx (a
redirect back to the page, or the page with the errors). Only a rule set whose status is draft
is ever changed: its rows are looked up among the draft's, and saved while the draft is locked.
"""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count, F, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leadapp.permissions import permission_required

from . import preview, report_card, selectors, services, suggestions
from .forms import EngagementRuleForm, FitGroupForm, FitRuleForm, RuleSetSettingsForm
from .models import EngagementRule, FitGroup, FitRule, RuleSet, ScoringJob

VIEW = "scoring.view_ruleset"
CHANGE = "scoring.change_ruleset"
OVERVIEW = "scoring/overview.html"
DRAFT = "scoring/draft.html"
JOB = "scoring/job.html"
SUGGESTIONS = "scoring/suggestions.html"
# Who sees the model's suggested points: who reads the rules and the predictive model.
SEE_SUGGESTIONS = (VIEW, "scoring.view_predictivemodel")
DRAFT_CHANGED = "scoring-draft-changed"  # htmx event: the preview section reloads (out of date)
JOB_FINISHED = "scoring-job-finished"  # htmx event: the grade grid reloads after a rescore
RECENT_RESCORE = timedelta(hours=1)
DRAFT_STATUS = RuleSet.Status.DRAFT
# The rows of the editor (partials of DRAFT) and their anchors on the page.
ANCHORS = {"group-head": "fit-group-{}", "fit-rule": "fit-rule-{}", "engagement-rule": "engagement-rule-{}"}


# --- looking: everyone with the view permission ---------------------------------------------------


@require_GET
@permission_required(VIEW)
def overview(request: HttpRequest) -> HttpResponse:
    published = services.published_rule_set()
    context = {
        "published": _with_rules(published),
        "grid": selectors.grade_grid(),
        "versions": _versions(),
        "draft": services.draft_rule_set(),
        "rescore": _recent_rescore(),
        "can_edit": request.user.has_perm(CHANGE),
        "show_suggestions": request.user.has_perms(SEE_SUGGESTIONS),
    }
    return render(request, OVERVIEW, context)


@require_GET
@permission_required(VIEW)
def grade_grid(request: HttpRequest) -> HttpResponse:
    return render(request, f"{OVERVIEW}#grade-grid", {"grid": selectors.grade_grid()})


@require_GET
@permission_required(VIEW)
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rule_set = get_object_or_404(
        RuleSet.objects.select_related("published_by", "created_by", "based_on"), pk=pk
    )
    context = {"rule_set": _with_rules(rule_set), "can_edit": request.user.has_perm(CHANGE)}
    return render(request, "scoring/version_detail.html", context)


@require_GET
@permission_required("scoring.view_scoringjob")
def job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's progress (polled every second by htmx until it finishes) and, for a finished
    preview, its results."""
    job = get_object_or_404(ScoringJob.objects.select_related("rule_set"), pk=pk)
    response = render(request, f"{JOB}#job", _job_context(job))
    if request.htmx and job.is_finished:
        response["HX-Trigger"] = JOB_FINISHED
    return response


# --- the model's suggested points ---------------------------------------------------------------


@require_GET
@permission_required(*SEE_SUGGESTIONS)
def model_suggestions(request: HttpRequest) -> HttpResponse:
    """The published rules with the model's points beside them: the scoring page loads them
    with htmx in place of its own rules; without htmx, a page."""
    published = _with_rules(services.published_rule_set())
    result = suggestions.suggestions(published) if published is not None else None
    if result is not None:
        found = result.by_key()
        for group in published.group_list:
            for rule in group.rule_list:
                rule.suggestion = found.get(f"{report_card.FIT}-{rule.pk}")
        for rule in published.engagement_list:
            rule.suggestion = found.get(f"{report_card.ENGAGEMENT}-{rule.pk}")
    context = {
        "published": published,
        "suggestions": result,
        "show_suggestions": True,
        "can_edit": request.user.has_perm(CHANGE),
        "min_matched": report_card.MIN_MATCHED,
        "clamp": suggestions.CLAMP,
    }
    template = f"{SUGGESTIONS}#suggested-rules" if request.htmx else SUGGESTIONS
    return render(request, template, context)


@require_POST
@permission_required(VIEW, CHANGE)
def suggestions_draft(request: HttpRequest) -> HttpResponse:
    """Give the draft's copies of the published rules (the draft is started if there is none)
    the model's points, worked out again here from the data as it is now, never taken from the
    form; then the draft, to preview and publish."""
    published = services.published_rule_set()
    if published is None:
        raise Http404("Nothing is published.")
    result = suggestions.suggestions(published)
    if result.refused:
        messages.warning(request, result.refused)
        return redirect("scoring:overview")
    changes = result.changes
    if not changes:
        messages.info(request, "Every rule gives the points the model suggests already: nothing to change.")
        return redirect("scoring:overview")
    draft = services.start_draft(by=request.user)
    copies, missing = [], []
    for row in changes:
        copy = report_card.copy_in_draft(draft, row.kind, row.rule)
        if copy is None:
            missing.append(row)
        else:
            copy.points = row.suggested
            copies.append(copy)

    def save():
        for copy in copies:
            copy.save(update_fields=["points"])

    if copies:
        try:
            services.change_draft(draft, save)
        except services.NotADraft:
            messages.error(request, "The draft was published or discarded meanwhile: nothing was changed.")
            return redirect("scoring:overview")
        messages.success(
            request,
            f"The draft now gives {len(copies)} rule{'s' if len(copies) != 1 else ''} the points the model "
            f"suggests; the published version ({published}) is unchanged. Preview the draft to see the "
            "effect, then publish it.",
        )
    if missing:
        by_hand = "; ".join(f"{row.label}: {row.suggested:+d}" for row in missing)
        messages.warning(
            request,
            f"The draft has no rule as it is published for these (changed or removed there): set their "
            f"points by hand if you want them — {by_hand}.",
        )
    return redirect(f"{reverse('scoring:draft')}#draft-preview")


# --- versions: publishing, restoring ----------------------------------------------------------


@require_POST
@permission_required(VIEW, CHANGE)
def version_restore(request: HttpRequest, pk: int) -> HttpResponse:
    rule_set = get_object_or_404(RuleSet, pk=pk, status=RuleSet.Status.ARCHIVED)
    try:
        services.restore(rule_set, by=request.user)
    except ValueError as exc:  # restored or published by someone else meanwhile
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{rule_set} is published again. Every lead is being rescored with it.")
    return _go(request, reverse("scoring:overview"))


@require_POST
@permission_required(VIEW, CHANGE)
def draft_publish(request: HttpRequest) -> HttpResponse:
    rule_set = _draft_or_404()
    try:
        services.publish(rule_set, by=request.user)
    except ValueError as exc:  # published by someone else meanwhile
        messages.error(request, str(exc))
    else:
        rule_set.refresh_from_db()
        messages.success(request, f"{rule_set} is published. Every lead is being rescored with it.")
    return _go(request, reverse("scoring:overview"))


@require_POST
@permission_required(VIEW, CHANGE)
def draft_discard(request: HttpRequest) -> HttpResponse:
    services.discard_draft(_draft_or_404())
    messages.success(request, "The draft is discarded. The published version is unchanged.")
    return _go(request, reverse("scoring:overview"))


# --- the draft editor: Marketing and Admin ---------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, CHANGE)
def draft(request: HttpRequest) -> HttpResponse:
    """The editor; a POST starts the draft (a copy of the published version) if there is none."""
    if request.method == "POST":
        services.start_draft(by=request.user)
        return redirect("scoring:draft")
    rule_set = services.draft_rule_set()
    if rule_set is None:
        messages.info(request, "There is no draft. “Edit draft” starts one from the published version.")
        return redirect("scoring:overview")
    return _draft_page(request, rule_set)


@require_POST
@permission_required(VIEW, CHANGE)
def draft_settings(request: HttpRequest) -> HttpResponse:
    rule_set = _draft_or_404()
    # Bound to a copy: a rejected form must not leave its values on the page's other sections.
    form = RuleSetSettingsForm(request.POST, instance=RuleSet.objects.get(pk=rule_set.pk), prefix="settings")
    if form.is_valid():
        saved = _change(rule_set, form.save)
        if request.htmx:
            fresh = RuleSetSettingsForm(instance=saved, prefix="settings")
            context = {"draft": saved, "settings_form": fresh, "settings_saved": True}
            return _changed(render(request, f"{DRAFT}#settings", context))
        return _back(request, "Settings saved.", "draft-settings")
    if request.htmx:
        return render(request, f"{DRAFT}#settings", {"draft": rule_set, "settings_form": form}, status=400)
    return _draft_page(request, rule_set, forms={"settings": form}, status=400)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, CHANGE)
def draft_preview(request: HttpRequest) -> HttpResponse:
    """The preview section; a POST runs a new preview of the draft as it is now."""
    rule_set = _draft_or_404()
    if request.method == "POST":
        services.start_preview(rule_set, by=request.user)
        if not request.htmx:
            return _back(request, "Preview started.", "draft-preview")
    elif not request.htmx:
        return redirect(reverse("scoring:draft") + "#draft-preview")
    return render(request, f"{DRAFT}#preview", {"draft": rule_set, **_preview_context(rule_set)})


# fit groups


@require_POST
@permission_required(VIEW, CHANGE)
def group_add(request: HttpRequest) -> HttpResponse:
    rule_set = _draft_or_404()
    form = FitGroupForm(request.POST, prefix="new-group", instance=FitGroup(rule_set=rule_set))
    if not form.is_valid():
        return _section(request, rule_set, "fit-groups", forms={"new-group": form}, status=400)
    group = _change(rule_set, lambda: _save_last(form, rule_set.fit_groups))
    return _section(request, rule_set, "fit-groups", saved=f"Group “{group.name}” added.")


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, CHANGE)
def group(request: HttpRequest, pk: int) -> HttpResponse:
    """A group's heading (GET: as text, e.g. after Cancel); a POST saves its name and maximum."""
    fit_group = _draft_group(pk)
    if request.method == "GET":
        return _row(request, "group-head", fit_group)
    form = FitGroupForm(request.POST, instance=fit_group, prefix=f"group-{pk}")
    return _save_row(request, form, "group-head", saved="Group saved.")


@require_GET
@permission_required(VIEW, CHANGE)
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    fit_group = _draft_group(pk)
    return _edit_row(request, "group-head", fit_group, FitGroupForm(instance=fit_group, prefix=f"group-{pk}"))


@require_POST
@permission_required(VIEW, CHANGE)
def group_delete(request: HttpRequest, pk: int) -> HttpResponse:
    fit_group = _draft_group(pk)
    _change(fit_group.rule_set, fit_group.delete)
    return _removed(request, f"Group “{fit_group.name}” deleted with its rules.", "fit-groups")


# fit rules


@require_POST
@permission_required(VIEW, CHANGE)
def fit_rule_add(request: HttpRequest, pk: int) -> HttpResponse:
    fit_group = _draft_group(pk)
    rule_set = fit_group.rule_set
    form = FitRuleForm(request.POST, prefix=f"new-rule-{pk}", instance=FitRule(group=fit_group))
    if not form.is_valid():
        return _section(
            request, rule_set, "fit-group", group_pk=pk, forms={("new-rule", pk): form}, status=400
        )
    _change(rule_set, lambda: _save_last(form, fit_group.rules))
    return _section(request, rule_set, "fit-group", group_pk=pk, saved="Rule added.")


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, CHANGE)
def fit_rule(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_fit_rule(pk)
    if request.method == "GET":
        return _row(request, "fit-rule", rule)
    form = FitRuleForm(request.POST, instance=rule, prefix=f"fit-rule-{pk}")
    return _save_row(request, form, "fit-rule", saved="Rule saved.")


@require_GET
@permission_required(VIEW, CHANGE)
def fit_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_fit_rule(pk)
    return _edit_row(request, "fit-rule", rule, FitRuleForm(instance=rule, prefix=f"fit-rule-{pk}"))


@require_POST
@permission_required(VIEW, CHANGE)
def fit_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_fit_rule(pk)
    _change(rule.group.rule_set, rule.delete)
    return _removed(request, "Rule deleted.", f"fit-group-{rule.group_id}")


# engagement rules


@require_POST
@permission_required(VIEW, CHANGE)
def engagement_add(request: HttpRequest) -> HttpResponse:
    rule_set = _draft_or_404()
    form = EngagementRuleForm(
        request.POST, prefix="new-engagement", instance=EngagementRule(rule_set=rule_set)
    )
    if not form.is_valid():
        return _section(request, rule_set, "engagement", forms={"new-engagement": form}, status=400)
    rule = _change(rule_set, lambda: _save_last(form, rule_set.engagement_rules))
    return _section(request, rule_set, "engagement", saved=f"Rule “{rule.name}” added.")


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, CHANGE)
def engagement_rule(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_engagement_rule(pk)
    if request.method == "GET":
        return _row(request, "engagement-rule", rule)
    form = EngagementRuleForm(request.POST, instance=rule, prefix=f"engagement-{pk}")
    return _save_row(request, form, "engagement-rule", saved="Rule saved.")


@require_GET
@permission_required(VIEW, CHANGE)
def engagement_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_engagement_rule(pk)
    form = EngagementRuleForm(instance=rule, prefix=f"engagement-{pk}")
    return _edit_row(request, "engagement-rule", rule, form)


@require_POST
@permission_required(VIEW, CHANGE)
def engagement_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _draft_engagement_rule(pk)
    _change(rule.rule_set, rule.delete)
    return _removed(request, f"Rule “{rule.name}” deleted.", "engagement")


# --- looking things up ------------------------------------------------------------------------


def _draft_or_404() -> RuleSet:
    rule_set = services.draft_rule_set()
    if rule_set is None:
        raise Http404("There is no draft.")
    return rule_set


def _draft_group(pk: int) -> FitGroup:
    return get_object_or_404(
        FitGroup.objects.select_related("rule_set"), pk=pk, rule_set__status=DRAFT_STATUS
    )


def _draft_fit_rule(pk: int) -> FitRule:
    queryset = FitRule.objects.select_related("group__rule_set")
    return get_object_or_404(queryset, pk=pk, group__rule_set__status=DRAFT_STATUS)


def _draft_engagement_rule(pk: int) -> EngagementRule:
    queryset = EngagementRule.objects.select_related("rule_set")
    return get_object_or_404(queryset, pk=pk, rule_set__status=DRAFT_STATUS)


def _with_rules(rule_set: RuleSet | None) -> RuleSet | None:
    """The rule set with its groups (and their rules) and engagement rules fetched."""
    if rule_set is not None:
        rule_set.group_list = list(rule_set.fit_groups.prefetch_related("rules"))
        for fit_group in rule_set.group_list:
            fit_group.rule_list = list(fit_group.rules.all())
        rule_set.engagement_list = list(rule_set.engagement_rules.all())
    return rule_set


def _versions() -> list[RuleSet]:
    return list(
        RuleSet.objects.select_related("published_by", "created_by")
        .annotate(
            fit_rule_count=Count("fit_groups__rules", distinct=True),
            engagement_rule_count=Count("engagement_rules", distinct=True),
        )
        .order_by(F("version").desc(nulls_first=True), "-id")
    )


def _recent_rescore() -> ScoringJob | None:
    """The latest rescore, while it runs and for an hour after it finished."""
    job = (
        ScoringJob.objects.filter(kind=ScoringJob.Kind.RESCORE)
        .select_related("rule_set")
        .order_by("-created_at", "-id")
        .first()
    )
    if job is None or (job.is_finished and job.finished_at < timezone.now() - RECENT_RESCORE):
        return None
    return job


def _job_context(job: ScoringJob) -> dict:
    results = None
    if job.kind == ScoringJob.Kind.PREVIEW and job.status == ScoringJob.Status.DONE:
        results = _preview_results(preview.summary(job.result))
    return {"job": job, "results": results}


def _preview_results(summary: dict) -> dict:
    """The preview's summary as rows of a table: per grade, the draft beside the published."""
    rows = []
    for draft_grade, published_grade in zip(
        summary["draft"]["grades"], summary["published"]["grades"], strict=True
    ):
        sides = []
        for side, numbers in (("draft", draft_grade), ("published", published_grade)):
            percent = None if numbers["rate"] is None else 100 * numbers["rate"]
            sides.append({**numbers, "side": side, "percent": percent})
        rows.append({"grade": draft_grade["grade"], "sides": sides})
    return {**summary, "rows": rows}


def _preview_context(rule_set: RuleSet) -> dict:
    job = services.latest_preview(rule_set)
    stale = job is None and rule_set.jobs.filter(kind=ScoringJob.Kind.PREVIEW).exists()
    return {"preview_job": job, "preview_stale": stale, **(_job_context(job) if job else {})}


# --- changing the draft ------------------------------------------------------------------------


def _change(rule_set: RuleSet, save):
    try:
        return services.change_draft(rule_set, save)
    except services.NotADraft as exc:
        raise Http404(str(exc)) from None


def _save_last(form, siblings):
    """Save a new row of the form after its siblings."""
    row = form.save(commit=False)
    row.position = (siblings.aggregate(last=Max("position"))["last"] or 0) + 1
    row.save()
    return row


def _rule_set_of(obj) -> RuleSet:
    return obj.group.rule_set if isinstance(obj, FitRule) else obj.rule_set


# --- responses ------------------------------------------------------------------------------


def _row(request: HttpRequest, partial: str, obj, *, status: int = 200, **extra) -> HttpResponse:
    """One row of the editor for htmx; without htmx, the editor page at that row."""
    if not request.htmx:
        return redirect(reverse("scoring:draft") + "#" + ANCHORS[partial].format(obj.pk))
    context = {"row": obj, "draft": _rule_set_of(obj), "can_edit": True, **extra}
    return render(request, f"{DRAFT}#{partial}", context, status=status)


def _edit_row(request: HttpRequest, partial: str, obj, form) -> HttpResponse:
    """A row as a form: swapped in by htmx, or the editor page with that row open."""
    obj.form = form
    if request.htmx:
        return _row(request, partial, obj)
    return _draft_page(request, _rule_set_of(obj), forms={(partial, obj.pk): form})


def _save_row(request: HttpRequest, form, partial: str, *, saved: str) -> HttpResponse:
    rule_set = _rule_set_of(form.instance)
    if form.is_valid():
        row = _change(rule_set, form.save)
        if request.htmx:
            return _changed(_row(request, partial, row, row_saved=saved))
        return _back(request, saved, ANCHORS[partial].format(row.pk))
    form.instance.form = form
    if request.htmx:
        return _row(request, partial, form.instance, status=400)
    return _draft_page(request, rule_set, forms={(partial, form.instance.pk): form}, status=400)


def _removed(request: HttpRequest, message: str, anchor: str) -> HttpResponse:
    """htmx removes the row (or group: hx-swap="delete"); without htmx, back to the editor."""
    if request.htmx:
        return _changed(HttpResponse(""))
    return _back(request, message, anchor)


def _section(
    request: HttpRequest,
    rule_set: RuleSet,
    partial: str,
    *,
    forms: dict | None = None,
    saved: str = "",
    status: int = 200,
    group_pk: int | None = None,
) -> HttpResponse:
    """A section of the editor (or one fit group) for htmx; otherwise back to the page, or
    the page with the errors."""
    if not request.htmx:
        if saved:
            anchor = f"fit-group-{group_pk}" if group_pk else partial
            return _back(request, saved, anchor)
        return _draft_page(request, rule_set, forms=forms, status=status)
    context = _draft_context(rule_set, forms, saved=saved)
    if group_pk is not None:
        context["group"] = next(g for g in context["groups"] if g.pk == group_pk)
        context["group"].saved = saved
    response = render(request, f"{DRAFT}#{partial}", context, status=status)
    return _changed(response) if saved else response


def _draft_context(rule_set: RuleSet, forms: dict | None = None, **extra) -> dict:
    """Everything the editor shows; ``forms`` are bound forms to show instead of the rows or
    empty forms they belong to, by key: "settings", "new-group", "new-engagement",
    ("new-rule", group pk), and (row partial, pk) for the rows: ("group-head", pk) and so on."""
    forms = forms or {}
    groups = list(rule_set.fit_groups.prefetch_related("rules"))
    for fit_group in groups:
        fit_group.form = forms.get(("group-head", fit_group.pk))
        fit_group.add_form = forms.get(("new-rule", fit_group.pk)) or FitRuleForm(
            prefix=f"new-rule-{fit_group.pk}"
        )
        fit_group.rule_list = list(fit_group.rules.all())
        for rule in fit_group.rule_list:
            rule.form = forms.get(("fit-rule", rule.pk))
    engagement = list(rule_set.engagement_rules.all())
    for rule in engagement:
        rule.form = forms.get(("engagement-rule", rule.pk))
    return {
        "draft": rule_set,
        "can_edit": True,
        "settings_form": forms.get("settings") or RuleSetSettingsForm(instance=rule_set, prefix="settings"),
        "groups": groups,
        "group_add_form": forms.get("new-group") or FitGroupForm(prefix="new-group"),
        "engagement_rules": engagement,
        "engagement_add_form": forms.get("new-engagement") or EngagementRuleForm(prefix="new-engagement"),
        **extra,
    }


def _draft_page(request: HttpRequest, rule_set: RuleSet, *, forms: dict | None = None, status: int = 200):
    context = {**_draft_context(rule_set, forms), **_preview_context(rule_set)}
    return render(request, DRAFT, context, status=status)


def _back(request: HttpRequest, message: str, anchor: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(f"{reverse('scoring:draft')}#{anchor}")


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """After publishing, restoring or discarding: a new page (htmx asked for a confirmation)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = DRAFT_CHANGED
    return response
