"""Events published by the registration service (exchange ``registration.events``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from leitai.contracts.fields import (
    AdvancementSchema,
    CriterionSchema,
    Email,
    Id,
    Instant,
    Phone,
    Score,
    Seed,
    Text,
    drop_rule_field,
)
from leitai.contracts.registry import Contract

SOURCE = "registration"


REGION_LEVELS = ("county", "township", "village")  # from the root down (services/registration/regions.py)


class RegionSchema(Schema):
    code = Id(required=True)
    name = Text(required=True)
    level = fields.String(required=True, validate=validate.OneOf(REGION_LEVELS))
    parent = Id(load_default=None, allow_none=True)


class RegionsImported(Schema):
    tree_id = Id(required=True)
    regions = fields.List(fields.Nested(RegionSchema), required=True, validate=validate.Length(min=1))


class _ContestEvent(Schema):
    contest_id = Id(required=True)


class Contact(Schema):
    """How to reach a person: what a command carries beside its event, for the personal-data
    vault (leitai/privacy.py). Never part of an event."""

    email = Email()
    phone = Phone()


class OrganiserSchema(Schema):
    """Whom notify tells of what only the organiser can decide (the county's 组织部 office); how
    to reach it is kept in the personal-data vault (leitai/privacy.py), never in the log."""

    name = Text(required=True)


CONTEST_FORMATS = ("knockout", "performance", "exchange")


class ContestCreated(_ContestEvent):
    name = Text(required=True)
    tree_id = Id(required=True)
    county_code = Id(required=True)
    format = fields.String(required=True, validate=validate.OneOf(CONTEST_FORMATS))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    organiser = fields.Nested(OrganiserSchema, load_default=None, allow_none=True)


class GroupSchema(Schema):
    group_id = Id(required=True)
    name = Text(required=True)
    townships = fields.List(Id(), required=True, validate=validate.Length(min=1))


class StageDefined(_ContestEvent):
    stage_id = Id(required=True)
    name = Text(required=True)
    order = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=20))
    groups = fields.List(fields.Nested(GroupSchema), required=True, validate=validate.Length(min=1, max=100))
    criteria = fields.List(fields.Nested(CriterionSchema), required=True, validate=validate.Length(min=1, max=30))
    panel_size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=50))
    drop_rule = drop_rule_field(required=True)
    tolerance = Score(load_default=None, allow_none=True, validate=validate.Range(min=Decimal(0), max=Decimal(10000)))
    advancement = fields.Nested(AdvancementSchema, required=True)
    # the seed of the last tie-break, "drawn lot": sha256("<lot_seed>:<entry_id>"), recorded when defined
    lot_seed = Seed()


class JudgeRegistered(_ContestEvent):
    judge_id = Id(required=True)
    name = Text(required=True)
    township_code = Id(load_default=None, allow_none=True)
    work_unit = fields.String(load_default="", validate=validate.Length(max=200))
    conflicts = fields.List(Id(), load_default=list, validate=validate.Length(max=1000))  # contestant ids


class EntrySubmitted(_ContestEvent):
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    name = Text(required=True)
    village_code = Id(required=True)
    township_code = Id(required=True)
    work_unit = fields.String(load_default="", validate=validate.Length(max=200))
    title = Text(required=True, max_length=300)
    materials = fields.List(fields.Url(), load_default=list, validate=validate.Length(max=20))
    stage_id = Id(required=True)


class EntryWithdrawn(_ContestEvent):
    entry_id = Id(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class EntryAdvanced(_ContestEvent):
    """The entry goes on to the next stage: ranking published it as advanced, or a correction
    made it advance (``change_id``, the correction's id)."""

    entry_id = Id(required=True)
    from_stage_id = Id(required=True)
    to_stage_id = Id(required=True)
    change_id = Id(load_default=None, allow_none=True)


class EntryAdvancementRevoked(_ContestEvent):
    """A correction took the entry's advancement away: it goes back from ``from_stage_id`` (the
    next stage) to ``to_stage_id`` (the corrected one)."""

    entry_id = Id(required=True)
    from_stage_id = Id(required=True)
    to_stage_id = Id(required=True)
    change_id = Id(required=True)


class ChangedEntrySchema(Schema):
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    name = Text(required=True)


class _AdvancementChange(_ContestEvent):
    """Who a republished stage's correction made advance (``gained``) or no longer advance
    (``lost``); ``change_id`` is the correction's id."""

    change_id = Id(required=True)
    stage_id = Id(required=True)
    next_stage_id = Id(required=True)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=2))
    gained = fields.List(fields.Nested(ChangedEntrySchema), required=True)
    lost = fields.List(fields.Nested(ChangedEntrySchema), required=True)


