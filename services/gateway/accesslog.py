"""The gateway's access log, and every other line its web server writes, without a credential.

eventlet's WSGI server (under nameko's web server) logs each request's line at INFO, and
http.server's own lines for a request it refused before the gateway saw it ("Bad request syntax
('<the whole line>')"). A query string may hold anything a client put there (a token, however
often it is told not to), so neither line keeps one: each query parameter's value becomes ``…``
(a value of digits only stays), its name too unless it is one of the API's (``NAMES``); a line
that could not be parsed keeps nothing after its ``?``. Headers (Authorization, Cookie) are
never logged: nothing here or in eventlet writes them. ``server`` makes the WSGI server so.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from eventlet import wsgi
from nameko.web.server import HttpOnlyProtocol

log = logging.getLogger("services.gateway.access")
# the API's query parameters (and ``token``, refused: that it was tried shows): names shown
NAMES = frozenset({"after", "as_of", "criterion", "group", "kind", "limit", "recipient", "status", "token", "version"})
HIDDEN = "…"
_QUERY = re.compile(r"\?([^\s\"'<>]*)")
_DIGITS = re.compile(r"\d{1,12}")


def _parameter(pair: str) -> str:
    name, has_value, value = pair.partition("=")
    shown = name if name in NAMES else HIDDEN
    if not has_value:
        return shown if name else ""
    return f"{shown}={value if _DIGITS.fullmatch(value) else HIDDEN}"


def redact(text: str) -> str:
    """``text`` with every query string in it (``?…`` up to a space or a quote) reduced to the
    API's parameter names and values of digits only."""
    return _QUERY.sub(lambda found: "?" + "&".join(_parameter(p) for p in found[1].split("&")), text)


def redact_unparsed(text: str) -> str:
    """``text`` (a line http.server wrote about a request it could not parse) with nothing
    after the first ``?``: where such a query ends cannot be told."""
    head, question, _ = text.partition("?")
    return head + (f"?{HIDDEN} (withheld)" if question else "")


class _RedactingLog(logging.LoggerAdapter):
    """The WSGI server's log: every message through ``redact`` (its request lines are already;
    this catches whatever else it writes: a traceback, a discarded body's error)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return redact(str(msg)), kwargs


class RedactingProtocol(HttpOnlyProtocol):
    """nameko's protocol, its request line redacted once parsed (the access log prints it)."""

    requestline: str

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if parsed:  # the WSGI environ comes from self.path and self.headers: only the log reads this
            self.requestline = redact(self.requestline)
        return parsed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """http.server's own lines (it writes them to stderr): to the log, and redacted."""
        log.warning(redact_unparsed(format % args), extra={"client": self.address_string()})


def server(sock: Any, app: Any) -> wsgi.Server:
    """The WSGI server nameko's ``WebServer.get_wsgi_server`` makes, with the redacting protocol and log."""
    return wsgi.Server(
        sock, sock.getsockname(), app, protocol=RedactingProtocol, debug=False, log=_RedactingLog(log, {})
    )
