"""Judge calibration: how each judge scored against the panel (docs/calibration.md).

Pure: it reads plain values and computes. For every judge of a stage (or of one session):

* **severity**: the mean deviation of the judge's totals from the panel's median total of the
  same entry (negative: harsher than the panel; positive: more lenient);
* **spread**: the population standard deviation of those deviations (consistent or erratic);
* **agreement**: Spearman's rank correlation between the judge's totals and the entries'
  stage scores (the panel's consensus order), ties given their average rank;
* how often the judge's sheet was dropped as the highest or the lowest, and how many
  tolerance flags the judge's sheets raised;

and for every panel (session), **Kendall's W** over the entries every seated judge scored,
with the correction for ties. Deviations and their sums are exact; means are exact fractions;
what is shown is rounded once, ROUND_HALF_UP (4 places for severity and spread, 3 for the
coefficients), square roots taken at 60 digits first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from leitai.arithmetic import ROUNDING, median

SCORE_PLACES = Decimal("0.0001")
COEFFICIENT_PLACES = Decimal("0.001")


@dataclass(frozen=True)
class ScoredEntry:
    """One locked entry: every judge's total, the stage score, who was dropped."""

    session_id: str
    entry_id: str
    totals: Mapping[str, Decimal]
    stage_score: Decimal
    dropped_high: frozenset[str]
    dropped_low: frozenset[str]


def _shown(value: Fraction, places: Decimal, root: bool = False) -> str:
    """``value`` (or its square root) rounded once to ``places``, worked at 60 digits."""
    with localcontext() as context:
        context.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return str((exact.sqrt() if root else exact).quantize(places, rounding=ROUND_HALF_UP))


def average_ranks(values: Mapping[str, Decimal], descending: bool = True) -> dict[str, Fraction]:
    """Rank 1 for the highest (``descending``); tied values share the mean of their ranks."""
    ordered = sorted(values, key=lambda k: values[k], reverse=descending)
    ranks: dict[str, Fraction] = {}
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and values[ordered[end + 1]] == values[ordered[start]]:
            end += 1
        for key in ordered[start : end + 1]:
            ranks[key] = Fraction(start + end + 2, 2)  # the mean of ranks start+1 .. end+1
        start = end + 1
    return ranks


def spearman(first: Mapping[str, Decimal], second: Mapping[str, Decimal]) -> str | None:
    """Spearman's rho over the keys both hold: Pearson's r of their average ranks; None when
    it is undefined (fewer than two keys, or one side all tied)."""
    keys = sorted(set(first) & set(second))
    if len(keys) < 2:
        return None
    a = average_ranks({k: first[k] for k in keys})
    b = average_ranks({k: second[k] for k in keys})
    mean = Fraction(len(keys) + 1, 2)
    covariance = sum((a[k] - mean) * (b[k] - mean) for k in keys)
    variance_a = sum((a[k] - mean) ** 2 for k in keys)
    variance_b = sum((b[k] - mean) ** 2 for k in keys)
    if not variance_a or not variance_b:
        return None
    sign = 1 if covariance >= 0 else -1
    squared = covariance * covariance / (variance_a * variance_b)  # r² exact; r = sign × √r²
    magnitude = Decimal(_shown(squared, COEFFICIENT_PLACES, root=True))
    return str(magnitude if sign > 0 else -magnitude)


def kendalls_w(totals: Mapping[str, Mapping[str, Decimal]], judges: Sequence[str]) -> dict:
    """Kendall's coefficient of concordance of ``judges`` over the entries (keys of
    ``totals``) every one of them scored, corrected for ties; W is None when undefined."""
    complete = sorted(e for e, by_judge in totals.items() if all(j in by_judge for j in judges))
    m, n = len(judges), len(complete)
    result = {"panel_size": m, "complete_entries": n, "kendalls_w": None}
    if m < 2 or n < 2:
        return result
    sums = {e: Fraction(0) for e in complete}
    ties = 0
    for judge in judges:
        scored = {e: totals[e][judge] for e in complete}
        for entry, rank in average_ranks(scored).items():
            sums[entry] += rank
        for value in set(scored.values()):
            t = sum(1 for v in scored.values() if v == value)
            ties += t**3 - t
    mean = Fraction(m * (n + 1), 2)
    s = sum((r - mean) ** 2 for r in sums.values())
    denominator = Fraction(m * m * (n**3 - n) - m * ties)
    if not denominator:
        return result  # every judge tied every entry: no order to agree on
    return dict(result, kendalls_w=_shown(12 * s / denominator, COEFFICIENT_PLACES))


def judges(entries: Sequence[ScoredEntry], flags: Mapping[str, int]) -> list[dict]:
    """One row per judge who scored any of ``entries``, by judge id; ``flags``: tolerance
    flags raised by each judge's sheets among them."""
    rows = []
    for judge in sorted({j for e in entries for j in e.totals}):
        mine = [e for e in entries if judge in e.totals]
        deviations = [e.totals[judge] - median(e.totals.values()) for e in mine]  # exact: Decimal differences
        mean = Fraction(sum(deviations, Decimal(0))) / len(deviations)
        variance = sum(((Fraction(d) - mean) ** 2 for d in deviations), Fraction(0)) / len(deviations)
        rows.append(
            {
                "judge_id": judge,
                "sheets": len(mine),
                "deviation_sum": str(sum(deviations, Decimal(0))),
                "severity": _shown(mean, SCORE_PLACES),
                "spread": _shown(variance, SCORE_PLACES, root=True),
                "agreement": spearman(
                    {e.entry_id: e.totals[judge] for e in mine}, {e.entry_id: e.stage_score for e in mine}
                ),
                "dropped_high": sum(1 for e in mine if judge in e.dropped_high),
                "dropped_low": sum(1 for e in mine if judge in e.dropped_low),
                "flags": flags.get(judge, 0),
            }
        )
    return rows


def report(
    entries: Sequence[ScoredEntry], panels: Mapping[str, Sequence[str]], flags: Mapping[tuple[str, str], int]
) -> dict:
    """The calibration of a stage: every judge over the stage and within each session, and each
    session's panel concordance. ``panels``: each session's seated judges; ``flags``: tolerance
    flags by (session, judge)."""
    by_judge: dict[str, int] = {}
    for (_, judge), count in flags.items():
        by_judge[judge] = by_judge.get(judge, 0) + count
    sessions = []
    for session_id in sorted(panels):
        mine = [e for e in entries if e.session_id == session_id]
        sessions.append(
            {
                "session_id": session_id,
                **kendalls_w({e.entry_id: e.totals for e in mine}, sorted(panels[session_id])),
                "judges": judges(mine, {j: c for (s, j), c in flags.items() if s == session_id}),
            }
        )
    return {"rounding": ROUNDING, "judges": judges(entries, by_judge), "sessions": sessions}