class AdvancementChangeFollowed(_AdvancementChange):
    """The next stage had not started: the entries followed the correction. Sessions of the
    next stage drawn already must be drawn again (``redraw``)."""

    redraw = fields.List(Id(), required=True)


class AdvancementChangeReferred(_AdvancementChange):
    """The next stage had started (``opened_sessions``): nothing moved; an organiser decides."""

    opened_sessions = fields.List(Id(), required=True, validate=validate.Length(min=1))


ADVANCEMENT_ACTIONS = ("follow", "admit", "keep")


class AdvancementChangeDecided(_AdvancementChange):
    """An organiser's decision on a referred change: ``follow`` it (the gained join the next
    stage, the lost leave it), ``admit`` the gained and keep the lost, or ``keep`` the next
    stage as it is."""

    action = fields.String(required=True, validate=validate.OneOf(ADVANCEMENT_ACTIONS))
    reason = Text(required=True, max_length=2000)
    decided_by = Id(required=True)


class StageResultsRecorded(_ContestEvent):
    """Ranking published (a version of) a stage's result: recorded in the contest's own stream,
    so that everything the contest stream held before it, every session opened for the stage
    among it, is before the auditor's eyes (docs/audit.md, "What the result depends on")."""

    stage_id = Id(required=True)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    publication_event_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    standings_sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    advanced = fields.List(Id(), load_default=list)  # the entries it advances: what EntryAdvanced may follow
    correction_id = Id(load_default=None, allow_none=True)  # a republication's: what an advancement change follows


class SessionScheduled(_ContestEvent):
    session_id = Id(required=True)
    stage_id = Id(required=True)
    group_id = Id(required=True)
    starts_at = Instant(required=True)
    place = fields.String(load_default="", validate=validate.Length(max=200))
    video_room = fields.String(load_default="", validate=validate.Length(max=300))


class SeatSchema(Schema):
    judge_id = Id(required=True)
    head = fields.Boolean(load_default=False)
    reserve = fields.Boolean(load_default=False)


class PanelSeated(_ContestEvent):
    session_id = Id(required=True)
    seats = fields.List(fields.Nested(SeatSchema), required=True, validate=validate.Length(min=1))


class OrderDrawn(_ContestEvent):
    session_id = Id(required=True)
    seed = Text(required=True, max_length=128)
    order = fields.List(Id(), required=True)  # entry ids, first to present first


class PanelJudgeSchema(Schema):
    judge_id = Id(required=True)
    name = Text(required=True)
    township_code = Id(load_default=None, allow_none=True)
    work_unit = fields.String(load_default="")
    conflicts = fields.List(Id(), load_default=list)
    head = fields.Boolean(required=True)
    reserve = fields.Boolean(required=True)


class SessionEntrySchema(Schema):
    entry_id = Id(required=True)
    contestant_id = Id(required=True)
    name = Text(required=True)
    township_code = Id(required=True)
    work_unit = fields.String(load_default="")
    order = fields.Integer(required=True, strict=True)


class SessionOpened(_ContestEvent):
    """All that scoring (and the notices) need of a session, as the organiser opened it."""

    session_id = Id(required=True)
    stage_id = Id(required=True)
    group_id = Id(required=True)
    # the office that owns the contest (a grant by office reaches the session through it);
    # None in sessions opened before it was carried
    county_code = Id(load_default=None, allow_none=True)
    starts_at = fields.String(load_default="", validate=validate.Length(max=40))
    place = fields.String(load_default="", validate=validate.Length(max=200))
    video_room = fields.String(load_default="", validate=validate.Length(max=300))
    criteria = fields.List(fields.Nested(CriterionSchema), required=True)
    drop_rule = drop_rule_field(required=True)
    tolerance = Score(load_default=None, allow_none=True)
    panel = fields.List(fields.Nested(PanelJudgeSchema), required=True)
    entries = fields.List(fields.Nested(SessionEntrySchema), required=True)


SERIES_CADENCES = ("monthly", "bimonthly")


