"""The product's published event contracts: every event type its services publish, with its
versions and upcasters. Who consumes which is each service's handler table (EVENT_HANDLERS in
its application.py); composition/product.py gathers them into the catalogue."""

from leitai.contracts import ranking, registration, scoring
from leitai.contracts.registry import ContractRegistry

REGISTRY = ContractRegistry([*registration.CONTRACTS, *scoring.CONTRACTS, *ranking.CONTRACTS])
