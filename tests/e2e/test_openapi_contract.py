"""schemathesis against the gateway's own /openapi.json: no 5xx, no response outside the document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from testkit.boai import set_up
from testkit.stack import ORGANISER_TOKEN, judge_token

pytestmark = pytest.mark.integration
EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(stack):
    set_up(stack)  # real data, so that some generated calls reach a contest that exists
    return schemathesis.openapi.from_url(f"{stack.base}/openapi.json")


def test_the_gateway_keeps_its_documented_contract(api_schema, stack):
    """Every documented operation, a bounded number of generated requests each, as each role."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def conforms(case):
            for token in (ORGANISER_TOKEN, judge_token("J1"), None):  # each role, and none
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                case.call_and_validate(base_url=stack.base, headers=headers, checks=CHECKS)

        conforms()
