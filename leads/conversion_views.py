"""The lead page's "Conversion" forms: qualify, open an opportunity, mark it won or lost. Each
view parses its form, calls one service of ``leads.conversion`` and goes back to the lead; a
refusal shows the page again (400) with the message beside the field it is about."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from leadapp.permissions import permission_required

from . import conversion
from .forms import LostForm, OpportunityForm, QualifyForm, WonForm
from .models import Lead
from .views import _detail_page

PERMISSIONS = ("leads.view_lead", "leads.change_lead")


Action = Callable[[Lead, dict], object]


def _convert(
    request: HttpRequest, pk: int, form_class: type[forms.Form], act: Action, done: str
) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user).select_related("owner"), pk=pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(lead, form.cleaned_data)
        except conversion.ConversionError as exc:  # e.g. the lead moved on: a second submit
            lead.refresh_from_db()
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, done)
            return redirect(lead)
    return _detail_page(request, lead, conversion_form=form)


@require_POST
@permission_required(*PERMISSIONS)
def lead_qualify(request: HttpRequest, pk: int) -> HttpResponse:
    def act(lead, data):
        conversion.qualify(lead, by=request.user, **data)

    return _convert(request, pk, QualifyForm, act, "Lead qualified: it is an SQL now.")


@require_POST
@permission_required(*PERMISSIONS)
def lead_open_opportunity(request: HttpRequest, pk: int) -> HttpResponse:
    def act(lead, data):
        conversion.open_opportunity(lead, by=request.user, **data)

    return _convert(request, pk, OpportunityForm, act, "Opportunity opened.")


@require_POST
@permission_required(*PERMISSIONS)
def lead_won(request: HttpRequest, pk: int) -> HttpResponse:
    def act(lead, data):
        conversion.mark_won(lead, by=request.user, value=data["value"], won_date=data["won_date"])

    return _convert(request, pk, WonForm, act, "Won: the lead is a customer now.")


@require_POST
@permission_required(*PERMISSIONS)
def lead_lost(request: HttpRequest, pk: int) -> HttpResponse:
    def act(lead, data):
        conversion.mark_lost(lead, by=request.user, reason=data["lost_reason"], note=data["lost_note"])

    return _convert(request, pk, LostForm, act, "Marked lost.")
