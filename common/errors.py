"""One error format for the whole API: ``{"error": {"code", "message", "fields"?}}``.

Domain code raises ``DomainError`` subclasses (stable snake_case ``code``, HTTP
``status_code``); DRF and Django exceptions are translated here, so every 4xx
and 5xx under ``/api/`` has the same shape and tests can assert on ``code``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose. Subclass per case."""

    code: str = "error"
    status_code: int = status.HTTP_400_BAD_REQUEST
    message: str = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.fields = fields
        self.headers = headers or {}
        super().__init__(self.message)


class Conflict(DomainError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT
    message = "The request conflicts with the current state."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service Podium depends on is unreachable; nothing was changed. Try again shortly."
    default_code = "service_unavailable"


# A dependency that is down or restarting (the database, Redis, the broker): the request is answered
# with 503 and Retry-After, never a 500, and what it did not finish was rolled back.
DEPENDENCY_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError, BrokerError)
RETRY_AFTER_SECONDS = 5


def dependency_down(exc: BaseException | None) -> bool:
    """Whether ``exc``, or what it was raised from (``raise ... from``), means a dependency is unreachable.

    Only the explicit cause counts: a bug met while handling a dependency's error is still a bug (a 500).
    """
    while exc is not None:
        if isinstance(exc, DEPENDENCY_ERRORS):
            return True
        exc = exc.__cause__
    return False


# DRF's own codes, renamed where DRF's name is vague or differs by status.
_CODE_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    503: "service_unavailable",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten_fields(detail: Any) -> Any:
    """Turn DRF's nested ErrorDetail structure into plain strings, keeping its shape."""
    if isinstance(detail, dict):
        return {str(key): _flatten_fields(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_fields(item) for item in detail]
    return str(detail)


def _first_message(detail: Any) -> str | None:
    if isinstance(detail, dict):
        for value in detail.values():
            found = _first_message(value)
            if found:
                return found
        return None
    if isinstance(detail, list):
        for item in detail:
            found = _first_message(item)
            if found:
                return found
        return None
    return str(detail)


def _body_for_api_exception(exc: exceptions.APIException) -> dict[str, Any]:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_fields(detail if isinstance(detail, dict) else {"non_field_errors": detail})
        non_field = fields.pop("non_field_errors", None)
        message = _first_message(non_field) if non_field else "Some fields are invalid."
        return error_body("invalid", message or "Invalid input.", fields or None)
    # simplejwt puts {"detail", "code", "messages"} in the detail.
    if isinstance(detail, dict) and "detail" in detail:
        code = str(detail.get("code") or _CODE_BY_STATUS.get(exc.status_code, "error"))
        return error_body(code, str(detail["detail"]))
    code = getattr(detail, "code", None) or exc.default_code
    if code in ("error", "invalid") and exc.status_code != 400:
        code = _CODE_BY_STATUS.get(exc.status_code, "error")
    return error_body(str(code), _first_message(detail) or str(exc.default_detail))


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error as ``{"error": {...}}`` with the right status."""
    # Imported here: rest_framework.views loads the parser classes, which import this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code, headers=exc.headers)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "The request was refused as malformed.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif dependency_down(exc):
        logger.warning("answering 503: %s: %s", type(exc).__name__, exc)
        exc = ServiceUnavailable()
        exc.wait = RETRY_AFTER_SECONDS
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler answers, in JSON under /api/
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    set_rollback()
    return Response(_body_for_api_exception(exc), status=exc.status_code, headers=headers)


_MESSAGE_BY_STATUS = {
    400: "The request was malformed.",
    403: "You do not have permission to do this.",
    404: "Nothing here.",
    405: "Method not allowed.",
    413: "The request body is too large.",
    500: "An unexpected error occurred; it has been logged.",
    503: ServiceUnavailable.default_detail,
}

_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Podium is unavailable</title></head>
<body><h1>Podium is briefly unavailable</h1><p>A service it depends on is unreachable. Try again in a few
seconds.</p></body></html>
"""


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an unreachable dependency is a 503 with Retry-After (JSON under ``/api/``), not a 500.

    Django calls this for any exception no view handled, in middleware too (a session saved to a database
    that just went away), while the exception is being handled, so ``sys.exc_info()`` names it.
    """
    if not dependency_down(sys.exc_info()[1]):
        if request.path.startswith("/api/"):
            return JsonResponse(error_body("server_error", _MESSAGE_BY_STATUS[500]), status=500)
        try:
            return defaults.server_error(request)
        except Exception:  # noqa: BLE001  the 500 page itself failed to render: a plain one
            return HttpResponseServerError("<h1>Server Error (500)</h1>")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body("service_unavailable", _MESSAGE_BY_STATUS[503]), status=503)
    else:
        response = HttpResponse(_UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ApiJsonErrorsMiddleware:
    """Under ``/api/``, turns Django's own error pages (unknown URL, 500, ...) into the JSON error shape.

    DRF views already answer in that shape through ``api_exception_handler``;
    this catches what happens outside them, with DEBUG on or off.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not isinstance(response, Response)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status_code = response.status_code
            code = _CODE_BY_STATUS.get(status_code, "server_error" if status_code >= 500 else "error")
            message = _MESSAGE_BY_STATUS.get(status_code, "The request could not be completed.")
            json_response = JsonResponse(error_body(code, message), status=status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    json_response[header] = response[header]
            return json_response
        return response
