"""The scoring report card (/scoring/report/): how well the published rules pick the leads that
convert, each table as CSV (``?export=grades|deciles|rules``), and "Try it in a draft", which
puts a suggested point value into the draft. Sales and Managers read the card; Marketing and
Admin (who change rule sets) also try suggestions. The numbers come from
``scoring.report_card``, whose docstring defines them."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from leadapp.permissions import permission_required
from leads.exports import csv_lines

from . import report_card, services
from .models import PredictiveSettings

VIEW = "scoring.view_ruleset"
CHANGE = "scoring.change_ruleset"
ANCHORS = {report_card.FIT: "fit-rule-{}", report_card.ENGAGEMENT: "engagement-rule-{}"}


@require_GET
@permission_required(VIEW)
def report(request: HttpRequest) -> HttpResponse:
    card = report_card.report_card()
    export = request.GET.get("export")
    if export is not None:
        if export not in report_card.EXPORTS or card is None:
            raise Http404("No such table.")
        return _csv(card, export)
    context = {
        "card": card,
        "can_edit": request.user.has_perm(CHANGE),
        "min_matched": report_card.MIN_MATCHED,
        "deciles": report_card.DECILES,
        "recycled_after_days": PredictiveSettings.load().recycled_after_days,
    }
    return render(request, "scoring/report_card.html", context)


def _csv(card: report_card.ReportCard, name: str) -> StreamingHttpResponse:
    columns, rows = report_card.EXPORTS[name]
    response = StreamingHttpResponse(csv_lines(columns, rows(card)), content_type="text/csv; charset=utf-8")
    filename = f"scoring-v{card.rule_set.version}-{name}-{timezone.localtime():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_POST
@permission_required(VIEW, CHANGE)
def try_suggestion(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Put the suggested points of a published rule into the draft (started if there is none),
    then show the draft at that rule. The suggestion is worked out again here, from the data as
    it is now, never taken from the form."""
    published = services.published_rule_set()
    if kind not in report_card.RULE_KINDS or published is None:
        raise Http404("No such rule.")
    row = report_card.rule_report(published, kind=kind, pk=pk)
    if row is None:
        messages.warning(request, "That rule is not in the published version any more.")
        return redirect("scoring:report-card")
    if row.suggestion is None:
        messages.info(request, f"There is no suggestion for {row.label} any more.")
        return redirect("scoring:report-card")
    draft = services.start_draft(by=request.user)
    copy = report_card.copy_in_draft(draft, kind, row.rule)
    if copy is None:
        messages.warning(
            request,
            f"The draft has no rule {row.label} as it is published (it was changed or removed "
            f"there): set its points by hand (suggested: {row.suggestion.points:+d}).",
        )
        return redirect("scoring:draft")
    anchor = ANCHORS[kind].format(copy.pk)
    new, old = row.suggestion.points, copy.points
    if old == new:
        messages.info(request, f"In the draft, {row.label} gives {new:+d} points already.")
        return redirect(f"{reverse('scoring:draft')}#{anchor}")
    copy.points = new
    try:
        services.change_draft(draft, lambda: copy.save(update_fields=["points"]))
    except services.NotADraft:
        messages.error(request, "The draft was published or discarded meanwhile: nothing was changed.")
        return redirect("scoring:report-card")
    messages.success(
        request,
        f"In the draft, {row.label} now gives {new:+d} points (was {old:+d}); the published version "
        f"({published}) is unchanged. Preview the draft to see the effect, then publish it.",
    )
    return redirect(f"{reverse('scoring:draft')}#{anchor}")
