"""Scoring arithmetic: pure functions, Decimal throughout, rounding declared.

* sheet total = sum over criteria of weight x score (exact: Decimal products are exact);
* stage score = mean of the totals left after the drop rule, kept exact (as a sum and a
  count) and rounded ROUND_HALF_UP to 2 places only when published;
* which sheets are dropped among equal totals is decided by judge id, so the choice is
  reproducible (it never changes the score, only whose sheet is named).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from leitai.arithmetic import rounded_mean
from leitai.messages import Text, text


@dataclass(frozen=True)
class Criterion:
    criterion_id: str
    name: str
    max: Decimal
    weight: Decimal
    step: Decimal


@dataclass(frozen=True)
class DropTier:
    min_sheets: int
    drop_high: int
    drop_low: int


@dataclass(frozen=True)
class Aggregate:
    entry_id: str
    sheets: tuple[tuple[str, Decimal], ...]  # (judge id, total), in judge-id order
    dropped_high: tuple[str, ...]
    dropped_low: tuple[str, ...]
    counted_sum: Decimal
    counted: int

    @property
    def stage_score(self) -> Decimal:
        return rounded_mean(self.counted_sum, self.counted)


def score_problems(criteria: Sequence[Criterion], scores: Mapping[str, Decimal]) -> dict[str, list[Text]]:
    """Per-field messages for a sheet's scores, each naming its criterion; empty when the sheet
    is valid."""
    problems: dict[str, list[Text]] = {}
    known = {c.criterion_id: c for c in criteria}
    for criterion_id in scores:
        if criterion_id not in known:
            problems[f"scores.{criterion_id}"] = [
                text("{criterion_id} is not a criterion of this stage", criterion_id=criterion_id)
            ]
    for criterion in criteria:
        field = f"scores.{criterion.criterion_id}"
        named = {"criterion": criterion.name}
        if criterion.criterion_id not in scores:
            problems[field] = [text("{criterion}: missing score", **named)]
            continue
        value = scores[criterion.criterion_id]
        if not Decimal(0) <= value <= criterion.max:
            problems[field] = [text("{criterion}: must be between 0 and {max}", max=str(criterion.max), **named)]
        elif value % criterion.step != 0:
            problems[field] = [text("{criterion}: must be a multiple of {step}", step=str(criterion.step), **named)]
    return problems


def sheet_total(criteria: Sequence[Criterion], scores: Mapping[str, Decimal]) -> Decimal:
    return sum((c.weight * scores[c.criterion_id] for c in criteria), Decimal(0))


def drop_counts(rule: Sequence[DropTier], valid_sheets: int) -> tuple[int, int]:
    """(highest, lowest) to drop for this many valid sheets: the tier with the largest
    ``min_sheets`` not above it; none when no tier applies."""
    applicable = [t for t in rule if t.min_sheets <= valid_sheets]
    if not applicable:
        return 0, 0
    tier = max(applicable, key=lambda t: t.min_sheets)
    return tier.drop_high, tier.drop_low


def aggregate(entry_id: str, totals: Mapping[str, Decimal], rule: Sequence[DropTier]) -> Aggregate:
    if not totals:
        raise ValueError(f"entry {entry_id} has no valid sheet")
    ranked = sorted(totals.items(), key=lambda jt: (jt[1], jt[0]))
    high, low = drop_counts(rule, len(ranked))
    counted = ranked[low : len(ranked) - high]
    return Aggregate(
        entry_id=entry_id,
        sheets=tuple(sorted(totals.items())),
        dropped_high=tuple(j for j, _ in ranked[len(ranked) - high :]) if high else (),
        dropped_low=tuple(j for j, _ in ranked[:low]),
        counted_sum=sum((t for _, t in counted), Decimal(0)),
        counted=len(counted),
    )
