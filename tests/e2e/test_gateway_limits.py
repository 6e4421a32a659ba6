"""What a client cannot take from others, against the services as real processes: forged
Leitai-After tokens hold no worker (a judge's sheet goes in as fast while thirty anonymous
clients send them); a client waits for its writes in two requests at once, a caller without a
token in none; and however many screens watch a stage, the gateway polls it once, with at most
four streams a client."""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import signal
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from leitai.consistency import Seal, Written
from testkit.boai import CONTEST, PANELS, random_scores, set_up, sheet
from testkit.servers import wait_until
from testkit.stack import ORGANISER_TOKEN, SCREEN_TOKEN, judge_token, ok

pytestmark = pytest.mark.integration
ATTACKERS = 30
SAMPLES = 21  # sheets timed with and without the attack
AFTER = "Leitai-After"


@pytest.fixture(scope="module")
def orders(stack):
    return set_up(stack)


def random_scores_fixed() -> dict[str, str]:
    return random_scores(random.Random(7))


def metric(stack, name: str) -> float:
    code, text = stack.ops("gateway", "/metrics")
    assert code == 200
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def unsealed(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def forgeries(real: str) -> list[str]:
    """What an anonymous client can send without a key: a well-formed write nobody made, which
    registration would wait for (it consumes ContestantAdvanced); the same sealed with a key of
    its own; a token the gateway did issue, its write altered under the same MAC."""
    made_up = unsealed([f"contest:{CONTEST}", 10_000, [["ContestantAdvanced", 1]]])
    token, expires, mac = real.split(".")
    altered = Written.of(f"contest:{CONTEST}", 10_000, ["ContestantAdvanced"]).encode()
    return [
        made_up,
        Seal(os.urandom(32)).seal(made_up, int(time.time()) + 3600),
        f"{altered}.{expires}.{mac}",
        f"{made_up}, {real}",
    ]


def test_forged_leitai_after_from_anonymous_clients_holds_no_worker_from_a_judge(stack, orders):
    """Thirty anonymous GETs with forged tokens sent at once, then a judge's sheet, again and
    again: the sheet takes no longer (< 200 ms more, medians of one run) than a sheet sent alone
    just before it. (Before tokens were sealed, each of them held one of the gateway's ten workers for
    as long as a service waits for a write: the sheet waited seconds.)"""
    session, judge = "s1", PANELS["s1"][0]
    entry = orders[session]["order"][0]
    path = f"/sessions/{session}/sheets/{entry}"

    def submit() -> tuple[float, str]:
        started = time.monotonic()
        code, body, headers = stack.exchange("PUT", path, sheet(random_scores_fixed()), judge_token(judge))
        assert code == 200, body
        return time.monotonic() - started, headers["Leitai-Written"]

    _, real = submit()
    forged = forgeries(real)

    # thirty connections open, each sends its forged GET; the sheet goes right after all thirty
    # were sent, and their answers are read after it
    requests = [
        f"GET /contests/{CONTEST} HTTP/1.1\r\nHost: 127.0.0.1\r\n{AFTER}: {forged[n % len(forged)]}\r\n\r\n".encode()
        for n in range(ATTACKERS)
    ]
    connections = [socket.create_connection(("127.0.0.1", stack.port), timeout=60) for _ in range(ATTACKERS)]
    answers: Counter[int] = Counter()
    bodies: dict[int, dict] = {}  # the first answer of each status
    baseline, attacked = [], []
    try:
        for _ in range(SAMPLES):  # alone and attacked in turn: both under the machine's load of the moment
            baseline.append(submit()[0])
            for connection, request in zip(connections, requests, strict=True):
                connection.sendall(request)
            attacked.append(submit()[0])
            for n, connection in enumerate(connections):
                response = http.client.HTTPResponse(connection)
                response.begin()
                answers[response.status] += 1
                bodies.setdefault(response.status, json.loads(response.read()))
                if response.will_close:
                    connection.close()
                    connections[n] = socket.create_connection(("127.0.0.1", stack.port), timeout=60)
    finally:
        for connection in connections:
            connection.close()

    print(
        f"\nsheet PUT, median (max) of {SAMPLES}: {statistics.median(baseline) * 1000:.0f} "
        f"({max(baseline) * 1000:.0f}) ms alone, {statistics.median(attacked) * 1000:.0f} "
        f"({max(attacked) * 1000:.0f}) ms sent right after {ATTACKERS} anonymous GETs with forged {AFTER}; "
        f"their answers {dict(answers)}"
    )
    assert set(answers) == {400}, bodies  # every forgery refused, none waited for
    refused = bodies[400]["error"]
    assert AFTER in refused["fields"] and "not a token this API issued" in " ".join(refused["fields"][AFTER])
    assert statistics.median(attacked) - statistics.median(baseline) < 0.2


def test_a_client_waits_for_its_writes_in_two_requests_at_once_and_a_caller_without_a_token_in_none(stack, orders):
    entry = orders["s2"]["order"][0]
    board = f"/contests/{CONTEST}/stages/prelim/leaderboard"
    relay = stack.child("scoring-relay")
    os.kill(relay.process.pid, signal.SIGSTOP)  # the sheet is stored; ranking cannot hear of it
    try:
        code, body, headers = stack.exchange(
            "PUT", f"/sessions/s2/sheets/{entry}", sheet(random_scores_fixed()), judge_token(PANELS["s2"][0])
        )
        assert code == 200, body
        written = headers["Leitai-Written"]
        answers: list[tuple[int, float, str | None]] = []
        go = threading.Barrier(4)

        def read(token: str | None) -> None:
            go.wait()
            started = time.monotonic()
            code, body = stack.call("GET", board, token=token, headers={AFTER: written})
            answers.append((code, time.monotonic() - started, token))

        readers = [threading.Thread(target=read, args=(ORGANISER_TOKEN,)) for _ in range(3)]
        readers.append(threading.Thread(target=read, args=(None,)))
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(30)
    finally:
        os.kill(relay.process.pid, signal.SIGCONT)
    print(f"\nwaits: {sorted((code, round(s, 2), 'organiser' if t else 'anonymous') for code, s, t in answers)}")
    assert [code for code, _, _ in answers] == [503] * 4  # "not yet seen", each of them
    organiser = sorted(seconds for _, seconds, token in answers if token)
    anonymous = [seconds for _, seconds, token in answers if not token]
    # the stack's services wait LEITAI_CATCH_UP_S = 2 s: two of the organiser's requests waited,
    # the third (beyond waits_per_client) and the anonymous one were answered at once
    assert organiser[0] < 1.0 and organiser[1] >= 1.5 and organiser[2] >= 1.5, organiser
    assert anonymous[0] < 1.0, anonymous
    # seen a moment later: the same token now answers
    assert wait_until(
        lambda: stack.call("GET", board, token=ORGANISER_TOKEN, headers={AFTER: written})[0] == 200,
        what="the sheet to reach ranking",
    )


def open_stream(stack, stage: str):
    """The stage's live stream as a program opens it: its bearer token in the Authorization
    header (or, where the gateway still takes it so, in the query string)."""
    path = f"/live/{CONTEST}/{stage}/events"
    request = urllib.request.Request(stack.base + path, headers={"Authorization": f"Bearer {SCREEN_TOKEN}"})
    try:
        return urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        if error.code != 401:
            raise
    return urllib.request.urlopen(f"{stack.base}{path}?token={SCREEN_TOKEN}", timeout=30)


def first_event(response) -> dict:
    line = response.readline()
    while not line.startswith(b"data: "):
        line = response.readline()
    return json.loads(line[len(b"data: ") :])


def test_every_stream_of_a_stage_shares_one_poller_and_a_client_holds_at_most_four(stack, orders):
    boards_before = metric(stack, "leitai_gateway_live_boards")
    streams = [open_stream(stack, "prelim") for _ in range(4)]
    try:
        events = [first_event(s) for s in streams]
        assert all(e == events[0] for e in events)  # one state, polled once, for all four
        assert metric(stack, "leitai_gateway_live_boards") == boards_before + 1
        assert metric(stack, "leitai_gateway_live_streams") >= 4
        with pytest.raises(urllib.error.HTTPError) as refused:
            open_stream(stack, "prelim")
        assert refused.value.code == 429 and refused.value.headers["Retry-After"]
        said = json.loads(refused.value.read())["error"]
        assert said["message_id"].startswith("this client has {per_key} live streams")
        assert said["params"]["per_key"] == 4
        assert said["message"] == "此客户端已打开 4 个实时画面，请先关闭一个"
    finally:
        for stream in streams:
            stream.close()

    # the server learns that a screen went away when it next writes to it: a sheet more changes the state
    unscored = iter([(entry, judge) for entry in orders["s1"]["order"][1:] for judge in PANELS["s1"][1:]])

    def closed() -> bool:
        entry, judge = next(unscored)
        ok(stack.call("PUT", f"/sessions/s1/sheets/{entry}", sheet(random_scores_fixed()), judge_token(judge)))
        return (
            metric(stack, "leitai_gateway_live_streams") == 0
            and metric(stack, "leitai_gateway_live_boards") == boards_before
        )

    wait_until(closed, timeout=60, what="the closed streams and their poller to be let go")
    again = open_stream(stack, "prelim")  # the client's streams were given back
    try:
        assert "standings" in first_event(again)
    finally:
        again.close()
