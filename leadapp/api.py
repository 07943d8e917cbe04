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


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotent(handler):
    """For an API write another system may retry: with an ``Idempotency-Key`` header the
    write and its answer are stored together (one transaction), and the same key again gets
    the stored answer (header ``Idempotent-Replayed: true``) without a second write. The same
    key with a different request is refused (422). Without the header the write just runs."""
    import functools
    import hashlib

    from django.db import IntegrityError, transaction

    from .models import IdempotencyKey

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return handler(view, request, *args, **kwargs)
        if len(key) > 255:
            return Response(
                error_body(400, "invalid", f"{IDEMPOTENCY_HEADER} is at most 255 characters."), 400
            )
        digest = hashlib.sha256(f"{request.method} {request.path}\n".encode() + request.body).hexdigest()

        def replay(stored: IdempotencyKey) -> Response:
            if stored.request_hash != digest:
                detail = f"This {IDEMPOTENCY_HEADER} was used for a different request."
                return Response(error_body(422, "idempotency_key_reused", detail), 422)
            response = Response(stored.response, status=stored.status_code)
            response["Idempotent-Replayed"] = "true"
            return response

        stored = IdempotencyKey.objects.filter(user=request.user, key=key).first()
        if stored is not None:
            return replay(stored)
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():  # the write alone: undone if it fails
                        response = handler(view, request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - an API error is an answer to store too
                    response = view.handle_exception(exc)  # re-raises what is not an API error
                if response.status_code < 500:
                    IdempotencyKey.objects.create(
                        user=request.user,
                        key=key,
                        request_hash=digest,
                        status_code=response.status_code,
                        response=response.data,
                    )
        except IntegrityError:
            # The same key sent twice at once: the first stored its answer; replay it. (Any
            # other integrity error is the handler's own, and goes on up.)
            stored = IdempotencyKey.objects.filter(user=request.user, key=key).first()
            if stored is None:
                raise
            return replay(stored)
        return response

    return wrapper