class ForumSeriesCreated(_ContestEvent):
    series_id = Id(required=True)
    name = Text(required=True)
    cadence = fields.String(required=True, validate=validate.OneOf(SERIES_CADENCES))
    township_code = Id(load_default=None, allow_none=True)  # None: city-wide
    day_of_month = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=28)
    )
    themes = fields.List(Text(), required=True, validate=validate.Length(min=1, max=50))
    scored = fields.Boolean(load_default=False)


class ForumMeetingScheduled(_ContestEvent):
    series_id = Id(required=True)
    meeting_id = Id(required=True)
    date = fields.Date(required=True)
    theme = Text(required=True)
    central_task = fields.String(load_default="", validate=validate.Length(max=300))
    presenters = fields.List(Id(), load_default=list, validate=validate.Length(max=200))
    listeners = fields.List(Id(), load_default=list, validate=validate.Length(max=1000))
    evaluators = fields.List(Id(), load_default=list, validate=validate.Length(max=50))


class PresentationSchema(Schema):
    contestant_id = Id(required=True)
    name = Text(required=True)
    village_code = Id(required=True)
    topic = Text(required=True, max_length=300)
    materials = fields.List(fields.Url(), load_default=list, validate=validate.Length(max=20))


class ForumCommentSchema(Schema):
    evaluator_id = Id(required=True)
    contestant_id = Id(required=True)
    strengths = fields.String(load_default="", validate=validate.Length(max=2000))
    suggestions = fields.String(load_default="", validate=validate.Length(max=2000))


class PersonalDataErased(_ContestEvent):
    """A person's contact data was erased from the vault on request or by the office's
    retention (leitai/privacy.py): who (``person``, the id the events name them by), by whom
    and why; never the data itself. Its stream is ``privacy-<contest>``, not the contest's: the
    contest's stream is what audit bundles carry and the verifier reads, and an erasure is no
    part of any result."""

    person = Id(required=True)
    office = Id(required=True)
    erased_by = Text(required=True)
    reason = Text(required=True, max_length=500)


class ForumMeetingHeld(_ContestEvent):
    """What happened at a meeting: who presented what, who came, what the evaluators said."""

    series_id = Id(required=True)
    meeting_id = Id(required=True)
    presentations = fields.List(
        fields.Nested(PresentationSchema), required=True, validate=validate.Length(min=1, max=200)
    )
    attendees = fields.List(Id(), load_default=list, validate=validate.Length(max=2000))
    comments = fields.List(fields.Nested(ForumCommentSchema), load_default=list, validate=validate.Length(max=2000))


def _without_contact(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2 of JudgeRegistered and EntrySubmitted: v1 carried the person's e-mail and phone,
    which now live in the vault only (`leitai privacy migrate` copies them there). Read, a v1
    event hands them to no one; stored, it keeps them, since its hash covers them."""
    return {k: v for k, v in payload.items() if k not in ("email", "phone")}


def _organiser_without_contact(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2 of ContestCreated: the organising office's name stays, its contact goes."""
    office = payload.get("organiser")
    return dict(payload, organiser=None if office is None else {"name": office["name"]})


CONTRACTS = [
    Contract("ContestCreated", SOURCE, 2, ContestCreated(), upcasters={1: _organiser_without_contact}),
    Contract("JudgeRegistered", SOURCE, 2, JudgeRegistered(), upcasters={1: _without_contact}),
    Contract("EntrySubmitted", SOURCE, 2, EntrySubmitted(), upcasters={1: _without_contact}),
] + [
    Contract(name, SOURCE, 1, schema())
    for name, schema in [
        ("RegionsImported", RegionsImported),
        ("StageDefined", StageDefined),
        ("EntryWithdrawn", EntryWithdrawn),
        ("EntryAdvanced", EntryAdvanced),
        ("EntryAdvancementRevoked", EntryAdvancementRevoked),
        ("AdvancementChangeFollowed", AdvancementChangeFollowed),
        ("AdvancementChangeReferred", AdvancementChangeReferred),
        ("AdvancementChangeDecided", AdvancementChangeDecided),
        ("StageResultsRecorded", StageResultsRecorded),
        ("SessionScheduled", SessionScheduled),
        ("PanelSeated", PanelSeated),
        ("OrderDrawn", OrderDrawn),
        ("SessionOpened", SessionOpened),
        ("ForumSeriesCreated", ForumSeriesCreated),
        ("ForumMeetingScheduled", ForumMeetingScheduled),
        ("ForumMeetingHeld", ForumMeetingHeld),
        ("PersonalDataErased", PersonalDataErased),
    ]
]
