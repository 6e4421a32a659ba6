"""The product's published event contracts and subscriptions (filled by the services' issues)."""
from leitai.contracts.catalogue import Catalogue
from leitai.contracts.registry import ContractRegistry

REGISTRY = ContractRegistry([])
CATALOGUE = Catalogue(REGISTRY, ())
