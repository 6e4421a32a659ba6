"""Field types and nested schemas shared by the published contracts and the HTTP API."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from leitai.messages import N_

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ID_ERROR = N_("must be 1-64 letters, digits, '-' or '_' (starting with a letter or digit)")


def Id(**kwargs: Any) -> fields.String:
    """An identifier: safe in URLs, stream ids and MongoDB keys (never starts with '$')."""
    return fields.String(validate=validate.Regexp(ID_PATTERN, error=ID_ERROR), **kwargs)


def Text(max_length: int = 200, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _email_or_none(value: str) -> None:
    if value:
        validate.Email()(value)


def Email(**kwargs: Any) -> fields.String:
    """An e-mail address, or "" for none (notices then go by other channels)."""
    return fields.String(load_default="", validate=[validate.Length(max=200), _email_or_none], **kwargs)


def Phone(**kwargs: Any) -> fields.String:
    return fields.String(
        load_default="", validate=validate.Regexp(r"^\+?[0-9 -]{0,20}$", error=N_("not a phone number")), **kwargs
    )


class Instant(fields.AwareDateTime):
    """A moment in ISO 8601 with its UTC offset, carried as text: loading checks it and writes
    it out in one form, so that a payload holds strings, never datetime objects."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    # loads to the text, where the base class loads to a datetime: that is this field's point
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        # format="iso": the text, never a timestamp number
        return cast(str, super()._serialize(super()._deserialize(value, attr, data, **kwargs), attr, None))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


def Seed(**kwargs: Any) -> fields.String:
    """A lot's seed an organiser chooses (None: the service draws a fresh one)."""
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,128}$", error=N_("8-128 letters, digits, '-' or '_'")),
        **kwargs,
    )


def Score(**kwargs: Any) -> fields.Decimal:
    """Decimal carried as a string, never a float."""
    return fields.Decimal(as_string=True, allow_nan=False, **kwargs)


class CriterionSchema(Schema):
    criterion_id = Id(required=True)
    name = Text(required=True)
    max = Score(required=True, validate=validate.Range(min=Decimal("0.5"), max=Decimal(1000)))
    weight = Score(required=True, validate=validate.Range(min=Decimal("0.01"), max=Decimal(100)))
    step = Score(load_default=Decimal("0.5"), validate=validate.Range(min=Decimal("0.01"), max=Decimal(100)))

    @validates_schema
    def _step_divides_max(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "max" in data and "step" in data and data["max"] % data["step"] != 0:
            raise ValidationError(N_("max must be a whole number of steps"), "step")


class DropTierSchema(Schema):
    """From ``min_sheets`` valid sheets on (until a higher tier), drop this many highest and lowest."""

    min_sheets = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    drop_high = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10))
    drop_low = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10))

    @validates_schema
    def _leaves_a_sheet(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("drop_high", 0) + data.get("drop_low", 0) >= data.get("min_sheets", 1):
            raise ValidationError(N_("must leave at least one sheet counted"), "min_sheets")


def drop_rule_field(**kwargs: Any) -> fields.List[dict[str, Any]]:
    def _distinct(tiers: list[dict[str, Any]]) -> None:
        if len({t["min_sheets"] for t in tiers}) != len(tiers):
            raise ValidationError(N_("min_sheets must differ between tiers"))

    return fields.List(fields.Nested(DropTierSchema), validate=[validate.Length(min=1, max=10), _distinct], **kwargs)


TIE_BREAK_KINDS = ("median_total", "criterion", "lot")  # services/ranking/standings.py orders by them
ON_TIE = ("tiebreak", "all_advance")  # at the cut-off: the order decides, or all tied advance


class TieBreakSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(TIE_BREAK_KINDS))
    criterion_id = Id(load_default=None, allow_none=True)

    @validates_schema
    def _criterion_named(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("kind") == "criterion" and not data.get("criterion_id"):
            raise ValidationError(N_("a criterion tie-break names its criterion"), "criterion_id")


class AdvancementSchema(Schema):
    per_group = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))
    overall = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))
    on_tie = fields.String(load_default="tiebreak", validate=validate.OneOf(ON_TIE))
    tiebreak = fields.List(fields.Nested(TieBreakSchema), load_default=lambda: [{"kind": "lot", "criterion_id": None}])
