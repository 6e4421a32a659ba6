"""The read models ``leitai replay`` can rebuild, by name; each is built from the events its
service's handler table names."""

from leitai.contracts.product import REGISTRY
from leitai.replay import Projection
from services.ranking.application import EVENT_HANDLERS as RANKING_HANDLERS
from services.ranking.projection import COLLECTIONS, writes_of_stored

RANKING = Projection("ranking", RANKING_HANDLERS.consumes(REGISTRY), COLLECTIONS, writes_of_stored)
PROJECTIONS: dict[str, Projection] = {"ranking": RANKING}
