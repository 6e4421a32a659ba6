"""HTTP request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from leitai.contracts.fields import Id, Score, Seed
from leitai.contracts.ranking import APPEAL_DECISIONS, ChangeSchema, StageResultsPublished, StandingSchema
from leitai.contracts.registration import (
    ADVANCEMENT_ACTIONS,
    AdvancementChangeDecided,
    ContestCreated,
    EntrySubmitted,
    ForumMeetingHeld,
    ForumMeetingScheduled,
    ForumSeriesCreated,
    JudgeRegistered,
    RegionSchema,
    SeatSchema,
    SessionScheduled,
    StageDefined,
)
from leitai.contracts.scoring import CORRECTION_KINDS
from leitai.messages import N_
from leitai.roles import JUDGE, SCREEN


class Response(Schema):
    """Responses may grow fields; clients ignore what they do not know."""

    class Meta:
        unknown = INCLUDE


# -- errors -----------------------------------------------------------------------------
class ErrorBody(Response):
    code = fields.String(required=True)
    message = fields.String(required=True)  # in the request's language (Accept-Language; docs/api.md)
    message_id = fields.String()  # the message's English template: the same in every language
    params = fields.Dict(keys=fields.String(), values=fields.Raw())  # the template's values
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.Raw(), allow_none=True)
    request_id = fields.String(required=True)


class ErrorResponse(Response):
    error = fields.Nested(ErrorBody, required=True)


# -- regions ----------------------------------------------------------------------------
class RegionsImport(Schema):
    regions = fields.List(fields.Nested(RegionSchema), validate=validate.Length(min=1, max=20000))
    csv = fields.String(validate=validate.Length(min=1, max=2_000_000))


class RegionsImported(Response):
    tree_id = fields.String(required=True)
    regions = fields.Integer(required=True)


class RegionOut(Response):
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)
    parent = fields.String(allow_none=True)


class RegionTree(Response):
    tree_id = fields.String(required=True)
    regions = fields.List(fields.Nested(RegionOut), required=True)


# -- contests ---------------------------------------------------------------------------
# Request bodies that become events are the events' contracts less what the path or the
# service supplies: one definition of each field, so the API and the log cannot drift apart.
class ContestCreate(ContestCreated):
    """The contest, as the ContestCreated event records it."""


class StageCreate(StageDefined):
    class Meta:
        exclude = ("contest_id",)


class JudgeCreate(JudgeRegistered):
    class Meta:
        exclude = ("contest_id",)


INVITED_ROLES = (JUDGE, SCREEN)  # what the console issues grants to: its organisers mint others with the CLI


class InvitationCreate(Schema):
    """A judge's grant for the contest (``id``: their judge id; what was issued to them before
    stops working) or a hall screen's (``id``: the hall's name), and the address the judges reach
    the gateway at (the console sends its own): the link's beginning."""

    role = fields.String(load_default=JUDGE, validate=validate.OneOf(INVITED_ROLES))
    id = Id(required=True)
    days = fields.Integer(load_default=30, strict=True, validate=validate.Range(min=1, max=366))
    label = fields.String(load_default="", validate=validate.Length(max=200))
    base_url = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^https?://[A-Za-z0-9.\-\[\]:]{1,200}$", error=N_("the gateway's address: http(s)://host[:port], no path")
        ),
    )


class Grant(Response):
    """A grant as the console lists it: never its token or digest."""

    grant_id = fields.String(required=True)
    role = fields.String(required=True)
    id = fields.String(required=True)
    contest = fields.String()
    label = fields.String()
    minted_by = fields.String()
    minted_at = fields.String()
    expires_at = fields.String()
    status = fields.String(required=True, metadata={"description": "active, expired or revoked"})
    revoked_at = fields.String()
    revoked_by = fields.String()
    revoke_reason = fields.String()


class Grants(Response):
    invitations = fields.List(fields.Nested(Grant), required=True)


