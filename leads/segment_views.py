"""Saved segments: the lead list's filters, saved under a name (Marketing), and listed on the
lead list as quick links. Campaigns enroll the leads of a segment; audiences export them."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from leadapp.permissions import permission_required

from .forms import SavedSegmentForm
from .models import SavedSegment


@require_POST
@permission_required("leads.view_lead", "leads.add_savedsegment")
def segment_create(request: HttpRequest) -> HttpResponse:
    form = SavedSegmentForm(request.POST, instance=SavedSegment(created_by=request.user))
    if form.is_valid():
        segment = form.save()
        messages.success(request, f"Segment “{segment.name}” saved.")
        return redirect(segment.get_absolute_url())
    errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
    messages.error(request, f"The segment was not saved: {errors}")
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(reverse("leads:list") + (f"?{query}" if query else ""))
