"""Token buckets: notify's pace per channel, and the gateway's limit per client; and a cap on
what one client may hold at once (the gateway's waits for writes, its live streams)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RateLimit:
    """At most ``per_second`` a second on average, with bursts of up to ``burst`` (default:
    one second's worth) after a quiet spell."""

    def __init__(
        self, per_second: float, clock: Callable[[], float] = time.monotonic, burst: float | None = None
    ) -> None:
        self.per_second, self.capacity, self.clock = per_second, burst or per_second, clock
        self.tokens = self.capacity
        self.stamp = clock()

    def take(self) -> bool:
        moment = self.clock()
        self.tokens = min(self.capacity, self.tokens + (moment - self.stamp) * self.per_second)
        self.stamp = moment
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until the next ``take`` can succeed."""
        return max(0.0, (1 - self.tokens) / self.per_second)


class RateLimits:
    """A bucket per key (a client), the least recently seen forgotten beyond ``keep``."""

    def __init__(
        self, per_second: float, burst: float, keep: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_second, self._burst, self._keep, self._clock = per_second, burst, keep, clock
        self._buckets: OrderedDict[Hashable, RateLimit] = OrderedDict()

    def take(self, key: Hashable) -> float | None:
        """None if ``key`` may go on now, else the seconds it should wait."""
        bucket = self._buckets.pop(key, None) or RateLimit(self._per_second, self._clock, self._burst)
        self._buckets[key] = bucket
        while len(self._buckets) > self._keep:
            self._buckets.popitem(last=False)
        return None if bucket.take() else bucket.retry_after()


class Concurrency:
    """At most ``per_key`` held at once by each key (a client): ``enter`` takes one if the key
    has fewer, ``leave`` gives it back. A key holding none is forgotten."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._held: dict[Hashable, int] = {}

    def enter(self, key: Hashable) -> bool:
        held = self._held.get(key, 0)
        if held >= self.per_key:
            return False
        self._held[key] = held + 1
        return True

    def leave(self, key: Hashable) -> None:
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)

    def held(self, key: Hashable) -> int:
        return self._held.get(key, 0)

    def __len__(self) -> int:
        """How many are held, by every key together."""
        return sum(self._held.values())
