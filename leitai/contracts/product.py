"""The product's published event contracts and who subscribes to which."""
from leitai.contracts import registration, scoring
from leitai.contracts.catalogue import Catalogue, Subscription
from leitai.contracts.registry import ContractRegistry

REGISTRY = ContractRegistry([*registration.CONTRACTS, *scoring.CONTRACTS])

SUBSCRIPTIONS = (
    Subscription("scoring", "on_session_opened", "registration", "SessionOpened"),
)
CATALOGUE = Catalogue(REGISTRY, SUBSCRIPTIONS)
