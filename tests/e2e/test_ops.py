"""Every process serves its ops port: alive while its dependencies are down, ready only while
they answer, and counters that move when events flow. The broker outage is this stack's
vhost refusing its user and closing its connections, so no one else's broker is touched; the
store outage is a SIGKILL of a SecantusDB process of the test's own, started again later."""

from __future__ import annotations

import os
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.boai import regions
from testkit.servers import SecantusServer, wait_until
from testkit.stack import ORGANISER_TOKEN, judge_token, ok, running_stack

pytestmark = pytest.mark.integration
PROCESSES = (
    "registration",
    "registration-relay",
    "scoring",
    "scoring-relay",
    "ranking",
    "ranking-relay",
    "notify",
    "gateway",
)


def metric(stack, process: str, name: str, **labels: str) -> float:
    code, text = stack.ops(process, "/metrics")
    assert code == 200
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def all_ready(stack) -> bool:
    return all(stack.ops(process)[0] == 200 for process in PROCESSES)


def contest(stack) -> str:
    contest_id = f"ops-{uuid.uuid4().hex[:6]}"
    ok(stack.call("PUT", "/regions/boai", {"regions": regions()}, token=ORGANISER_TOKEN))
    ok(
        stack.call(
            "POST",
            "/contests",
            {
                "contest_id": contest_id,
                "name": "运维测试",
                "tree_id": "boai",
                "county_code": "boai",
                "format": "knockout",
            },
            token=ORGANISER_TOKEN,
        )
    )
    return contest_id


def test_every_process_is_alive_and_ready_and_its_counters_move_when_events_flow(stack):
    wait_until(lambda: all_ready(stack), timeout=60, what="every process ready")
    for process in PROCESSES:
        assert stack.ops(process, "/healthz") == (200, {"status": "alive"})
    assert stack.ops("scoring")[1]["checks"] == ["broker", "store"]
    assert stack.ops("gateway")[1]["checks"] == ["broker"]
    assert stack.ops("scoring-relay")[1]["checks"] == ["relay", "rounds"]

    before = metric(stack, "registration", "leitai_events_appended_total", type="ContestCreated")
    contest(stack)
    assert metric(stack, "registration", "leitai_events_appended_total", type="ContestCreated") == before + 1
    wait_until(
        lambda: metric(stack, "registration-relay", "leitai_events_relayed_total", type="ContestCreated") >= 1,
        what="the relay to count the event",
    )
    wait_until(
        lambda: metric(stack, "notify", "leitai_events_consumed_total", type="ContestCreated", outcome="applied") >= 1,
        what="notify to count the event",
    )
    assert metric(stack, "gateway", "leitai_gateway_requests_total", route="create_contest", status="201") >= 1
    assert metric(stack, "gateway", "leitai_gateway_request_seconds_count", route="create_contest") >= 1
    assert stack.ops("gateway", "/nowhere")[0] == 404
    # the lease holder counts every subscriber's queue: notify consumes, nothing is dead-lettered
    queue = "evt-registration-ContestCreated--notify.on_contest_created"
    wait_until(
        lambda: metric(stack, "registration-relay", "leitai_queue_consumers", queue=queue) >= 1,
        timeout=45,
        what="the relay to count notify's consumer",
    )
    assert metric(stack, "registration-relay", "leitai_queue_messages", queue=queue, kind="dead_letter") == 0


def test_a_broker_outage_makes_every_process_unready_but_alive_and_all_recover(stack):
    wait_until(lambda: all_ready(stack), timeout=60, what="every process ready")
    stack.vhost.refuse()
    try:
        still_ready = lambda: [p for p in PROCESSES if stack.ops(p)[0] != 503]  # noqa: E731
        try:
            wait_until(lambda: not still_ready(), timeout=30, what="every process to say it is not ready")
        except TimeoutError:
            raise AssertionError(f"still ready: {still_ready()}") from None
        code, body = stack.ops("scoring")
        assert body["status"] == "not ready" and "broker" in body["missing"] and "store" not in body["missing"]
        assert "relay" in stack.ops("scoring-relay")[1]["missing"]
        for process in PROCESSES:  # restarting would not help: liveness holds
            assert stack.ops(process, "/healthz")[0] == 200
        code, body = stack.call("GET", "/contests/any-contest", token=ORGANISER_TOKEN)
        assert code == 503 and body["error"]["code"] == "unavailable"
    finally:
        stack.vhost.admit()
    wait_until(lambda: all_ready(stack), timeout=90, interval=0.5, what="every process ready again")
    assert all(child.alive() for child in stack.children)
    contest_id = contest(stack)
    assert stack.call("GET", f"/contests/{contest_id}", token=ORGANISER_TOKEN)[0] == 200


@pytest.fixture(scope="module")
def stack_on_its_own_store(tmp_path_factory):
    """A stack whose store this module may kill: a SecantusDB process of its own."""
    server = SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    try:
        # and a rate limit a test can reach: 2 requests a second after a burst of 12
        with running_stack(
            tmp_path_factory.mktemp("own-store"), server.url, ["J1"], rate_limit={"per_second": 2, "burst": 12}
        ) as stack:
            yield stack, server
    finally:
        server.stop()


def test_a_store_outage_is_a_503_and_unready_but_alive_and_every_process_recovers(stack_on_its_own_store):
    stack, server = stack_on_its_own_store
    wait_until(lambda: all_ready(stack), timeout=60, what="every process ready")
    before = contest(stack)
    stores = ("registration", "scoring", "ranking", "notify")
    server.crash()
    try:
        wait_until(
            lambda: all(stack.ops(p)[0] == 503 for p in stores),
            timeout=30,
            what="every service with a store to say it is not ready",
        )
        for process in stores:
            assert "store" in stack.ops(process)[1]["missing"], process
        assert stack.ops("gateway")[0] == 200  # it holds no store: still able to answer (503s, not hangs)
        code, body = stack.call("GET", f"/contests/{before}", token=ORGANISER_TOKEN)
        assert code == 503 and body["error"]["code"] == "unavailable", body
        for process in PROCESSES:  # a restart would not bring the store back
            assert stack.ops(process, "/healthz")[0] == 200, process
    finally:
        server.restart()
    wait_until(lambda: all_ready(stack), timeout=90, interval=0.5, what="every process ready again")
    assert all(child.alive() for child in stack.children)
    assert stack.call("GET", f"/contests/{before}", token=ORGANISER_TOKEN)[0] == 200
    after = contest(stack)
    assert stack.call("GET", f"/contests/{after}", token=ORGANISER_TOKEN)[0] == 200


def test_a_client_over_its_rate_limit_gets_429_with_retry_after_and_others_are_not_held_up(stack_on_its_own_store):
    stack, _ = stack_on_its_own_store
    answers = [stack.call("GET", "/contests/any-contest", token=ORGANISER_TOKEN)[0] for _ in range(30)]
    assert 429 in answers and answers[0] == 404 and answers[-1] == 429
    code, body = stack.call("GET", "/contests/any-contest", token=ORGANISER_TOKEN)
    assert code == 429 and body["error"]["code"] == "rate_limited" and body["error"]["details"]["retry_after"] > 0
    assert stack.call("GET", "/contests/any-contest", token=judge_token("J1"))[0] in (403, 404)  # its own bucket
    wait_until(
        lambda: stack.call("GET", "/contests/any-contest", token=ORGANISER_TOKEN)[0] == 404,
        timeout=10,
        interval=0.6,
        what="the organiser's bucket to refill",
    )
