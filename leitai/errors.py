"""Domain errors every service raises and the gateway maps to HTTP, in one table.

Pure: the standard library only. ``leitai.rpc`` registers them with nameko, so that
an error raised behind an RPC call arrives at the caller as the same class with the same
arguments (e.g. field messages).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        # always a dict in args: nameko turns anything else (None included) into a string
        # on its way through RPC
        super().__init__(message, details or {})
        self.message = message
        self.details = details or None

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
