from django.shortcuts import render

from leadapp.permissions import permission_required

from . import selectors, services


@permission_required("scoring.view_ruleset")
def overview(request):
    return render(
        request,
        "scoring/overview.html",
        {"published": services.published_rule_set(), "grid": selectors.grade_grid()},
    )
