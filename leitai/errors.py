"""Domain errors every service raises and the gateway maps to HTTP, in one table.

Pure: the standard library and leitai.messages only. ``leitai.rpc`` registers them with
nameko, so that an error raised behind an RPC call arrives at the caller as the same class
with the same arguments: its message id, its field messages, its values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leitai.messages import formatted


class DomainError(Exception):
    """``msgid``: the message's id, an English template (leitai/messages.py); ``params``, or
    keyword arguments: its values, e.g. ``NotFound("entry {entry_id} does not exist",
    entry_id=entry_id)``. ``details``: field messages (InvalidInput) or facts for the client.
    ``str()`` and ``message`` are the English, for logs; the gateway renders the message in
    the request's language."""

    def __init__(
        self,
        msgid: str,
        details: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        /,
        **named: Any,
    ) -> None:
        values = {**(params or {}), **named}
        # always dicts in args, in this order: nameko sends the args and makes the error again
        # from them on the caller's side (leitai.rpc); anything else, None included, would
        # arrive as a string
        super().__init__(msgid, dict(details or {}), values)
        self.msgid = msgid
        self.params = values
        self.details = dict(details) if details else None

    @property
    def message(self) -> str:
        return formatted(self.msgid, self.params)

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """Field-level problems: ``details`` maps each field to its messages."""


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    """The actor may not do this (e.g. a judge not seated on the session)."""


class Conflict(DomainError):
    """Stale version, a locked session, a duplicate."""


class RuleViolated(DomainError):
    """A domain rule refuses the command (e.g. a recused judge)."""


class RateLimited(DomainError):
    """Too many requests from one client: nothing was done. ``details["retry_after"]``:
    seconds until the next request is let through."""


class Unavailable(DomainError):
    """Something this depends on (the store, another service) did not answer in time. The
    outcome of a write is unknown: the same request, with the same key, may be sent again.
    ``details["retry_after"]``: seconds a client should wait first."""


# every class a caller may catch by name after an RPC call (see leitai.rpc)
ALL: tuple[type[DomainError], ...] = (InvalidInput, NotFound, Forbidden, Conflict, RuleViolated, Unavailable)