class Invitation(Response):
    """The grant issued, its token shown this once, the sign-in link and its QR code (rows of
    "0" and "1", dark "1", no quiet zone); no link or code for a screen."""

    grant_id = fields.String(required=True)
    token = fields.String(required=True)
    role = fields.String(required=True)
    id = fields.String(required=True)
    contest_id = fields.String(required=True)
    label = fields.String(required=True)
    expires_at = fields.String(required=True)
    replaces = fields.List(fields.String(), required=True, metadata={"description": "the grants it revoked"})
    link = fields.String(required=True, allow_none=True)
    qr = fields.List(fields.String(), required=True, allow_none=True)


class Revocation(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class EntryCreate(EntrySubmitted):
    """The township follows from the village; the stage is the contest's first."""

    class Meta:
        exclude = ("contest_id", "township_code", "stage_id")


class EntriesCreate(Schema):
    entries = fields.List(fields.Nested(EntryCreate), required=True, validate=validate.Length(min=1, max=500))


class RosterImport(Schema):
    """A filled-in roster template (GET /contests/{id}/roster.xlsx), base64: what the console
    uploads as it is."""

    workbook = fields.String(required=True, validate=validate.Length(min=1, max=4_000_000))


class Withdrawal(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class SessionCreate(SessionScheduled):
    class Meta:
        exclude = ("contest_id",)


class PanelSeat(Schema):
    seats = fields.List(fields.Nested(SeatSchema), required=True, validate=validate.Length(min=1, max=60))


class Draw(Schema):
    seed = Seed()


class SeriesCreate(ForumSeriesCreated):
    class Meta:
        exclude = ("contest_id",)


class MeetingCreate(ForumMeetingScheduled):
    """The series comes from the path."""

    class Meta:
        exclude = ("contest_id", "series_id")


class MeetingRecord(ForumMeetingHeld):
    """What happened at a meeting: each scheduled presenter's presentation, who came, what the
    meeting's evaluators said. The meeting comes from the path, its series from the schedule."""

    class Meta:
        exclude = ("contest_id", "series_id", "meeting_id")


class PresentedOut(Response):
    meeting_id = fields.String(required=True)
    series_id = fields.String(required=True)
    date = fields.String(required=True)
    theme = fields.String(required=True)
    topic = fields.String(required=True)


class ParticipantOut(Response):
    contestant_id = fields.String(required=True)
    name = fields.String(required=True)
    village_code = fields.String(required=True)
    presented = fields.List(fields.Nested(PresentedOut), required=True)
    attended = fields.List(fields.String(), required=True)
    comments = fields.List(fields.Dict(), required=True)


class Participation(Response):
    participants = fields.List(fields.Nested(ParticipantOut), required=True)


class Record(Response):
    """A registered record, echoed back as stored."""

    contest_id = fields.String(required=True)


class Records(Response):
    records = fields.List(fields.Nested(Record), required=True)


class RosterImported(Response):
    judges = fields.Integer(required=True)
    entries = fields.Integer(required=True)
    records = fields.List(fields.Nested(Record), required=True)


class ContestView(Response):
    contest_id = fields.String(required=True)
    name = fields.String(required=True)
    format = fields.String(required=True)
    version = fields.Integer(required=True)
    stages = fields.List(fields.Dict(), required=True)
    judges = fields.List(fields.Dict(), required=True)
    entries = fields.List(fields.Dict(), required=True)
    sessions = fields.List(fields.Dict(), required=True)
    forum_series = fields.List(fields.Dict(), required=True)
    meetings = fields.List(fields.Dict(), required=True)
    # after corrections: status followed, referred (an organiser must decide) or decided
    advancement_changes = fields.List(fields.Dict(), required=True)


class StageProgress(Response):
    stage_id = fields.String(required=True)
    name = fields.String(required=True)
    order = fields.Integer(required=True)
    sessions = fields.Integer(required=True)  # scheduled
    opened = fields.Integer(required=True)
    locked = fields.Integer(required=True)
    published_version = fields.Integer(required=True, allow_none=True)


class Me(Response):
    """A grant as its holder may see it: exactly one of contest, office and deployment."""

    role = fields.String(required=True)
    id = fields.String(required=True)
    contest = fields.String()
    office = fields.String()
    deployment = fields.Boolean()


class Format(Response):
    """A format a contest starts from (leitai/formats.py): a stage's ``groups`` is "township" (a
    group for each township) or "county" (one group of all)."""

    key = fields.String(required=True)
    name = fields.String(required=True)
    format = fields.String(required=True)
    summary = fields.String(required=True)
    stages = fields.List(fields.Dict(), required=True)
    series = fields.List(fields.Dict(), required=True)


class Formats(Response):
    formats = fields.List(fields.Nested(Format), required=True)


class ContestSummary(Response):
    contest_id = fields.String(required=True)
    name = fields.String(required=True)
    format = fields.String(required=True)
    stages = fields.List(fields.Nested(StageProgress), required=True)


class Contests(Response):
    contests = fields.List(fields.Nested(ContestSummary), required=True)


class AdvancementDecision(Schema):
    """follow: the gained join the next stage and the lost leave it; admit: the gained join
    and the lost stay; keep: nobody moves."""

    action = fields.String(required=True, validate=validate.OneOf(ADVANCEMENT_ACTIONS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AdvancementDecisionOut(AdvancementChangeDecided, Response):
    """The decision as AdvancementChangeDecided records it."""


# -- scoring ----------------------------------------------------------------------------
# a score as the judge's page reads one (services/gateway/static/pages.js, decimal): at most 9
# digits before the point and 6 after, once full-width digits and points are read as ASCII
SCORE_TEXT = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,6})?")
POINTS = str.maketrans({"。": ".", "｡": "."})  # NFKC reads the full-width ． already


class TypedScore(fields.Decimal):
    """A score as people type it: ASCII or full-width digits (２６．５), a point written . ． or
    。; a JSON number as its decimal text. Anything else, "+5", ".5", "1e1", "1_0", seven places,
    is not a valid number, as on the judge's page: the two read the same numbers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(as_string=True, allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self.make_error("invalid")
        text = unicodedata.normalize("NFKC", str(value)).translate(POINTS).strip()
        if not SCORE_TEXT.fullmatch(text):
            raise self.make_error("invalid")
        return super()._deserialize(text, attr, data, **kwargs)


class SheetSubmit(Schema):
    submission_id = fields.UUID(required=True)
    scores = fields.Dict(keys=Id(), values=TypedScore(), required=True, validate=validate.Length(min=1, max=30))
    strengths = fields.String(load_default="", validate=validate.Length(max=2000))
    suggestions = fields.String(load_default="", validate=validate.Length(max=2000))


class SheetOut(Response):
    judge_id = fields.String(required=True)
    entry_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    scores = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    total = fields.String(required=True)
    strengths = fields.String(required=True)
    suggestions = fields.String(required=True)
    submission_id = fields.String(required=True)


class Lock(Schema):
    override_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=1000))


class SheetTotal(Response):
    judge_id = fields.String(required=True)
    total = fields.String(required=True)


class EntryResult(Response):
    entry_id = fields.String(required=True)
    sheets = fields.List(fields.Nested(SheetTotal), required=True)
    recused = fields.List(fields.String(), required=True)
    dropped_high = fields.List(fields.String(), required=True)
    dropped_low = fields.List(fields.String(), required=True)
    counted_sum = fields.String(required=True)
    counted = fields.Integer(required=True)
    stage_score = fields.String(required=True)
    rounding = fields.String(required=True)


class LockResult(Response):
    session_id = fields.String(required=True)
    locked = fields.Boolean(required=True)
    results = fields.List(fields.Nested(EntryResult), required=True)


class SessionResults(Response):
    session_id = fields.String(required=True)
    results = fields.List(fields.Nested(EntryResult), required=True)


class EntryStatus(Response):
    entry_id = fields.String(required=True)
    order = fields.Integer(required=True)
    name = fields.String(required=True)
    sheets = fields.List(fields.Nested(SheetOut), required=True)
    open_flags = fields.List(fields.String(), required=True)
    missing = fields.List(fields.String(), required=True)


class SessionStatus(Response):
    session_id = fields.String(required=True)
    locked = fields.Boolean(required=True)
    entries = fields.List(fields.Nested(EntryStatus), required=True)


class DeskEntry(Response):
    entry_id = fields.String(required=True)
    order = fields.Integer(required=True)
    name = fields.String(required=True)
    work_unit = fields.String(required=True)
    recused = fields.String(required=True, allow_none=True)  # why this judge may not score it (回避), or null
    may_score = fields.Boolean(required=True)
    received = fields.Integer(required=True)  # sheets in, of the panel's
    expected = fields.Integer(required=True)
    sheet = fields.Nested(SheetOut, required=True, allow_none=True)  # the calling judge's, as received


class DeskSession(Response):
    session_id = fields.String(required=True)
    contest_id = fields.String(required=True)
    stage_id = fields.String(required=True)
    group_id = fields.String(required=True)
    starts_at = fields.String(required=True)
    place = fields.String(required=True)
    video_room = fields.String(required=True)
    locked = fields.Boolean(required=True)
    head = fields.Boolean(required=True)
    reserve = fields.Boolean(required=True)
    on_stage = fields.String(required=True, allow_none=True)  # the first entry still waiting for a sheet
    tolerance = fields.String(required=True, allow_none=True)
    criteria = fields.List(fields.Dict(), required=True)  # criterion_id, name, max, weight, step
    entries = fields.List(fields.Nested(DeskEntry), required=True)


class HallSeat(Response):
    seat = fields.Integer(required=True, metadata={"description": "the judge's place on the panel, 1 first"})
    total = fields.String(required=True)
    dropped = fields.Boolean(required=True)


class HallEntry(Response):
    entry_id = fields.String(required=True)
    order = fields.Integer(required=True)
    name = fields.String(required=True)
    sheets_in = fields.Integer(required=True)
    sheets_expected = fields.Integer(required=True)
    complete = fields.Boolean(required=True)
    seats = fields.List(fields.Nested(HallSeat))  # once complete
    stage_score = fields.String()  # once complete; final once the session is locked


class HallStanding(Response):
    rank = fields.Integer(required=True)
    entry_id = fields.String(required=True)
    name = fields.String(required=True)
    stage_score = fields.String(required=True)


class Hall(Response):
    contest_id = fields.String(required=True)
    place = fields.String(required=True)
    starts_at = fields.String(required=True)
    session_id = fields.String(required=True)
    stage_id = fields.String(required=True)
    group_id = fields.String(required=True)
    locked = fields.Boolean(required=True)
    on_stage = fields.String(required=True, allow_none=True)
    entries = fields.List(fields.Nested(HallEntry), required=True)
    standings = fields.List(fields.Nested(HallStanding), required=True)


class JudgeDesk(Response):
    judge_id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True, metadata={"description": "None before a session opens"})
    sessions = fields.List(fields.Nested(DeskSession), required=True)


class Health(Response):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


# -- ranking ----------------------------------------------------------------------------
class StandingOut(StandingSchema):
    class Meta:
        unknown = INCLUDE

    criterion_mean = Score()  # with ?criterion=: the entry's mean on it over the counted sheets


class Leaderboard(Response):
    contest_id = fields.String(required=True)
    stage_id = fields.String(required=True)
    name = fields.String(required=True)
    published = fields.Boolean(required=True)
    standings = fields.List(fields.Nested(StandingOut), required=True)
    reflects = fields.Dict()  # live standings: {"position": the scoring log position they reflect}
    as_of = fields.Dict()  # with ?as_of: {"requested": ..., "position": ...}


class LiveTicket(Response):
    """The big screen's ticket: the cookie itself is in Set-Cookie (HttpOnly: no script reads it)."""

    stream = fields.String(required=True)  # the stream it opens: /live/{contest_id}/{stage_id}/events
    expires_in = fields.Integer(required=True)  # seconds: open the stream before then


class CheckpointOut(Response):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note; docs/audit.md)."""

    origin = fields.String(required=True)
    size = fields.Integer(required=True)
    root = fields.String(required=True)  # hex; the note carries it in base64
    note = fields.String(required=True)
    reason = fields.String()
    issued_at = fields.String()
    consistency = fields.Dict()  # {"from": size of the checkpoint before, "proof": [hex, ...]}
    # witnesses' cosignatures (C2SP tlog-cosignature signature lines, `— <name> <base64>`), as they came in
    cosignatures = fields.List(fields.String())


class Checkpoints(Response):
    checkpoints = fields.List(fields.Nested(CheckpointOut), required=True)


LARGEST_SIZE = 2**63 - 1  # a store's integers: a tree size past it is no size


class CheckpointQuery(Schema):
    after = fields.Integer(validate=validate.Range(min=0, max=LARGEST_SIZE))
    limit = fields.Integer(validate=validate.Range(min=1, max=1000))


class LogPosition(Response):
    log = fields.String(required=True)
    position = fields.Integer(required=True)


class SourceBasis(Response):
    """How far a source log was read, and the head version of each stream the standings use."""

    position = fields.Integer(required=True)
    streams = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class Certificate(Response):
    """A published result's certificate (docs/audit.md)."""

    format = fields.String(required=True)
    contest_id = fields.String(required=True)
    stage_id = fields.String(required=True)
    standings_sha256 = fields.String(required=True)
    fingerprint = fields.String(required=True)  # the digest's first 16 hex digits, as the results page shows it
    rule_sha256 = fields.String(required=True)
    software_version = fields.String(required=True)
    publication = fields.Nested(LogPosition, required=True)
    sources = fields.Dict(keys=fields.String(), values=fields.Nested(SourceBasis), required=True)
    checkpoints = fields.Dict(keys=fields.String(), values=fields.Nested(CheckpointOut), required=True)
    pending = fields.List(fields.String(), required=True)  # logs whose checkpoint is not signed yet
    replaces = fields.Dict(allow_none=True)  # a corrected result's: the certificate of the version it replaces


class StageResults(StageResultsPublished):
    class Meta:
        unknown = INCLUDE

    standings = fields.List(fields.Nested(StandingOut), required=True)
    certificate = fields.Nested(Certificate)
    version = fields.Integer(required=True)  # 1, then 2, 3, … after each approved correction
    replaces_sha256 = fields.String()  # the standings digest of the version it replaces
    correction_id = fields.String()
    diff = fields.List(fields.Nested(ChangeSchema))  # whose score, rank or advancement changed


class VersionQuery(Schema):
    version = fields.Integer(validate=validate.Range(min=1))


class WorkingSheet(Response):
    judge_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    scores = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    total = fields.String(required=True)


class Working(EntryResult):
    session_id = fields.String(required=True)
    sheets = fields.List(fields.Nested(WorkingSheet), required=True)


class BoardQuery(Schema):
    group = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"))
    criterion = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"))
    # the standings as they stood then: a scoring log position, or an ISO 8601 time with its zone
    as_of = fields.String(
        validate=validate.Regexp(
            r"^(\d{1,12}|\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d))$",
            error=N_(
                "a scoring log position (e.g. 1200) or an ISO 8601 time with its zone (e.g. 2026-05-01T10:30:00+08:00)"
            ),
        )
    )


class CorrectionCreate(Schema):
    correction_id = Id()  # the client's, to propose it once whatever the network does; else one is made
    kind = fields.String(required=True, validate=validate.OneOf(CORRECTION_KINDS))
    entry_id = Id(required=True)
    judge_id = Id(required=True)
    scores = fields.Dict(keys=Id(), values=TypedScore())
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    appeal_id = Id()  # the appeal it answers, if any


class CorrectionDecision(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["approve", "reject", "withdraw"]))
    reason = fields.String(validate=validate.Length(min=1, max=2000))  # required to reject

    @validates_schema
    def _reason_to_reject(self, data, **kwargs):
        if data.get("action") == "reject" and not data.get("reason"):
            raise ValidationError(N_("a rejection gives its reason"), "reason")


