"""The read models ``leitai replay`` can rebuild, by name."""

from leitai.replay import Projection
from services.ranking.projection import PROJECTION as RANKING

PROJECTIONS: dict[str, Projection] = {"ranking": RANKING}
