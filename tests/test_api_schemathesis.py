"""Property-based contract test: generated requests against the live OpenAPI document of the stack.

Every operation, as an authenticated user: no 5xx-as-a-bug (500), and every response — status,
content type, headers and body — matches what the schema promises. Bounded: a few examples each.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.people import Person

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="session")
def api_schema(gateway_url):
    return schemathesis.openapi.from_url(f"{gateway_url}/api/v1/schema/?format=json")


@pytest.fixture(scope="session")
def fuzz_user(gateway_url) -> Person:
    return Person.sign_up(gateway_url, prefix="fuzz")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_schema(case, fuzz_user):
    response = case.call_and_validate(headers=dict(fuzz_user.headers), checks=CHECKS, timeout=30)
    # 503 is documented, but on a healthy stack it would mean the gateway lost a service.
    assert response.status_code != 503, response.text
