"""Domain errors every service raises and the gateway maps to HTTP, in one table.

Registered with nameko's ``deserialize_to_instance`` so an error raised behind an RPC call
arrives at the caller as the same class with the same arguments (e.g. field messages).
"""
from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.message = message
        self.details = details

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
