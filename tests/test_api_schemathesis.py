"""Property-based contract test: generated requests against the live OpenAPI document of the stack.

Every operation, as an authenticated user: never a 500, and every response (status, content type,
body) is what the schema promises. Bounded: a few derandomized examples per operation.

The operations are walked in one test with Hypothesis directly: schemathesis' lazy pytest loader
(``from_fixture``) renames pytest nodes through a private attribute pytest 9 no longer has.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.people import Person

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 8


@pytest.fixture(scope="session")
def api_schema(gateway_url):
    return schemathesis.openapi.from_url(f"{gateway_url}/api/v1/schema/?format=json")


def test_every_operation_conforms_to_the_schema(api_schema, gateway_url):
    fuzzer = Person.sign_up(gateway_url, prefix="fuzz")
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # every row of API.md's REST table (accounts, statement, balance at, refunds, limits, scheduled transfers,
    # payment requests), the four two-factor ones, health included
    assert len(operations) == 42

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
            phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def conforms(case):
            response = case.call_and_validate(headers=dict(fuzzer.headers), checks=CHECKS, timeout=30)
            # 503 is documented, but on a healthy stack it would mean the gateway lost a service.
            assert response.status_code != 503, f"{case.operation.label}: {response.text}"

        conforms()
