"""The manager's routing pages: the ordered routing rules, the teams, and each SDR's load."""

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.deletion import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from leadapp.permissions import permission_required

from .handoff_forms import RoutingRuleForm, TeamForm, sales_users
from .models import Handoff, RoutingRule, SlaBreach, Team

VIEW = "leads.view_routingrule"


@permission_required(VIEW)
def rule_list(request: HttpRequest) -> HttpResponse:
    week_ago = timezone.now() - timedelta(days=7)
    people = sales_users().annotate(
        open_leads=Count("handoffs", filter=~Q(handoffs__status=Handoff.Status.CLOSED), distinct=True),
        breaches_week=Count("sla_breaches", filter=Q(sla_breaches__recorded_at__gte=week_ago), distinct=True),
    )
    context = {
        "rules": RoutingRule.objects.select_related("team", "user", "last_assigned"),
        "teams": Team.objects.select_related("manager").prefetch_related("members"),
        "people": people,
        "pool": Handoff.objects.filter(status=Handoff.Status.POOL).count(),
        "breaches": SlaBreach.objects.select_related("handoff__lead", "owner", "reassigned_to")[:20],
    }
    return render(request, "leads/routing.html", context)


def _rule_form_page(request: HttpRequest, form: RoutingRuleForm, rule: RoutingRule | None) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "leads/routing_rule_form.html", {"form": form, "rule": rule}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, "leads.add_routingrule")
def rule_create(request: HttpRequest) -> HttpResponse:
    form = RoutingRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        last = RoutingRule.objects.order_by("-position").values_list("position", flat=True).first()
        form.instance.position = (last or 0) + 1
        rule = form.save()
        messages.success(request, f"Rule “{rule}” added, last in the order.")
        return redirect("leads:routing")
    return _rule_form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, "leads.change_routingrule")
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    form = RoutingRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Rule “{rule}” saved.")
        return redirect("leads:routing")
    return _rule_form_page(request, form, rule)


@require_POST
@permission_required(VIEW, "leads.change_routingrule")
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Up or down one place in the order (the first rule that matches a lead takes it)."""
    with transaction.atomic():
        rules = list(RoutingRule.objects.select_for_update().order_by("position", "id"))
        index = next((i for i, rule in enumerate(rules) if rule.pk == pk), None)
        if index is None:
            return redirect("leads:routing")
        other = index + (1 if request.POST.get("direction") == "down" else -1)
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        for position, rule in enumerate(rules, start=1):
            if rule.position != position:
                RoutingRule.objects.filter(pk=rule.pk).update(position=position)
    return redirect(reverse("leads:routing") + f"#rule-{pk}")


@require_POST
@permission_required(VIEW, "leads.delete_routingrule")
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    rule.delete()
    messages.success(request, f"Rule “{rule}” deleted. Leads it routed keep their owners.")
    return redirect("leads:routing")


def _team_page(request: HttpRequest, form: TeamForm, team: Team | None, *, refusal: str = "") -> HttpResponse:
    status = 400 if refusal or (form.is_bound and form.errors) else 200
    context = {"form": form, "team": team, "refusal": refusal}
    return render(request, "leads/team_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_team", "leads.add_team")
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = form.save()
        messages.success(request, f"Team “{team}” added.")
        return redirect("leads:routing")
    return _team_page(request, form, None)


@require_http_methods(["GET", "POST"])
@permission_required("leads.view_team", "leads.change_team")
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST":
        if request.POST.get("delete"):
            if not request.user.has_perm("leads.delete_team"):
                messages.error(request, "You may not delete teams.")
                return redirect("leads:routing")
            try:
                team.delete()
            except ProtectedError:
                refusal = "Routing rules send leads to this team: change or delete them first."
                return _team_page(request, TeamForm(instance=team), team, refusal=refusal)
            messages.success(request, f"Team “{team}” deleted.")
            return redirect("leads:routing")
        if form.is_valid():
            form.save()
            messages.success(request, f"Team “{team}” saved.")
            return redirect("leads:routing")
    return _team_page(request, form, team)
