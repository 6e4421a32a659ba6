"""The ranking service's entrypoints: the projection's handlers, publication and the boards.
Queries and publication map onto the service layer (application.py); every event handler
hands its batch of events to the projection (projection.py)."""

from __future__ import annotations

from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.dependencies import (
    EventStoreProvider,
    MongoProvider,
    Operations,
    PublishedLog,
    ReadModelProvider,
    StoreHealth,
)
from leitai.messaging.consumer import batch_handler
from leitai.rpc import rpc
from services.ranking.application import Ranking
from services.ranking.projection import ensure_indexes, project


class _Projector(MongoProvider):
    """Applies a batch of events to the read model in one bulk write (see projection.py)."""

    def setup(self) -> None:
        super().setup()
        ensure_indexes(self.db)

    def get_dependency(self, worker_ctx):
        return lambda events: project(self.db, events)


class RankingService(StoreHealth, PublishedLog):
    name = "ranking"
    store = EventStoreProvider(REGISTRY)
    ops = Operations()
    read = ReadModelProvider()
    project = _Projector()

    @property
    def ranking(self) -> Ranking:
        return Ranking(self.store, self.read)

    # -- the projection (the published subscriptions list these: CONSUMES["ranking"]) --
    @batch_handler("registration", "ContestCreated", registry=REGISTRY)
    def on_contest_created(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("registration", "StageDefined", registry=REGISTRY)
    def on_stage_defined(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("registration", "EntrySubmitted", registry=REGISTRY)
    def on_entry_submitted(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("registration", "SessionScheduled", registry=REGISTRY)
    def on_session_scheduled(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("registration", "SessionOpened", registry=REGISTRY)
    def on_session_opened(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "ScoreSheetSubmitted", registry=REGISTRY)
    def on_score_sheet_submitted(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "ScoreSheetRevised", registry=REGISTRY)
    def on_score_sheet_revised(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "ToleranceFlagRaised", registry=REGISTRY)
    def on_tolerance_flag_raised(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "EntryScored", registry=REGISTRY)
    def on_entry_scored(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "ScoreSheetCorrected", registry=REGISTRY)
    def on_score_sheet_corrected(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "ScoreSheetVoided", registry=REGISTRY)
    def on_score_sheet_voided(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "EntryRescored", registry=REGISTRY)
    def on_entry_rescored(self, events: list[Event]) -> None:
        self.project(events)
        for event in events:  # an approved correction: the stage is published again, once
            self.ranking.republish_after(event.to_wire(REGISTRY)["payload"])

    @batch_handler("ranking", "StageResultsRepublished", registry=REGISTRY)
    def on_stage_results_republished(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("scoring", "SessionLocked", registry=REGISTRY)
    def on_session_locked(self, events: list[Event]) -> None:
        self.project(events)

    @batch_handler("ranking", "StageResultsPublished", registry=REGISTRY)
    def on_stage_results_published(self, events: list[Event]) -> None:
        self.project(events)

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
    def entry_working(self, contest_id: str, stage_id: str, entry_id: str) -> dict:
        return self.ranking.entry_working(contest_id, stage_id, entry_id)

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
