"""JSON answers for what happens outside a DRF view: unknown /api/ URLs, crashes, login lockout."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"code": "server_error", "detail": "Internal error; it has been logged."}, status=500)
    return defaults.server_error(request)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"code": "bad_request", "detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def lockout_response(request, original_response=None, credentials=None):
    """django-axes calls this when a username+IP has failed to log in too often."""
    return JsonResponse(
        {"code": "locked_out", "detail": "Too many failed login attempts; try again later."}, status=429
    )
