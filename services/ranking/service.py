"""The ranking service's entrypoints: the projection's handlers, publication and the boards.
Each maps onto the service layer (application.py); the event handlers come from its handler
table (EVENT_HANDLERS)."""

from __future__ import annotations

from leitai.contracts.product import REGISTRY
from leitai.dependencies import (
    CheckedSettings,
    EventStoreProvider,
    Operations,
    PublishedLog,
    ReadModelProvider,
    StoreHealth,
)
from leitai.messaging.consumer import handling
from leitai.rpc import rpc
from services.ranking.application import EVENT_HANDLERS, Ranking
from services.ranking.projection import INDEXES
from services.ranking.settings import load as load_settings


@handling(EVENT_HANDLERS, "ranking", REGISTRY)
class RankingService(StoreHealth, PublishedLog):
    name = "ranking"
    settings = CheckedSettings(load_settings)
    store = EventStoreProvider(REGISTRY)
    ops = Operations()
    read = ReadModelProvider(INDEXES)

    @property
    def ranking(self) -> Ranking:
        return Ranking(self.store, self.read)

    # -- publication and queries ----------------------------------------------------------
    @rpc
    def publish_stage(self, actor: dict, contest_id: str, stage_id: str) -> dict:
        return self.ranking.publish_stage(actor, contest_id, stage_id)

    @rpc
    def contests(self, actor: dict) -> list[dict]:
        return self.ranking.contests(actor)

    @rpc
    def leaderboard(
        self,
        actor: dict,
        contest_id: str,
        stage_id: str,
        group_id: str | None = None,
        criterion_id: str | None = None,
        as_of: str | None = None,
    ) -> dict:
        return self.ranking.leaderboard(actor, contest_id, stage_id, group_id, criterion_id, as_of)

    @rpc
    def stage_results(self, contest_id: str, stage_id: str, version: int | None = None) -> dict:
        return self.ranking.stage_results(contest_id, stage_id, version)

    @rpc
    def entry_working(self, actor: dict, contest_id: str, stage_id: str, entry_id: str) -> dict:
        return self.ranking.entry_working(actor, contest_id, stage_id, entry_id)

    @rpc
    def export(self, contest_id: str, stage_id: str) -> dict:
        return self.ranking.export(contest_id, stage_id)

    @rpc
    def file_appeal(self, actor: dict, contest_id: str, stage_id: str, appeal: dict) -> dict:
        return self.ranking.file_appeal(actor, contest_id, stage_id, appeal)

    @rpc
    def decide_appeal(self, actor: dict, contest_id: str, stage_id: str, appeal_id: str, decision: dict) -> dict:
        return self.ranking.decide_appeal(actor, contest_id, stage_id, appeal_id, decision)

    @rpc
    def appeals(self, actor: dict, contest_id: str, stage_id: str) -> list[dict]:
        return self.ranking.appeals(actor, contest_id, stage_id)

    @rpc
    def calibration(self, actor: dict, contest_id: str, stage_id: str) -> dict:
        return self.ranking.calibration(actor, contest_id, stage_id)

    @rpc
    def live(self, contest_id: str, stage_id: str) -> dict:
        return self.ranking.live(contest_id, stage_id)
