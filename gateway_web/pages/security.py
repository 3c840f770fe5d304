"""Content-Security-Policy for the HTML pages: no inline script or style anywhere, scripts and
styles only from our own /static/, the websocket only to this host, never framed."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

# The API docs page (drf-spectacular's Swagger UI) ships its own inline bootstrap; it keeps
# Django's defaults and is not part of the browser app.
EXEMPT_PREFIXES = ("/api/v1/docs/",)


def content_security_policy(request: HttpRequest) -> str:
    host = request.get_host()
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(EXEMPT_PREFIXES):
            response.setdefault("Content-Security-Policy", content_security_policy(request))
        return response
