"""Domain errors every service raises and the gateway maps to HTTP, in one table.

Registered with nameko's ``deserialize_to_instance`` so an error raised behind an RPC call
arrives at the caller as the same class with the same arguments (e.g. field messages).
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    def __init__(self, message: str, details: dict | None = None) -> None:
        # always a dict in args: nameko turns anything else (None included) into a string
        # on its way through RPC
        super().__init__(message, details or {})
        self.message = message
        self.details = details or None

    def __str__(self) -> str:
        return self.message


@deserialize_to_instance
class InvalidInput(DomainError):
    """Field-level problems: ``details`` maps each field to its messages."""


@deserialize_to_instance
class NotFound(DomainError):
    pass


@deserialize_to_instance
class Forbidden(DomainError):
    """The actor may not do this (e.g. a judge not seated on the session)."""


@deserialize_to_instance
class Conflict(DomainError):
    """Stale version, a locked session, a duplicate."""


@deserialize_to_instance
class RuleViolated(DomainError):
    """A domain rule refuses the command (e.g. a recused judge)."""
