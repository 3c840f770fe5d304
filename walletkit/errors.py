"""Errors as JSON with a stable machine-readable ``code`` and a human ``detail``.

Services raise ``DomainError`` (a code, a detail, fields such as ``available``): they also run from
consumers, the sweeper and the scheduler, where an HTTP status means nothing. ``exception_handler``
answers it with the status ``STATUS_BY_CODE`` gives its code, the one map of codes to statuses.
``ApiError`` stays for views and HTTP clients, which decide a status themselves."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback


class ApiError(exceptions.APIException):
    """A business rule said no. ``code`` is part of the public contract."""

    def __init__(self, detail: str, *, code: str, status_code: int = status.HTTP_400_BAD_REQUEST, extra=None):
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.extra = extra or {}


class DomainError(Exception):
    """A business rule said no, in a service. ``code`` and ``fields`` are part of the public contract."""

    def __init__(self, detail: str, *, code: str, **fields):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.fields = fields


class RemoteRefused(DomainError):
    """Another service refused a call made on the caller's behalf: its code and detail are passed on,
    answered 422 whatever the code (the caller's request was valid; the other service said no)."""


# Every DomainError code and its HTTP status. A code not listed here answers 400.
STATUS_BY_CODE = {
    # 400: the request itself is wrong
    "invalid": status.HTTP_400_BAD_REQUEST,
    "invalid_amount": status.HTTP_400_BAD_REQUEST,
    "invalid_movement": status.HTTP_400_BAD_REQUEST,
    "currency_required": status.HTTP_400_BAD_REQUEST,
    "idempotency_key_required": status.HTTP_400_BAD_REQUEST,
    "same_person": status.HTTP_400_BAD_REQUEST,
    "same_wallet": status.HTTP_400_BAD_REQUEST,
    # 403, 404
    "permission_denied": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    "wallet_not_found": status.HTTP_404_NOT_FOUND,
    "finding_not_found": status.HTTP_404_NOT_FOUND,
    # 409: the state changed or already moved on
    "version_conflict": status.HTTP_409_CONFLICT,
    "transaction_id_conflict": status.HTTP_409_CONFLICT,
    "finding_resolved": status.HTTP_409_CONFLICT,
    "request_not_pending": status.HTTP_409_CONFLICT,
    "schedule_finished": status.HTTP_409_CONFLICT,
    # 422: valid, but a business rule says no
    "insufficient_funds": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "limit_exceeded": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "currency_mismatch": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "balance_below_held": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "expired": status.HTTP_422_UNPROCESSABLE_ENTITY,
}


def domain_error_status(error: DomainError) -> int:
    if isinstance(error, RemoteRefused):
        return status.HTTP_422_UNPROCESSABLE_ENTITY
    return STATUS_BY_CODE.get(error.code, status.HTTP_400_BAD_REQUEST)


_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is restarting or unreachable (found by tests/test_chaos.py): a retryable 503
        # in our JSON shape, not a 500 that reads like a bug. The atomic block already rolled back.
        return Response(
            {"code": "service_unavailable", "detail": "The database is unavailable; retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DomainError):
        set_rollback()  # as DRF does for its own exceptions: ATOMIC_REQUESTS must not commit a refusal
        return Response({"code": exc.code, "detail": exc.detail, **exc.fields}, status=domain_error_status(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "detail": "Some fields are invalid.", "errors": _field_errors(exc.detail)}
    elif isinstance(exc, ApiError):
        body = {"code": exc.default_code if not exc.get_codes() else exc.get_codes(), "detail": str(exc.detail)}
        body.update(exc.extra)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = codes if isinstance(codes, str) and codes not in ("error", "invalid") else None
        body = {"code": code or _CODES.get(response.status_code, "error"), "detail": _text(response.data)}
    return Response(body, status=response.status_code, headers=_keep_headers(response))


def _field_errors(detail):
    if isinstance(detail, dict):
        return {
            field: [str(message) for message in (msgs if isinstance(msgs, list) else [msgs])]
            for field, msgs in detail.items()
        }
    return {"non_field_errors": [str(message) for message in (detail if isinstance(detail, list) else [detail])]}


def _text(data) -> str:
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    return str(data)


def _keep_headers(response) -> dict:
    return {name: value for name, value in response.items() if name in ("WWW-Authenticate", "Retry-After", "Allow")}
