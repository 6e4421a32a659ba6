"""The registry of published event contracts: one marshmallow schema per (type, version).

A contract names the service that owns the event (its exchange is ``<service>.events``),
the current schema version, and upcasters that lift stored payloads of older versions to
the current one. Producers validate on write, consumers validate on read: a payload that
fails its schema never crosses a boundary unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class ContractError(Exception):
    """An event does not honour its published contract."""


class UnknownEventType(ContractError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class InvalidPayload(ContractError):
    def __init__(self, event_type: str, version: int, messages: Any) -> None:
        super().__init__(f"{event_type} v{version} payload invalid: {messages}")
        self.event_type = event_type
        self.messages = messages


@dataclass(frozen=True)
class Contract:
    event_type: str
    source: str
    version: int
    schema: Schema
    # upcasters[n] turns a payload of version n into one of version n + 1
    upcasters: Mapping[int, Upcaster] = field(default_factory=dict)

    def upcast(self, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        if version > self.version or version < 1:
            raise InvalidPayload(self.event_type, version, "schema version not known")
        for v in range(version, self.version):
            if v not in self.upcasters:
                raise InvalidPayload(self.event_type, version, f"no upcaster from v{v}")
            payload = self.upcasters[v](dict(payload))
        return payload

    def load(self, payload: Any, version: int | None = None) -> dict[str, Any]:
        """Validate a wire/stored payload (upcasting if older) into Python values."""
        if not isinstance(payload, dict):
            raise InvalidPayload(self.event_type, version or self.version, "payload must be an object")
        raw = self.upcast(version or self.version, payload)
        try:
            loaded: dict[str, Any] = self.schema.load(raw)
        except ValidationError as exc:
            raise InvalidPayload(self.event_type, version or self.version, exc.messages) from exc
        return loaded

    def normalise(self, payload: Any) -> dict[str, Any]:
        """The canonical JSON-safe form of a payload of the current version."""
        dumped: dict[str, Any] = self.schema.dump(self.load(payload))
        return dumped


class ContractRegistry:
    def __init__(self, contracts: list[Contract] | None = None) -> None:
        self._contracts: dict[str, Contract] = {}
        for contract in contracts or []:
            self.register(contract)

    def register(self, contract: Contract) -> Contract:
        if contract.event_type in self._contracts:
            raise ValueError(f"event type {contract.event_type!r} registered twice")
        self._contracts[contract.event_type] = contract
        return contract

    def get(self, event_type: Any) -> Contract:
        if not isinstance(event_type, str) or event_type not in self._contracts:
            raise UnknownEventType(str(event_type))
        return self._contracts[event_type]

    def sources(self) -> set[str]:
        return {c.source for c in self._contracts.values()}

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._contracts.values())
