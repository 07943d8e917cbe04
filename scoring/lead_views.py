"""The score panel of the lead page: the score, why it is what it is, and how it moved. The
lead page loads it with htmx (the leads app knows only its URL); on its own it is a page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from leadapp.permissions import permission_required
from leads.models import Lead

from . import predictive, selectors
from .models import ScoreChange

HISTORY_LINES = 10
PREDICTIVE = "scoring.view_predictivemodel"


@require_GET
@permission_required("scoring.view_leadscore")
def lead_score(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    score = selectors.lead_score(lead)
    history = selectors.score_history(lead) if score else []
    context = {
        "lead": lead,
        "score": score,
        "explanation": selectors.explain(lead, score=score) if score else None,
        "prediction": predictive.explain(lead) if request.user.has_perm(PREDICTIVE) else None,
        "history": history[:HISTORY_LINES],
        "chart": _chart(history) if len(history) > 1 else None,
    }
    template = "scoring/lead_score.html#score-panel" if request.htmx else "scoring/lead_score.html"
    return render(request, template, context)


def _chart(history: list[ScoreChange]) -> dict:
    """The total over time, oldest first, for static/js/score-chart.js."""
    changes = list(reversed(history))
    return {
        "labels": [timezone.localtime(change.changed_at).strftime("%Y-%m-%d %H:%M") for change in changes],
        "totals": [change.total for change in changes],
    }
