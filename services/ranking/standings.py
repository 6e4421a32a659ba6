"""Standings and advancement: pure functions, the order decided only by declared rules.

* Order: higher stage score (as published, 2 places), then the stage's tie-break chain in
  its declared order, then the entry id (which decides only when the chain ends without
  a "lot" and two entries are equal on everything; it keeps the order total).
  ``median_total``: higher median of all valid sheet totals; ``criterion``: higher mean of
  the named criterion over the counted sheets; ``lot``: lower sha256("<lot_seed>:<entry_id>"),
  the seed recorded when the stage was defined.
* Rank: standard competition ranking on the stage score (1, 2, 2, 4). Tie-breaks order the
  tied entries and decide the cut-off; they do not change the rank shown.
* Advancement: the best ``per_group`` of each group, then the best ``overall`` of those
  left (either may be absent). At the cut-off ``on_tie = "tiebreak"`` lets the order
  decide; ``"all_advance"`` also takes everyone with the last one's stage score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from leitai.arithmetic import median
from leitai.lots import lot_key


@dataclass(frozen=True)
class Result:
    entry_id: str
    contestant_id: str
    name: str
    group_id: str
    stage_score: Decimal
    sheet_totals: tuple[Decimal, ...]
    criterion_means: dict[str, Fraction] = field(default_factory=dict)


@dataclass(frozen=True)
class Standing:
    result: Result
    position: int
    rank: int
    group_rank: int
    advanced: bool
    decided_by: str | None  # the tie-break that set it apart from the entry before it


def _tiebreak_values(result: Result, chain: Sequence[dict[str, Any]], lot_seed: str) -> list[Decimal | Fraction | str]:
    values: list[Decimal | Fraction | str] = []
    for rule in chain:
        if rule["kind"] == "median_total":
            values.append(-median(result.sheet_totals))
        elif rule["kind"] == "criterion":
            values.append(-result.criterion_means.get(rule["criterion_id"], Fraction(0)))
        else:
            values.append(lot_key(lot_seed, result.entry_id))
    return values


def _label(rule: dict[str, Any]) -> str:
    return f"criterion:{rule['criterion_id']}" if rule["kind"] == "criterion" else rule["kind"]


def order(results: Sequence[Result], chain: Sequence[dict[str, Any]], lot_seed: str) -> list[tuple[Result, str | None]]:
    """Results in final order, each with the tie-break that placed it after its predecessor."""
    keyed = sorted(((-r.stage_score, *_tiebreak_values(r, chain, lot_seed), r.entry_id), r) for r in results)
    placed = []
    for index, (key, result) in enumerate(keyed):
        decided_by = None
        if index and keyed[index - 1][0][0] == key[0]:  # same stage score as the one before
            previous = keyed[index - 1][0]
            differs = next((i for i in range(1, len(key)) if key[i] != previous[i]), len(key) - 1)
            decided_by = _label(chain[differs - 1]) if differs <= len(chain) else "entry_id"
        placed.append((result, decided_by))
    return placed


def _competition_ranks(scores: Sequence[Decimal]) -> list[int]:
    ranks: list[int] = []
    for index, score in enumerate(scores):
        ranks.append(ranks[-1] if index and scores[index - 1] == score else index + 1)
    return ranks


def _take(candidates: list[Result], count: int, on_tie: str) -> list[Result]:
    chosen = candidates[:count]
    if on_tie == "all_advance" and chosen:
        cut = chosen[-1].stage_score
        chosen += [r for r in candidates[count:] if r.stage_score == cut]
    return chosen


def standings(results: Sequence[Result], advancement: dict[str, Any], lot_seed: str) -> list[Standing]:
    placed = order(results, advancement.get("tiebreak") or [], lot_seed)
    ordered = [r for r, _ in placed]
    ranks = _competition_ranks([r.stage_score for r in ordered])
    group_ranks: dict[str, int] = {}
    for group in {r.group_id for r in ordered}:
        members = [r for r in ordered if r.group_id == group]
        group_ranks.update(
            zip((r.entry_id for r in members), _competition_ranks([r.stage_score for r in members]), strict=True)
        )

    on_tie = advancement.get("on_tie", "tiebreak")
    advanced: set[str] = set()
    if advancement.get("per_group"):
        for group in sorted({r.group_id for r in ordered}):
            members = [r for r in ordered if r.group_id == group]
            advanced.update(r.entry_id for r in _take(members, advancement["per_group"], on_tie))
    if advancement.get("overall"):
        rest = [r for r in ordered if r.entry_id not in advanced]
        advanced.update(r.entry_id for r in _take(rest, advancement["overall"], on_tie))

    return [
        Standing(result, position, rank, group_ranks[result.entry_id], result.entry_id in advanced, decided_by)
        for position, ((result, decided_by), rank) in enumerate(zip(placed, ranks, strict=True), start=1)
    ]
