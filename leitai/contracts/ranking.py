"""Events published by the ranking service (exchange ``ranking.events``)."""

from __future__ import annotations

import hashlib
from typing import Any

from marshmallow import Schema, fields, validate

from leitai.canonical import canonical_json
from leitai.contracts.fields import Id, Score
from leitai.contracts.registry import Contract

SOURCE = "ranking"


class _StageEvent(Schema):
    contest_id = Id(required=True)
    stage_id = Id(required=True)


class StandingSchema(Schema):
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    name = fields.String(required=True)
    group_id = Id(required=True)
    stage_score = Score(required=True)
    rank = fields.Integer(required=True, strict=True)  # standard competition ranking: 1, 2, 2, 4
    group_rank = fields.Integer(required=True, strict=True)
    position = fields.Integer(required=True, strict=True)  # order after the tie-break chain
    advanced = fields.Boolean(required=True)
    decided_by = fields.String(load_default=None, allow_none=True)  # the tie-break that placed it, if any


class StageResultsPublished(_StageEvent):
    next_stage_id = Id(load_default=None, allow_none=True)
    rule_sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    # the last position of each source log the standings were computed from
    log_positions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    standings = fields.List(fields.Nested(StandingSchema), required=True)
    # v2: SHA-256 of the standings' canonical JSON (leitai.canonical), the software
    # that computed them, and the head version of every source stream they depend on
    standings_sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    software_version = fields.String(required=True)
    streams = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()), required=True
    )


class OutcomeSchema(Schema):
    stage_score = Score(required=True)
    rank = fields.Integer(required=True, strict=True)
    advanced = fields.Boolean(required=True)


class ChangeSchema(Schema):
    """An entry whose score, rank or advancement a republication changed."""

    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    name = fields.String(required=True)
    before = fields.Nested(OutcomeSchema, required=True)
    after = fields.Nested(OutcomeSchema, required=True)


class StageResultsRepublished(StageResultsPublished):
    """A published stage's result again, after an approved correction: version 2, 3, …"""

    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=2))
    replaces_sha256 = fields.String(required=True, validate=validate.Length(equal=64))  # the version it replaces
    correction_id = Id(required=True)
    corrected_session_id = Id(required=True)
    corrected_judge_id = Id(required=True)  # whose sheet the correction changed
    diff = fields.List(fields.Nested(ChangeSchema), required=True)


def _certified(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the digest follows from the standings; the software and the streams were
    not recorded."""
    return dict(
        payload,
        standings_sha256=hashlib.sha256(canonical_json(payload["standings"])).hexdigest(),
        software_version="unrecorded",
        streams={},
    )


class ContestantAdvanced(_StageEvent):
    next_stage_id = Id(required=True)
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    rank = fields.Integer(required=True, strict=True)
    stage_score = Score(required=True)


class ContestantEliminated(_StageEvent):
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    rank = fields.Integer(required=True, strict=True)
    stage_score = Score(required=True)


class _AppealEvent(_StageEvent):
    appeal_id = Id(required=True)
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    name = fields.String(required=True)


class AppealFiled(_AppealEvent):
    """A contestant's appeal (申诉) against a published result, filed through an organiser."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    filed_by = Id(required=True)


APPEAL_DECISIONS = ("upheld", "dismissed")


class AppealDecided(_AppealEvent):
    decision = fields.String(required=True, validate=validate.OneOf(APPEAL_DECISIONS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    decided_by = Id(required=True)


CONTRACTS = [
    Contract("StageResultsPublished", SOURCE, 2, StageResultsPublished(), upcasters={1: _certified}),
    Contract("StageResultsRepublished", SOURCE, 1, StageResultsRepublished()),
    Contract("AppealFiled", SOURCE, 1, AppealFiled()),
    Contract("AppealDecided", SOURCE, 1, AppealDecided()),
    Contract("ContestantAdvanced", SOURCE, 1, ContestantAdvanced()),
    Contract("ContestantEliminated", SOURCE, 1, ContestantEliminated()),
]
