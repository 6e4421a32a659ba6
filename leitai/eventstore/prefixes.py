"""The parsed events of each stream's sequenced commits, from its first version on.

A command reads its whole stream to decide (leitai/application.py); parsing every event of a
session or a contest against its contract, at every sheet, costs more than the rest of the
command. A sequenced commit never changes again, so a stream read again needs from the store
only the commits after the prefix held here, and parses only those. A commit not yet
sequenced is not held (its events carry no position yet); the sequencer follows within a
round, so the part read and parsed again stays short.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from leitai.contracts import Event


class SequencedPrefixes:
    """Bounded by the events held; the least recently read streams are let go first."""

    def __init__(self, max_events: int = 200_000) -> None:
        self._max_events = max_events
        self._streams: OrderedDict[str, tuple[int, tuple[Event, ...]]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()  # a service's workers share its store

    def get(self, stream_id: str) -> tuple[int, tuple[Event, ...]]:
        """(version, events of versions 1..version) held for the stream; (0, ()) if none."""
        with self._lock:
            held = self._streams.get(stream_id)
            if held is None:
                return 0, ()
            self._streams.move_to_end(stream_id)
            return held

    def extend(
        self,
        stream_id: str,
        version: int,
        held: tuple[Event, ...],
        commits: Sequence[tuple[dict[str, Any], list[Event]]],
    ) -> None:
        """Hold, after ``held`` (versions 1..``version``), as many of ``commits`` (in version
        order, with their events) as follow on from it and are sequenced."""
        events = list(held)
        for commit, parsed in commits:
            if commit["prev_version"] != version or commit.get("first_position") is None:
                break
            events += parsed
            version = commit["version"]
        if len(events) == len(held) or len(events) > self._max_events:
            return
        with self._lock:
            earlier = self._streams.pop(stream_id, None)
            if earlier is not None and earlier[0] > version:  # another worker got further meanwhile
                self._streams[stream_id] = earlier
                return
            self._held += len(events) - (len(earlier[1]) if earlier else 0)
            self._streams[stream_id] = (version, tuple(events))
            while self._held > self._max_events:
                _, (_, dropped) = self._streams.popitem(last=False)
                self._held -= len(dropped)
