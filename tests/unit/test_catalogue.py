"""The published subscriptions and the services' event handlers must agree: the relay
declares queues from the list, the services consume from their handlers."""

from composition.product import CATALOGUE
from leitai.messaging.consumer import ReliableEventHandler
from services.notify.service import NotifyService
from services.ranking.service import RankingService
from services.registration.service import RegistrationService
from services.scoring.service import ScoringService

SERVICES = [RegistrationService, ScoringService, RankingService, NotifyService]


def handlers(service) -> set[tuple[str, str, str, str]]:
    found = set()
    for name in dir(service):
        for entrypoint in getattr(getattr(service, name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, ReliableEventHandler):
                found.add((service.name, name, entrypoint.source_service, entrypoint.event_type))
    return found


def test_every_subscription_has_its_handler_and_every_handler_its_subscription():
    declared = {(s.consumer, s.method, s.source, s.event_type) for s in CATALOGUE.subscriptions}
    implemented = set().union(*(handlers(service) for service in SERVICES))
    assert declared == implemented
