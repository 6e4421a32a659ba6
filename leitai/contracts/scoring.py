"""Events published by the scoring service (exchange ``scoring.events``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from leitai.arithmetic import ROUNDING
from leitai.contracts.fields import Id, Score
from leitai.contracts.registry import Contract
from leitai.roles import ROLES

SOURCE = "scoring"


class _SessionEvent(Schema):
    contest_id = Id(required=True)
    session_id = Id(required=True)


class _LockedSessionEvent(_SessionEvent):
    stage_id = Id(required=True)
    group_id = Id(required=True)


class ScoreSheetSubmitted(_SessionEvent):
    entry_id = Id(required=True)
    judge_id = Id(required=True)
    scores = fields.Dict(keys=Id(), values=Score(), required=True)
    total = Score(required=True)  # sum over criteria of weight x score, exact
    strengths = fields.String(load_default="", validate=validate.Length(max=2000))  # 亮点
    suggestions = fields.String(load_default="", validate=validate.Length(max=2000))  # 建议
    revision = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class ToleranceFlagRaised(_SessionEvent):
    entry_id = Id(required=True)
    judge_id = Id(required=True)
    revision = fields.Integer(required=True, strict=True)
    total = Score(required=True)
    median = Score(required=True)
    tolerance = Score(required=True)


class ToleranceFlagWithdrawn(_SessionEvent):
    """A flag no longer holds: its judge's sheet was revised, or others' moved the median."""

    entry_id = Id(required=True)
    judge_id = Id(required=True)
    revision = fields.Integer(required=True, strict=True)  # the flagged revision
    median = Score(required=True)  # the median now


class CommentSchema(Schema):
    judge_id = Id(required=True)
    strengths = fields.String(load_default="")
    suggestions = fields.String(load_default="")


class SheetTotalSchema(Schema):
    judge_id = Id(required=True)
    total = Score(required=True)


class EntryScored(_LockedSessionEvent):
    entry_id = Id(required=True)
    sheets = fields.List(fields.Nested(SheetTotalSchema), required=True)
    recused = fields.List(Id(), required=True)
    dropped_high = fields.List(Id(), required=True)
    dropped_low = fields.List(Id(), required=True)
    counted_sum = Score(required=True)  # exact
    counted = fields.Integer(required=True, strict=True)
    stage_score = Score(required=True)  # counted_sum / counted, ROUND_HALF_UP to 2 places
    rounding = fields.String(required=True, validate=validate.OneOf([ROUNDING]))
    comments = fields.List(fields.Nested(CommentSchema), load_default=list)  # 亮点 / 建议, per judge


class SessionLocked(_LockedSessionEvent):
    locked_by = Id(required=True)
    override_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    open_flags = fields.Integer(required=True, strict=True)
    missing_sheets = fields.Integer(required=True, strict=True)
    entries = fields.List(Id(), required=True)


CORRECTION_KINDS = ("change_score", "void_sheet", "add_sheet")


class CorrectionProposed(_SessionEvent):
    """A correction of a locked session (复核), proposed by one person; it takes effect only
    once a second person approves it."""

    correction_id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CORRECTION_KINDS))
    entry_id = Id(required=True)
    judge_id = Id(required=True)
    scores = fields.Dict(keys=Id(), values=Score(), load_default=None, allow_none=True)  # change or add
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    appeal_id = Id(load_default=None, allow_none=True)  # the appeal it answers, if any
    cites = fields.String(load_default=None, allow_none=True)  # the event id of the sheet it corrects
    proposed_by = Id(required=True)
    # the role the proposer acted in, for the auditor's check of the rules (None before it was recorded)
    proposer_role = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ROLES))


class _CorrectionStep(_SessionEvent):
    correction_id = Id(required=True)
    by = Id(required=True)
    role = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ROLES))  # as proposer_role


class CorrectionApproved(_CorrectionStep):
    pass


class CorrectionRejected(_CorrectionStep):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CorrectionWithdrawn(_CorrectionStep):
    pass


class ScoreSheetCorrected(ScoreSheetSubmitted):
    """A sheet as an approved correction left it (changed, or added where one was missing)."""

    correction_id = Id(required=True)
    cites = fields.String(load_default=None, allow_none=True)


class ScoreSheetVoided(_SessionEvent):
    """A sheet an approved correction struck out (a judge who should have stood aside)."""

    entry_id = Id(required=True)
    judge_id = Id(required=True)
    correction_id = Id(required=True)
    cites = fields.String(required=True)


class EntryRescored(EntryScored):
    """An entry of a locked session scored again after an approved correction."""

    correction_id = Id(required=True)
    judge_id = Id(required=True)  # whose sheet the correction changed, voided or added


class StageResultsNoted(_SessionEvent):
    """Ranking published (a version of) the result of this session's stage: noted in the
    session's own stream, so that everything the stream held before it is before the
    auditor's eyes (docs/audit.md, "What the result depends on")."""

    stage_id = Id(required=True)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    publication_event_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


CONTRACTS = [
    Contract("ScoreSheetSubmitted", SOURCE, 1, ScoreSheetSubmitted()),
    Contract("ScoreSheetRevised", SOURCE, 1, ScoreSheetSubmitted()),
    Contract("ToleranceFlagRaised", SOURCE, 1, ToleranceFlagRaised()),
    Contract("ToleranceFlagWithdrawn", SOURCE, 1, ToleranceFlagWithdrawn()),
    Contract("EntryScored", SOURCE, 1, EntryScored()),
    Contract("SessionLocked", SOURCE, 1, SessionLocked()),
    Contract("CorrectionProposed", SOURCE, 1, CorrectionProposed()),
    Contract("CorrectionApproved", SOURCE, 1, CorrectionApproved()),
    Contract("CorrectionRejected", SOURCE, 1, CorrectionRejected()),
    Contract("CorrectionWithdrawn", SOURCE, 1, CorrectionWithdrawn()),
    Contract("ScoreSheetCorrected", SOURCE, 1, ScoreSheetCorrected()),
    Contract("ScoreSheetVoided", SOURCE, 1, ScoreSheetVoided()),
    Contract("EntryRescored", SOURCE, 1, EntryRescored()),
    Contract("StageResultsNoted", SOURCE, 1, StageResultsNoted()),
]
