from django.http import HttpRequest, HttpResponse


def lead_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


lead_create = lead_detail = lead_edit = lead_timeline = lead_list
