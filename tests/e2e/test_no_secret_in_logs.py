"""Secrets never in a log. A stack runs with secrets known to the test: the tokens, the gateway's
consistency key, the relays' signing key, the SMS key, the SMTP password and a RabbitMQ user's
password of its own. The big screen and the judge's page are used in Chromium, and the API is
called as clients do, as they should not (a forged token, another role, a token in the query
string, in a cookie, as Basic credentials, in Leitai-After) and malformed (a body that is no JSON,
a request line that is no HTTP); a gateway is started with a malformed LEITAI_TOKENS. Then every
line every process wrote is searched for every secret, as it is and base64-, URL- and
JSON-encoded."""

from __future__ import annotations

import base64
import json
import random
import socket
import urllib.parse
import uuid
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.common.by import By

from testkit.boai import CONTEST, set_up, submit_all
from testkit.servers import RABBIT_HOST, ChildProcess, Vhost, rabbit_management, wait_until
from testkit.stack import BIN, ORGANISER_TOKEN, SCREEN_TOKEN, Stack, judge_token
from tests.support.browser import chromium
from tests.support.browser import wait as wait_for

pytestmark = pytest.mark.integration
JUDGES = [f"J{n}" for n in range(1, 11)]
BROKER_PASSWORD = f"broker-password-never-logged-{uuid.uuid4().hex[:8]}"
FORGED = "forged-token-never-logged-0123456789"


@pytest.fixture(scope="module")
def broker_uri():
    """A vhost of its own, reached as a RabbitMQ user of its own whose password the test knows."""
    vhost = Vhost("leitai_secrets").create()
    user = f"leitai_secrets_{uuid.uuid4().hex[:8]}"
    rabbit_management("PUT", f"/users/{user}", {"password": BROKER_PASSWORD, "tags": ""})
    rabbit_management(
        "PUT",
        f"/permissions/{urllib.parse.quote(vhost.name, safe='')}/{user}",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )
    try:
        yield f"amqp://{user}:{BROKER_PASSWORD}@{RABBIT_HOST}/{urllib.parse.quote(vhost.name, safe='')}"
    finally:
        rabbit_management("DELETE", f"/users/{user}")
        vhost.delete()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mongo_url, broker_uri):
    running = Stack(tmp_path_factory.mktemp("secrets"), broker_uri, mongo_url, JUDGES)
    try:
        yield running.start()
    finally:
        running.discard()


def encodings(secret: str) -> set[str]:
    """``secret`` as a log line could hold it: as it is, URL-encoded, JSON-escaped, and base64
    (standard and URL-safe) wherever it starts in what was encoded (three alignments: the part
    of the encoding that depends on the secret alone)."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]}
    data = secret.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + data).decode().rstrip("=")
            # the characters all of whose six bits are the secret's
            forms.add(encoded[-(-offset * 8 // 6) : (offset + len(data)) * 8 // 6])
    return {f for f in forms if len(f) >= 12}


def raw_request(stack: Stack, line: bytes, headers: bytes = b"") -> bytes:
    """Send bytes that are no well-formed request, as a broken client or a probe would."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as connection:
        connection.sendall(line + b"\r\n" + headers + b"\r\n")
        return connection.recv(200)


