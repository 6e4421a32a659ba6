"""The ops port every leitai process serves (LEITAI_OPS_PORT), for Kubernetes and Prometheus,
on LEITAI_OPS_HOST (127.0.0.1 unless a deployment says otherwise: leitai/config.py).

* ``/healthz``: the process is alive and its loop answers. It never looks at RabbitMQ or
  MongoDB: when they are down, restarting this process would not help and would cascade.
* ``/readyz``: every readiness check passes (the broker connection is open with this
  process's consumers on it, the store answers, the relay is working or a healthy standby);
  503 with a JSON body naming what is missing otherwise.
* ``/metrics``: every metric of leitai/metrics.py, in Prometheus' text format.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = logging.getLogger(__name__)
# a check answers None when all is well, else what is missing (it may also raise)
Check = Callable[[], "str | None"]


class Readiness:
    """Named checks, asked in turn; a check that raises counts as failed, with its error."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def missing(self) -> dict[str, str]:
        problems = {}
        for name, check in self._checks.items():
            try:
                problem = check()
            except Exception as exc:  # noqa: BLE001 - a failing check is an answer, not a crash
                problem = f"{type(exc).__name__}: {exc}"[:300]
            if problem:
                problems[name] = problem
        return problems

    def names(self) -> Iterable[str]:
        return list(self._checks)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: not worth a log line each
        pass


class OpsServer:
    def __init__(self, port: int, readiness: Readiness, liveness: Check | None = None, host: str = "127.0.0.1") -> None:
        self.readiness = readiness
        self._liveness = liveness
        self._server = make_server(host, port, self._app, server_class=_Server, handler_class=_QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops", daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        log.info(
            "ops port serving",
            extra={
                "host": self._server.server_address[0],
                "port": self.port,
                "paths": ["/healthz", "/readyz", "/metrics"],
            },
        )
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest(REGISTRY)]
        if path == "/healthz":
            problem = self._liveness() if self._liveness else None
            return _json(
                start_response,
                503 if problem else 200,
                {"status": "not alive", "problem": problem} if problem else {"status": "alive"},
            )
        if path == "/readyz":
            missing = self.readiness.missing()
            if missing:
                return _json(start_response, 503, {"status": "not ready", "missing": missing})
            return _json(start_response, 200, {"status": "ready", "checks": sorted(self.readiness.names())})
        return _json(start_response, 404, {"error": "not found", "paths": ["/healthz", "/readyz", "/metrics"]})


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json")])
    return [json.dumps(body, sort_keys=True).encode()]
