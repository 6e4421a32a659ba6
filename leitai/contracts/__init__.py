"""Published event contracts: the only code services share about each other."""

from leitai.contracts.envelope import Event, MalformedEnvelope, NewEvent, format_timestamp, utc_now
from leitai.contracts.registry import (
    Contract,
    ContractError,
    ContractRegistry,
    InvalidPayload,
    UnknownEventType,
)

__all__ = [
    "Contract",
    "ContractError",
    "ContractRegistry",
    "Event",
    "InvalidPayload",
    "MalformedEnvelope",
    "NewEvent",
    "UnknownEventType",
    "format_timestamp",
    "utc_now",
]