def exercise(stack: Stack, tmp_path: Path) -> list[ChildProcess]:
    """Use the stack as clients do, and as they should not; return the processes that were to fail."""
    orders = set_up(stack)
    organiser, screen, judge = ORGANISER_TOKEN, SCREEN_TOKEN, judge_token("J1")
    page = f"/live/{CONTEST}/prelim"
    with chromium(1280, 800) as browser:
        browser.get(f"{stack.base}{page}#token={screen}")
        wait_for(browser, 15, lambda d: d.find_element(By.ID, "status").text == "实时", "the screen", "secrets")
        browser.get(f"{stack.base}{page}?token={screen}")  # the old way: 400, and in the access log
        browser.get(f"{stack.base}/judge#token={judge}")
        wait_for(browser, 15, lambda d: d.find_elements(By.CSS_SELECTOR, "#entries button"), "the desk", "secrets")
    submit_all(stack, "s1", orders["s1"]["order"][:3], random.Random(1))

    assert stack.call("GET", "/contests", token=organiser)[0] == 200
    assert stack.call("POST", "/contests", {}, token=FORGED)[0] == 401
    assert stack.call("POST", "/contests", {}, token=judge)[0] == 403
    assert stack.call("POST", "/contests", raw=b'{"contest_id": ', token=organiser)[0] == 400  # no JSON
    assert stack.call("GET", f"/contests/{CONTEST}/stages/prelim/leaderboard?as_of=then", token=screen)[0] == 400
    assert stack.call("GET", f"{page}/events?token={screen}")[0] == 400
    assert stack.call("GET", f"/contests/{CONTEST}/deliveries?token={organiser}&kind=x", token=organiser)[0] == 400
    assert stack.call("GET", f"/contests?access_token={organiser}", token=organiser)[0] in (200, 400)
    assert stack.call("GET", f"{page}/events", headers={"Cookie": f"leitai_live={screen}"})[0] == 401
    basic = base64.b64encode(f"organiser:{BROKER_PASSWORD}".encode()).decode()
    assert stack.call("GET", "/contests", headers={"Authorization": f"Basic {basic}"})[0] == 401
    code, _ = stack.call(
        "POST", f"/contests/{CONTEST}/stages/prelim/results", token=organiser, headers={"Leitai-After": organiser}
    )
    assert code == 400
    # no HTTP at all: http.server refuses the request line itself
    assert raw_request(stack, f"GET /contests?token={organiser} {screen} HTTP/1.1".encode()).startswith(b"HTTP/")
    headers = f"Host: {screen}\r\nAuthorization: Bearer {screen}\r\nCookie: leitai_live={organiser}\r\n"
    assert raw_request(stack, f"GET /contests?token={organiser} HTTP/1.0".encode(), headers.encode()).startswith(
        b"HTTP/1.1 403"
    )  # the screen may not list contests

    # a gateway that cannot start: its tokens malformed (as text, and as a mapping)
    failing = []
    settings = yaml.safe_load(stack.config_path("gateway").read_text())
    broken_text = json.dumps(stack.tokens)[:-3]
    broken_keys = {"short-" + organiser[:4]: {"role": "organiser", "id": "o1"}, organiser: {"role": "boss", "id": "o"}}
    for n, tokens in enumerate((broken_text, broken_keys)):
        config = tmp_path / f"gateway-broken-{n}.yaml"
        config.write_text(yaml.safe_dump(dict(settings, LEITAI_TOKENS=tokens, LEITAI_OPS_PORT=0), allow_unicode=True))
        child = ChildProcess(
            [str(BIN / "nameko"), "run", "--config", str(config), "services.gateway.service:GatewayService"],
            name=f"gateway-broken-{n}",
        ).start()
        wait_until(lambda child=child: not child.alive(), timeout=60, what="the misconfigured gateway to stop")
        failing.append(child)
    return failing


def test_no_configured_secret_appears_in_any_line_any_process_wrote(stack, tmp_path):
    failing = exercise(stack, tmp_path)
    for child in failing:
        assert child.process.returncode != 0 and "LEITAI_TOKENS" in child.output(), child.output()[-2000:]
    assert "not valid JSON at line 1" in failing[0].output()
    assert "token #2 (role organiser)" in failing[1].output() or "token #2" in failing[1].output()

    secrets = [s for s in stack.secrets() if s] + [BROKER_PASSWORD, FORGED]
    assert len(secrets) >= 8 and all(len(s) >= 16 for s in secrets), secrets
    logs = {**stack.logs(), **{c.name: c.output() for c in failing}}
    gateway = logs[next(name for name in logs if name.startswith("gateway#"))]
    # the logs were written, and the requests above are in them, redacted
    assert '"level": "INFO"' in gateway
    assert f"{'/live/' + CONTEST + '/prelim/events'}?token=… HTTP/1.1" in gateway
    assert "/contests?token=… HTTP/1.1" in gateway or "?… (withheld)" in gateway
    assert "?… (withheld)" in gateway  # the request line that was no HTTP
    leaks = {
        name: sorted({secret[:10] + "…" for secret in secrets for form in encodings(secret) if form in text})
        for name, text in logs.items()
    }
    assert {name: found for name, found in leaks.items() if found} == {}


def test_the_encodings_searched_for_are_those_a_log_would_hold():
    secret = "organiser-token-0123456789"
    for prefix in ("", "x", "xy", "Bearer ", "organiser:"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(f"{prefix}{secret}!".encode()).decode()
            assert any(form in encoded for form in encodings(secret)), (prefix, encoded)
