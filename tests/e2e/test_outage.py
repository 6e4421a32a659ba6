"""A service that stops answering: the gateway says so within its deadline, and is not ready."""

from __future__ import annotations

import time

import pytest

from testkit.stack import ORGANISER_TOKEN

pytestmark = pytest.mark.integration


def test_a_request_to_a_stopped_service_is_a_503_within_the_deadline_and_readiness_fails(stack):
    assert stack.call("GET", "/health/ready")[0] == 200
    stack.child("registration").kill()
    started = time.monotonic()
    code, body = stack.call("GET", "/contests/any-contest", token=ORGANISER_TOKEN)
    assert code == 503 and body["error"]["code"] == "unavailable"
    assert time.monotonic() - started < 5 + 2  # the stack's deadline is 5 s
    code, body = stack.call("GET", "/health/ready")
    assert code == 503 and body["error"]["details"]["registration"].startswith("unavailable")
