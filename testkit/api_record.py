"""Requests to a running stack recorded as examples for docs/api-examples.md: each request as it
was sent and the answer as it came, with what differs from run to run (request ids, server
times, tokens, ids the services draw, signatures and roots) replaced by a placeholder, so that
recording the same walk twice gives the same text (testkit/api_tour.py walks, api_markdown.py
writes the page)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from testkit.stack import Stack

Shape = Callable[[Any], Any]  # what of an answer's body the page shows (default: all of it, lists trimmed)
LIST_ITEMS = 3  # a list longer than this shows its first items and how many more there were
TEXT_LINES = 6  # a text answer (CSV) shows its first lines
# Answer headers a client acts on; the rest (security headers, dates) are alike on every answer
ANSWER_HEADERS = ("Content-Type", "Leitai-Written", "Set-Cookie", "Retry-After", "WWW-Authenticate")
# values the services stamp or draw: the key's value becomes the placeholder, wherever it is
VOLATILE_KEYS = {
    "request_id": "<request id>",
    "root": "<Merkle root>",
    "note": "<signed note>",
    "proof": ["<hash>"],
    "issued_at": "<time>",
    "cites": "<event id>",
    "qr": ["<rows of 0 and 1: the link's QR code>"],
}
# whatever the key: a text that matches becomes the placeholder
VOLATILE_TEXT = (
    (re.compile(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), "<ticket>"),  # the big screen's cookie (tickets.py)
    (re.compile(r"[A-Za-z0-9_-]+\.[0-9]{1,12}\.[A-Za-z0-9_-]{43}"), "<Leitai-Written token>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"), "<time>"),  # a cookie's Expires
    (re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
)


@dataclass
class Exchange:
    """One request and its answer, as they went over the wire."""

    route: str  # "POST /contests/{contest_id}/stages": its path as the OpenAPI document writes it
    caption: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    answer_headers: dict[str, str]
    answer: Any
    shape: Shape | None = None


@dataclass
class Recorder:
    """Calls ``stack`` and keeps the calls it is asked to keep. ``tokens``: each credential the
    walk uses and what the page calls it ("<organiser's token>"); ``paths``: the OpenAPI
    document's paths, by which a call finds its route."""

    stack: Stack
    paths: list[str]
    tokens: dict[str, str] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    _kept_times: set[str] = field(default_factory=set)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        caption: str = "",
        shape: Shape | None = None,
        keep: bool = True,
    ) -> tuple[int, Any, Message]:
        """Send the request; keep it as an example of its route unless ``keep`` is false."""
        status, answer, answered = self.stack.exchange(method, path, body, token, headers=headers)
        if keep:
            sent = dict(headers or {})
            if token:
                sent = {"Authorization": f"Bearer {token}", **sent}
            if body is not None:
                sent["Content-Type"] = "application/json"
                self._kept_times.update(_times(json.dumps(body, ensure_ascii=False)))
            self.exchanges.append(
                Exchange(
                    self.route(method, path),
                    caption,
                    method,
                    path,
                    sent,
                    body,
                    status,
                    {name: answered[name] for name in ANSWER_HEADERS if answered[name] is not None},
                    answer,
                    shape,
                )
            )
        return status, answer, answered

    def ok(self, *args: Any, **kwargs: Any) -> tuple[Any, Message]:
        """``call``, for a request that must succeed: its body and headers."""
        status, answer, headers = self.call(*args, **kwargs)
        if status not in (200, 201):
            raise AssertionError(f"{args[0]} {args[1]}: {status} {answer}")
        return answer, headers

    def name(self, value: str, placeholder: str) -> None:
        """From now on, and in what was recorded before, ``value`` reads ``placeholder``
        (a token the walk was handed, an id a service drew)."""
        self.tokens[value] = placeholder

    def route(self, method: str, path: str) -> str:
        """The OpenAPI path ``path`` is an instance of: of several, the one with the most literal
        text (``/checkpoints/latest`` before ``/checkpoints/{size}``)."""
        bare = path.split("?", 1)[0]
        matching = [p for p in self.paths if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+?", re.escape(p)), bare)]
        if not matching:
            raise AssertionError(f"{method} {path}: no route of the OpenAPI document")
        return f"{method} {max(matching, key=_literal_length)}"

    def normal(self, value: Any) -> Any:
        """``value`` as the page shows it: what the walk named by its name, the volatile
        replaced (the times the walk itself sent are kept: they are the example's data)."""
        if isinstance(value, dict):
            return {k: VOLATILE_KEYS.get(k, self.normal(v)) if v is not None else None for k, v in value.items()}
        if isinstance(value, list):
            return [self.normal(v) for v in value]
        if not isinstance(value, str):
            return value
        for secret in sorted(self.tokens, key=len, reverse=True):
            value = value.replace(secret, self.tokens[secret])
        for pattern, placeholder in VOLATILE_TEXT:
            value = pattern.sub(lambda m, p=placeholder: m[0] if m[0] in self._kept_times else p, value)
        return value


def _literal_length(path: str) -> int:
    return len(re.sub(r"{\w+}", "", path))


def _times(text: str) -> set[str]:
    return {m[0] for m in VOLATILE_TEXT[2][0].finditer(text)}


def trimmed(value: Any) -> Any:
    """Long lists shortened to their first items and a note of how many more; a long text to its
    first lines."""
    if isinstance(value, dict):
        return {k: trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        shown = [trimmed(v) for v in value[:LIST_ITEMS]]
        return shown + ([f"… {len(value) - LIST_ITEMS} more"] if len(value) > LIST_ITEMS else [])
    if isinstance(value, str) and value.count("\n") > TEXT_LINES:
        lines = value.splitlines()
        return "\n".join([*lines[:TEXT_LINES], f"… {len(lines) - TEXT_LINES} more lines"])
    return value
