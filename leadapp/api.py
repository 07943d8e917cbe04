"""One error format for the whole API::

    {"error": {"status": 400, "code": "invalid", "detail": "...", "fields": {"email": ["..."]}}}

``fields`` is present for validation errors only; nested lists keep DRF's shape.
"""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def error_body(http_status: int, code: str, detail: str, fields: dict | None = None) -> dict:
    error = {"status": http_status, "code": code, "detail": detail}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(response.status_code, "invalid", "The request has invalid fields.", data)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        code = getattr(detail, "code", None) or "error"
        response.data = error_body(response.status_code, code, str(detail))
    return response


def validation_error_response(fields: dict) -> Response:
    return Response(
        error_body(400, "invalid", "The request has invalid fields.", fields),
        status=status.HTTP_400_BAD_REQUEST,
    )
