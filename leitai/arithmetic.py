"""Exact score arithmetic shared by the services: Decimal in, rounding declared."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

PUBLISHED_PLACES = Decimal("0.01")
ROUNDING = "ROUND_HALF_UP"


def rounded_mean(total: Decimal | Fraction, count: int = 1) -> Decimal:
    """total / count, exact, rounded once ROUND_HALF_UP to 2 places.

    The mean is taken as an exact fraction (it is often not a finite decimal); scores are
    never negative, so half-up is floor(x + 1/2) on hundredths.
    """
    hundredths = Fraction(total) * 100 / count
    if hundredths < 0:
        raise ValueError("scores are never negative")
    return (Decimal(math.floor(hundredths + Fraction(1, 2))) / 100).quantize(PUBLISHED_PLACES)


def median(values: Iterable[Decimal]) -> Decimal:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2  # halving a Decimal is exact
