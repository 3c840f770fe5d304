"""The one place the gateway talks to the services behind it.

Every call carries the caller's own access token, so each service checks ownership itself;
what a service answers is passed through (status and ``{code, detail, errors}``), rendered
in the public shape on success. Nothing here decides a business rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit
from uuid import UUID

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable, service_request
from walletkit.money import amount_format

log = logging.getLogger(__name__)
Named = Callable[[list[dict]], list[dict]]

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255
MONEY_CALL_ATTEMPTS = 3  # transaction_service's reserve: one try and two retries


def _unavailable(service: str) -> ApiError:
    return ApiError(
        f"The {service} service is unavailable; try again shortly.",
        code="service_unavailable",
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def _call(request: Request, method: str, service: str, path: str, **kwargs):
    return service_call(method, service, path, user_token=request.auth, **kwargs)


def service_call(method: str, service: str, path: str, *, user_token: str | None, **kwargs) -> tuple[int, object]:
    """The status and JSON body of a 2xx/3xx answer. A 4xx raises ``DownstreamError`` with the
    service's ``{code, detail, errors}``; unreachable or 5xx raises a 503 ``ApiError``.
    Shared by the REST API (``forward``) and the HTML pages, which hold the token in a cookie."""
    try:
        response = service_request(method, service, path, user_token=user_token, **kwargs)
    except ServiceUnavailable as exc:
        log.warning("downstream unreachable", extra={"service": service, "path": path, "error": str(exc)})
        raise _unavailable(service) from None
    if response.status_code >= 500:
        # A crash behind the gateway is not the client's fault and not a reason to answer 500 here.
        log.error("downstream error", extra={"service": service, "path": path, "status": response.status_code})
        raise _unavailable(service)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        if not isinstance(body, dict) or "code" not in body:
            body = {"code": _error_code(response.status_code), "detail": response.reason_phrase or "Error."}
        raise DownstreamError(body, response.status_code, retry_after=response.headers.get("Retry-After"))
    return response.status_code, body


class DownstreamError(Exception):
    """A service refused (4xx): its error body, passed on as it is."""

    def __init__(self, body: dict, status_code: int, *, retry_after: str | None = None):
        super().__init__(body.get("detail", ""))
        self.body, self.status_code = body, status_code
        # A service's "come back in N s" (429 overloaded, 503) reaches the client too.
        self.headers = {"Retry-After": retry_after} if retry_after else None


def _error_code(status_code: int) -> str:
    return {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found"}.get(
        status_code, "error"
    )


def forward(
    request: Request,
    method: str,
    service: str,
    path: str,
    *,
    output: type[serializers.Serializer],
    many: bool = False,
    json: dict | None = None,
    params: dict | None = None,
    timeout: float | None = None,
    named: Named | None = None,
) -> Response:
    """Call ``service`` as the caller and answer with its status and ``output``-shaped body;
    ``named`` adds the counterparties' usernames (api.people) before rendering."""
    extra = {"timeout": timeout} if timeout else {}
    try:
        status_code, body = _call(request, method, service, path, json=json, params=params, **extra)
    except DownstreamError as error:
        return Response(error.body, status=error.status_code, headers=error.headers)
    if named is not None and isinstance(body, dict | list):
        body = named(body) if many else named([body])[0]
    return Response(output(body, many=many).data, status=status_code)


def caller_wallet_get(request: Request, wallet_id: UUID) -> dict:
    """The wallet if it is the caller's — wallet_service decides, with the caller's own token; a
    stranger's wallet raises ``DownstreamError`` 404, the same as a missing one."""
    _, wallet = _call(request, "GET", "wallet", f"/wallets/{wallet_id}")
    return wallet


def forward_page(
    request: Request,
    service: str,
    path: str,
    *,
    item: type[serializers.Serializer],
    params: dict,
    named: Named | None = None,
) -> Response:
    """A ``{results, next}`` page; the service's ``next`` cursor becomes a gateway URL."""
    try:
        status_code, body = _call(request, "GET", service, path, params=params)
    except DownstreamError as error:
        return Response(error.body, status=error.status_code, headers=error.headers)
    body = body if isinstance(body, dict) else {}
    results = body.get("results", [])
    if named is not None:
        results = named(results)
    return Response(
        {"results": item(results, many=True).data, "next": _next_url(request, body.get("next"))},
        status=status_code,
    )


def _next_url(request: Request, downstream_next: str | None) -> str | None:
    """The service may answer a bare cursor or a URL of its own; either way the client gets a
    gateway URL with its own filters and the service's cursor."""
    if not downstream_next:
        return None
    query = dict(request.query_params.items())
    if "://" in downstream_next or downstream_next.startswith("/"):
        query.update(parse_qsl(urlsplit(downstream_next).query))
    else:
        query["cursor"] = downstream_next
    return request.build_absolute_uri(request.path) + "?" + urlencode(query)


def query_params(request: Request, query: type[serializers.Serializer]) -> dict:
    """Validated filters, re-encoded for the service (garbage stops here, with a 400)."""
    serializer = query(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else str(value)
        for name, value in serializer.validated_data.items()
    }


def idempotency_key_get(request: Request) -> str:
    """From the ``Idempotency-Key`` header or the ``idempotency_key`` body field; one is required."""
    header = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    body = request.data.get("idempotency_key") if isinstance(request.data, dict) else None
    body = body.strip() if isinstance(body, str) else body
    if header and body and header != body:
        raise serializers.ValidationError({"idempotency_key": ["The header and the body give different keys."]})
    key = header or body
    if not key:
        raise ApiError(
            f"An {IDEMPOTENCY_HEADER} header is required for requests that move money.",
            code="idempotency_key_required",
        )
    if not isinstance(key, str) or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise serializers.ValidationError(
            {"idempotency_key": [f"Must be printable text of at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]}
        )
    return key


def transaction_submit(
    request: Request,
    *,
    kind: str,
    from_wallet_id: UUID | None,
    to_wallet_id: UUID | None,
    amount: Decimal,
    idempotency_key: str,
    output: type[serializers.Serializer],
    named: Named | None = None,
) -> Response:
    """A money movement: the transaction service runs the saga and answers 202 with the transaction."""
    payload = movement_payload(
        kind=kind, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id, amount=amount,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    return forward(
        request,
        "POST",
        "transaction",
        "/transactions",
        output=output,
        json=payload,
        timeout=movement_timeout(),
        named=named,
    )


def movement_payload(
    *, kind: str, from_wallet_id: UUID | None, to_wallet_id: UUID | None, amount: Decimal, idempotency_key: str
) -> dict:
    return {
        "type": kind,
        "from_wallet_id": str(from_wallet_id) if from_wallet_id else None,
        "to_wallet_id": str(to_wallet_id) if to_wallet_id else None,
        "amount": amount_format(amount),
        "idempotency_key": idempotency_key,
    }


def movement_timeout() -> float:
    # transaction_service may ask the wallet up to three times before it answers: wait for its
    # verdict instead of answering 503 for a movement that is still going ahead.
    return MONEY_CALL_ATTEMPTS * settings.SERVICE_HTTP_TIMEOUT + 2
