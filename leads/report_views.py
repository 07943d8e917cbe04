"""The managers' KPI dashboard (``/leads/reports/``) and the marketing costs behind ROI.

Every figure comes from ``leads.reports``; this module parses the period and filters, lays the
figures out beside their comparison period, and exports any table as CSV (formula-safe)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_countries import countries

from leadapp import roles
from leadapp.permissions import permission_required

from . import reports
from .exports import csv_lines
from .models import CaptureForm, Industry, MarketingCost, Source, Team

VIEW = "leads.view_reports"
DEFAULT_DAYS = 90


class ReportForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    compare = forms.ChoiceField(
        choices=[
            ("previous", "vs the period before"),
            ("year", "vs a year earlier"),
            ("none", "no comparison"),
        ],
        required=False,
    )
    by = forms.ChoiceField(choices=reports.DIMENSIONS, required=False, label="Conversion by")
    source = forms.ChoiceField(choices=[("", "Every source"), *Source.choices], required=False)
    country = forms.ChoiceField(choices=[("", "Every country"), *countries], required=False)
    industry = forms.ChoiceField(choices=[("", "Every industry"), *Industry.choices], required=False)
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    team = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    campaign = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    form = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, **kwargs):
        from nurturing.models import Campaign

        super().__init__(*args, **kwargs)
        people = get_user_model().objects.filter(groups__name=roles.SALES).distinct().order_by("username")
        self.fields["owner"].choices = [("", "Every owner")] + [
            (u.pk, u.get_full_name() or u.username) for u in people
        ]
        self.fields["team"].choices = [("", "Every team")] + list(Team.objects.values_list("pk", "name"))
        self.fields["campaign"].choices = [("", "Every campaign")] + list(
            Campaign.objects.order_by("name").values_list("pk", "name")
        )
        self.fields["form"].choices = [("", "Every form")] + list(
            CaptureForm.objects.order_by("name").values_list("pk", "name")
        )

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("start", "The period starts after it ends.")
        if (end - start).days > 3 * 366:
            self.add_error("start", "Pick a period of at most three years.")
        data["start"], data["end"] = start, end
        return data

    def period(self) -> reports.Period:
        return reports.Period.of_days(self.cleaned_data["start"], self.cleaned_data["end"])

    def comparison(self) -> reports.Period | None:
        period, how = self.period(), self.cleaned_data.get("compare") or "previous"
        if how == "none":
            return None
        if how == "year":
            year = datetime.timedelta(days=365)
            return reports.Period(period.start - year, period.end - year)
        return period.previous()

    def filters(self) -> reports.Filters:
        data = self.cleaned_data
        return reports.Filters(
            **{
                name: data.get(name) or ("" if name in ("source", "country", "industry") else None)
                for name in ("source", "country", "industry", "owner", "team", "campaign", "form")
            }
        )


def _figures(
    period: reports.Period, comparison: reports.Period | None, filters: reports.Filters, by: str
) -> tuple[dict, dict | None]:
    """The period's figures, and the comparison period's that the page shows beside them (the
    funnel, the conversion, the engagement rate, the median sales cycle): the figures that
    have both come from the same statements."""
    periods = [period] if comparison is None else [period, comparison]
    cohorts = reports.cohorts(periods, filters, by)
    engagement = reports.engagements(periods, filters)
    cycles = reports.sales_cycles(periods, filters)
    months = reports.mql_months(period, filters)
    sources, campaigns = reports.roi(period, filters)
    figures = [
        {
            "leads": cohort.leads,
            "steps": cohort.steps,
            "customers": cohort.steps[-1].count,
            "conversion": reports.rate(cohort.steps[-1].count, cohort.leads),
            "engagement": engaged,
            "cycle": cycle,
        }
        for cohort, engaged, cycle in zip(cohorts, engagement, cycles, strict=True)
    ]
    current = figures[0]
    current.update(
        {
            "by": cohorts[0].by if cohorts[0].by is not None else reports.conversion_by(by, period, filters),
            "grades": cohorts[0].grades,
            "velocity": reports.velocity(period, filters),
            "months": months,
            "lvr": reports.lead_velocity_rate(months),
            "roi_sources": sources,
            "roi_campaigns": campaigns,
            "sla_owners": reports.sla(period, filters, by="owner"),
            "sla_teams": reports.sla(period, filters, by="team"),
        }
    )
    return current, (figures[1] if comparison is not None else None)


def _pct(value) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _num(value, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


# Each exportable table: its header and how a figure becomes rows.
EXPORTS: dict[str, tuple[Sequence[str], Callable[[dict], list]]] = {
    "funnel": (
        ["stage", "leads", "conversion from previous %"],
        lambda f: (
            [["Leads", f["leads"], ""]] + [[s.label, s.count, _pct(s.rate_from_previous)] for s in f["steps"]]
        ),
    ),
    "conversion": (
        ["value", "leads", "customers", "conversion %"],
        lambda f: [[b.label, b.leads, b.customers, _pct(b.rate)] for b in f["by"]],
    ),
    "grades": (
        ["grade at handoff", "leads", "customers", "conversion %"],
        lambda f: [[b.label, b.leads, b.customers, _pct(b.rate)] for b in f["grades"]],
    ),
    "velocity": (
        ["stage", "leads", "median days", "90th percentile days"],
        lambda f: [[v.label, v.leads, _num(v.median_days), _num(v.p90_days)] for v in f["velocity"]],
    ),
    "mqls": (["month", "new MQLs"], lambda f: [[m.strftime("%Y-%m"), n] for m, n in f["months"]]),
    "cycle": (["days from first touch to won", "customers"], lambda f: [list(b) for b in f["cycle"].buckets]),
    "roi_sources": (
        ["source", "cost", "revenue", "customers", "ROI %"],
        lambda f: [[r.label, r.cost, r.revenue, r.won, _pct(r.roi)] for r in f["roi_sources"]],
    ),
    "roi_campaigns": (
        ["campaign", "cost", "revenue", "customers", "ROI %"],
        lambda f: [[r.label, r.cost, r.revenue, r.won, _pct(r.roi)] for r in f["roi_campaigns"]],
    ),
    "sla_owners": (
        [
            "SDR",
            "handoffs",
            "accepted on time %",
            "first touch on time %",
            "median hours to first touch",
            "breaches",
        ],
        lambda f: [
            [
                s.label,
                s.handoffs,
                _pct(s.accept_rate),
                _pct(s.touch_rate),
                _num(s.median_hours_to_touch),
                s.breaches,
            ]
            for s in f["sla_owners"]
        ],
    ),
    "sla_teams": (
        [
            "team",
            "handoffs",
            "accepted on time %",
            "first touch on time %",
            "median hours to first touch",
            "breaches",
        ],
        lambda f: [
            [
                s.label,
                s.handoffs,
                _pct(s.accept_rate),
                _pct(s.touch_rate),
                _num(s.median_hours_to_touch),
                s.breaches,
            ]
            for s in f["sla_teams"]
        ],
    ),
}


def _charts(current: dict, previous: dict | None) -> dict:
    """What the charts draw (static/js/dashboard.js), as JSON."""
    return {
        "funnel": {
            "labels": ["Leads"] + [s.label for s in current["steps"]],
            "current": [current["leads"]] + [s.count for s in current["steps"]],
            "previous": ([previous["leads"]] + [s.count for s in previous["steps"]]) if previous else None,
        },
        "mqls": {
            "labels": [m.strftime("%b %Y") for m, _ in current["months"]],
            "counts": [n for _, n in current["months"]],
        },
        "cycle": {
            "labels": [b for b, _ in current["cycle"].buckets],
            "counts": [n for _, n in current["cycle"].buckets],
        },
        "roi": {
            "labels": [r.label for r in current["roi_sources"]],
            "cost": [float(r.cost) for r in current["roi_sources"]],
            "revenue": [float(r.revenue) for r in current["roi_sources"]],
        },
    }


@require_GET
@permission_required(VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if not params.get("start") and not params.get("end"):  # the default period, shown in the inputs
        today = timezone.localdate()
        params["start"] = (today - datetime.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        params["end"] = today.isoformat()
    form = ReportForm(params)
    if not form.is_valid():
        return render(request, "leads/reports.html", {"form": form}, status=400)
    period, comparison, filters = form.period(), form.comparison(), form.filters()
    by = form.cleaned_data.get("by") or "source"
    export = request.GET.get("export")
    if export in EXPORTS:
        current, _ = _figures(period, None, filters, by)
        header, rows = EXPORTS[export]
        filename = f"leadapp-{export}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
        response = StreamingHttpResponse(
            csv_lines(header, rows(current)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    current, previous = _figures(period, comparison, filters, by)
    context = {
        "form": form,
        "period": period,
        "comparison": comparison,
        "current": current,
        "previous": previous,
        "by_label": dict(reports.DIMENSIONS)[by],
        "charts": _charts(current, previous),
        "query": request.GET.urlencode(),
        "refreshed": "every 5 minutes",
        "costs_apply": reports.costs_apply(filters),
    }
    template = "leads/reports.html#dashboard" if request.htmx else "leads/reports.html"
    return render(request, template, context)


# --- Marketing costs ---------------------------------------------------------------------------


class CostForm(forms.ModelForm):
    month = forms.DateField(
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"), input_formats=["%Y-%m", "%Y-%m-%d"]
    )

    class Meta:
        model = MarketingCost
        fields = ["month", "source", "campaign", "amount", "note"]

    def clean_month(self):
        return self.cleaned_data["month"].replace(day=1)

    def clean(self):
        data = super().clean()
        if bool(data.get("source")) == bool(data.get("campaign")):
            raise forms.ValidationError("A cost is for a source or for a campaign: choose one of them.")
        if data.get("amount") is not None and data["amount"] < 0:
            self.add_error("amount", "A cost cannot be negative.")
        return data


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, "leads.view_marketingcost")
def costs(request: HttpRequest) -> HttpResponse:
    may_edit = request.user.has_perm("leads.add_marketingcost")
    form = CostForm(request.POST or None) if may_edit else None
    status = 200
    if request.method == "POST":
        if not may_edit:
            return HttpResponse(status=403)
        if form.is_valid():
            try:
                cost = form.save(commit=False)
                cost.created_by = request.user
                cost.save()
            except IntegrityError:
                form.add_error(None, "There is a cost for that month already: change it in the list below.")
            else:
                messages.success(request, f"Cost added: {cost}.")
                return redirect("leads:report-costs")
        status = 400
    rows = MarketingCost.objects.select_related("campaign").order_by("-month", "source", "campaign__name")[
        :300
    ]
    return render(request, "leads/report_costs.html", {"form": form, "costs": rows}, status=status)


@require_POST
@permission_required(VIEW, "leads.delete_marketingcost")
def cost_delete(request: HttpRequest, pk: int) -> HttpResponse:
    cost = get_object_or_404(MarketingCost, pk=pk)
    cost.delete()
    messages.success(request, f"Cost removed: {cost}.")
    return redirect("leads:report-costs")
