"""A catalogue: the event contracts of a deployment and who subscribes to which event.

The relay declares every subscriber's queue from it before publishing, so an event is
never published into an exchange that nobody's queue is bound to yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leitai.contracts.registry import ContractRegistry


@dataclass(frozen=True)
class Subscription:
    consumer: str  # the nameko service name
    method: str
    source: str  # the service that owns the event type
    event_type: str

    @property
    def queue_name(self) -> str:
        # nameko's own naming for a SERVICE_POOL event handler's queue
        return f"evt-{self.source}-{self.event_type}--{self.consumer}.{self.method}"


@dataclass(frozen=True)
class Catalogue:
    registry: ContractRegistry
    subscriptions: tuple[Subscription, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for subscription in self.subscriptions:
            contract = self.registry.get(subscription.event_type)
            if contract.source != subscription.source:
                raise ValueError(
                    f"{subscription.event_type} is published by {contract.source}, not {subscription.source}"
                )
