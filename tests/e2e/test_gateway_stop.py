"""A stopping gateway with the big screen's live stream open: nameko finishes on SIGTERM and
the process exits, ending the stream (the screen's EventSource connects again, to another
pod), well within the grace period Kubernetes gives it after its preStop pause
(deploy/k8s/base/ops-probes.yaml, processes/gateway.yaml). Its own module: it stops the
stack's gateway."""

from __future__ import annotations

import http.client
import signal
import time

from testkit.boai import CONTEST, set_up
from testkit.stack import ORGANISER_TOKEN
from tests.support.manifests import named, pod_spec, render


def test_a_stopping_gateway_ends_its_live_streams_and_exits_within_its_grace_period(stack):
    set_up(stack)
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
    path = f"/live/{CONTEST}/prelim/events"
    connection.request("GET", path, headers={"Authorization": f"Bearer {ORGANISER_TOKEN}"})
    response = connection.getresponse()
    assert response.status == 200
    while not response.readline().startswith(b"data: "):
        pass
    spec = pod_spec(named(render("prod"), "Deployment", "leitai-gateway"))
    grace = spec["terminationGracePeriodSeconds"] - spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    gateway = stack.child("gateway")
    started = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    gateway.process.wait(grace)
    assert time.monotonic() - started < grace / 2
    while response.readline():  # the stream ends: no line waits for ever
        pass
    connection.close()
