"""The product's catalogue: the published contracts and who subscribes to which event type,
gathered from the four services' handler tables (leitai/handlers.py).

The relay declares every subscriber's queue from it before publishing anything (``leitai
relay --catalogue composition.product:CATALOGUE``, the default); the services' entrypoints and
the in-memory system come from the same tables, so the three cannot disagree."""

from __future__ import annotations

from typing import Any

from leitai.contracts.catalogue import Catalogue, Subscription
from leitai.contracts.product import REGISTRY
from leitai.handlers import EventHandlers
from services.notify.application import EVENT_HANDLERS as NOTIFY
from services.ranking.application import EVENT_HANDLERS as RANKING
from services.registration.application import EVENT_HANDLERS as REGISTRATION
from services.scoring.application import EVENT_HANDLERS as SCORING

HANDLERS: tuple[EventHandlers[Any], ...] = (REGISTRATION, SCORING, RANKING, NOTIFY)
# consumer -> source -> event types
CONSUMES = {table.consumer: table.consumes(REGISTRY) for table in HANDLERS}
CATALOGUE = Catalogue(
    REGISTRY,
    tuple(
        Subscription(table.consumer, method, source, event_type)
        for table in HANDLERS
        for source, event_type, method in table.rows(REGISTRY)
    ),
)
