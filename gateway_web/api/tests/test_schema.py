"""The OpenAPI document is exact: any schema warning fails the build."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

API_ROWS = {
    ("post", "/api/v1/auth/register"), ("post", "/api/v1/auth/token"), ("post", "/api/v1/auth/token/refresh"),
    ("post", "/api/v1/auth/logout"), ("get", "/api/v1/me"), ("get", "/api/v1/wallets"), ("post", "/api/v1/wallets"),
    ("get", "/api/v1/wallets/{wallet_id}"), ("get", "/api/v1/wallets/{wallet_id}/history"),
    ("post", "/api/v1/wallets/{wallet_id}/deposits"), ("post", "/api/v1/wallets/{wallet_id}/withdrawals"),
    ("post", "/api/v1/transfers"), ("get", "/api/v1/transactions"), ("get", "/api/v1/transactions/{transaction_id}"),
    ("get", "/api/v1/activity"), ("get", "/api/v1/healthz"), ("get", "/api/v1/readyz"),
    ("post", "/api/v1/auth/password/reset"), ("post", "/api/v1/auth/password/reset/confirm"),
    ("post", "/api/v1/auth/password/change"), ("get", "/api/v1/auth/sessions"),
    ("delete", "/api/v1/auth/sessions/{session_id}"), ("get", "/api/v1/auth/2fa"), ("post", "/api/v1/auth/2fa/setup"),
    ("post", "/api/v1/auth/2fa/confirm"), ("post", "/api/v1/auth/2fa/disable"),
    ("get", "/api/v1/wallets/{wallet_id}/limits"), ("put", "/api/v1/wallets/{wallet_id}/limits"),
    ("post", "/api/v1/transactions/{transaction_id}/refunds"),
    ("get", "/api/v1/scheduled-transfers"), ("post", "/api/v1/scheduled-transfers"),
    ("get", "/api/v1/scheduled-transfers/{schedule_id}"), ("patch", "/api/v1/scheduled-transfers/{schedule_id}"),
    ("delete", "/api/v1/scheduled-transfers/{schedule_id}"),
    ("get", "/api/v1/payment-requests"), ("post", "/api/v1/payment-requests"),
    ("get", "/api/v1/payment-requests/{request_id}"), ("post", "/api/v1/payment-requests/{request_id}/pay"),
    ("post", "/api/v1/payment-requests/{request_id}/decline"), ("post", "/api/v1/payment-requests/{request_id}/cancel"),
    ("delete", "/api/v1/auth/sessions/{session_id}"), ("get", "/api/v1/wallets/{wallet_id}/statement"),
    ("get", "/api/v1/wallets/{wallet_id}/balance"),
}  # fmt: skip


@pytest.fixture
def schema(tmp_path) -> dict:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def test_schema_validates_without_warnings_and_lists_exactly_the_public_api(schema):
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert operations == API_ROWS


def test_schema_declares_bearer_auth_and_public_endpoints_need_none(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    }  # fmt: skip
    assert schema["paths"]["/api/v1/transfers"]["post"]["security"] == [{"bearerAuth": []}]
    for path in (
        "/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/auth/token/refresh",
        "/api/v1/auth/password/reset", "/api/v1/auth/password/reset/confirm",
    ):  # fmt: skip
        assert schema["paths"][path]["post"].get("security", [{}]) == [{}], path


def test_money_endpoints_document_idempotency_key_and_refusals(schema):
    for path in ("/api/v1/transfers", "/api/v1/payment-requests/{request_id}/pay"):
        post = schema["paths"][path]["post"]
        assert "Idempotency-Key" in {parameter["name"] for parameter in post["parameters"]}
        assert {"202", "400", "401", "404", "409", "422", "429", "503"} <= set(post["responses"])


@pytest.mark.django_db
def test_schema_and_docs_are_served_with_vendored_assets(client):
    assert client.get("/api/v1/schema/").status_code == 200
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()