class CorrectionOut(Response):
    correction_id = fields.String(required=True)
    contest_id = fields.String(required=True)
    session_id = fields.String(required=True)
    kind = fields.String(required=True)
    entry_id = fields.String(required=True)
    judge_id = fields.String(required=True)
    scores = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    reason = fields.String(required=True)
    appeal_id = fields.String(allow_none=True)
    cites = fields.String(allow_none=True)  # the event id of the sheet it corrects
    proposed_by = fields.String(required=True)
    status = fields.String(required=True)  # proposed, approved, rejected, withdrawn
    decided_by = fields.String()


class CorrectionsOut(Response):
    corrections = fields.List(fields.Nested(CorrectionOut), required=True)


class AppealCreate(Schema):
    appeal_id = Id()  # the client's, to file it once whatever the network does; else one is made
    entry_id = Id(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AppealDecision(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(APPEAL_DECISIONS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AppealOut(Response):
    appeal_id = fields.String(required=True)
    contest_id = fields.String(required=True)
    stage_id = fields.String(required=True)
    entry_id = fields.String(required=True)
    contestant_id = fields.String(required=True)
    name = fields.String(required=True)
    reason = fields.String(required=True)
    filed_by = fields.String(required=True)
    status = fields.String(required=True)  # filed, decided
    decision = fields.String(allow_none=True)  # one of APPEAL_DECISIONS; None until decided
    decision_reason = fields.String()
    decided_by = fields.String()


class AppealsOut(Response):
    appeals = fields.List(fields.Nested(AppealOut), required=True)


class ExportQuery(Schema):
    kind = fields.String(validate=validate.OneOf(["results", "sheets", "calibration"]))


class JudgeCalibration(Response):
    """docs/calibration.md: each figure's formula and rounding."""

    judge_id = fields.String(required=True)
    sheets = fields.Integer(required=True)
    deviation_sum = fields.String(required=True)  # exact: Σ (total − the panel's median total of the entry)
    severity = fields.String(required=True)  # the mean deviation: < 0 harsher than the panel
    spread = fields.String(required=True)  # the deviations' population standard deviation
    agreement = fields.String(allow_none=True)  # Spearman's rho with the stage scores' order
    dropped_high = fields.Integer(required=True)
    dropped_low = fields.Integer(required=True)
    flags = fields.Integer(required=True)  # tolerance flags the judge's sheets raised


class SessionCalibration(Response):
    session_id = fields.String(required=True)
    panel_size = fields.Integer(required=True)
    complete_entries = fields.Integer(required=True)  # entries every seated judge scored: what W is over
    kendalls_w = fields.String(allow_none=True)
    judges = fields.List(fields.Nested(JudgeCalibration), required=True)


class Calibration(Response):
    contest_id = fields.String(required=True)
    stage_id = fields.String(required=True)
    name = fields.String(required=True)
    published = fields.Boolean(required=True)
    rounding = fields.String(required=True)
    judges = fields.List(fields.Nested(JudgeCalibration), required=True)
    sessions = fields.List(fields.Nested(SessionCalibration), required=True)


# -- notify -----------------------------------------------------------------------------
class DeliveryQuery(Schema):
    recipient = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$"))
    status = fields.String(validate=validate.OneOf(["pending", "sending", "sent", "failed", "undeliverable"]))
    kind = fields.String(validate=validate.Regexp(r"^[a-z_]{1,40}$"))


class DeliveryOut(Response):
    _id = fields.String(required=True)
    recipient_id = fields.String(required=True)
    channel = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)


class Deliveries(Response):
    deliveries = fields.List(fields.Nested(DeliveryOut), required=True)


class Preferences(Schema):
    email = fields.Boolean()
    sms = fields.Boolean()
    inbox = fields.Boolean()


class PreferencesOut(Response):
    recipient_id = fields.String(required=True)
    email = fields.Boolean(required=True)
    sms = fields.Boolean(required=True)
    inbox = fields.Boolean(required=True)


class InboxMessage(Response):
    _id = fields.String(required=True)
    kind = fields.String(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)


class Inbox(Response):
    messages = fields.List(fields.Nested(InboxMessage), required=True)
