"""OpenAPI generation: the public document describes /api/v1 only, not the internal endpoints."""

from __future__ import annotations


def public_endpoints_only(endpoints, **kwargs):
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
