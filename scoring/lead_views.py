from django.http import HttpResponse

from leadapp.permissions import permission_required


@permission_required("scoring.view_leadscore")
def lead_score(request, pk):
    return HttpResponse("")
