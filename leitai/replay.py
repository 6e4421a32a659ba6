"""Rebuilding a read model from the event logs, and diffing it against the live one.

Auditors use it to re-derive every published number: the projection runs over every event
of its source logs into a scratch database, which is then compared, document by document,
with the live read model. The logs are read in large ranges, their events projected from
their stored JSON (see EventStore.read_all_stored), and the projection's writes
folded in memory and written in bulk (leitai/writes.py): a replay costs a few store round
trips per thousand events, and memory bounded by ``MAX_DOCUMENTS``, whatever the log's length.
``to_positions`` stops a source log at a position: the read model as it stood then.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from queue import Queue
from typing import Any, TextIO, TypeVar

from pymongo.database import Database

from leitai.contracts import ContractRegistry
from leitai.eventstore import EventStore, Stored
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.writes import Write, WriteBatch

READ_BATCH = 5000  # events a range read of the log asks for
MAX_DOCUMENTS = 20_000  # documents folded in memory before they are written


@dataclass(frozen=True)
class Rebuilt:
    projected: int  # events the projection took
    read: int  # events read from the logs
    bulk_writes: int
    positions: Mapping[str, int]  # each source log, as far as it was read


@dataclass(frozen=True)
class Projection:
    name: str
    sources: Mapping[str, tuple[str, ...]]  # source service -> event types projected
    collections: tuple[str, ...]
    writes: Callable[[Stored], list[Write]]  # commutative, idempotent writes (leitai/writes.py)


class Progress:
    """Events done, events a second and the time left, on a terminal; silence elsewhere
    (logs, CI)."""

    EVERY_S = 0.5

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.stream = max(total, 1), 0, stream
        self.enabled = stream.isatty()
        self.started = self._shown = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._shown >= self.EVERY_S or self.done >= self.total):
            self._shown = now
            rate = self.done / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate else 0.0
            filled = 40 * min(self.done, self.total) // self.total
            self.stream.write(
                f"\r[{'#' * filled}{' ' * (40 - filled)}] {self.done:,}/{self.total:,} events "
                f"{rate:,.0f}/s ETA {left:,.0f} s "
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def check_positions(projection: Projection, to_positions: Mapping[str, int]) -> None:
    """Raises ValueError naming any source of ``to_positions`` the projection is not built from."""
    unknown = sorted(set(to_positions) - set(projection.sources))
    if unknown:
        raise ValueError(f"{projection.name} is not built from {', '.join(unknown)}")


def rebuild(
    projection: Projection,
    sources: Mapping[str, Database[dict[str, Any]]],
    scratch: Database[dict[str, Any]],
    registry: ContractRegistry,
    stream: TextIO = sys.stderr,
    to_positions: Mapping[str, int] | None = None,
    read_batch: int = READ_BATCH,
    max_documents: int = MAX_DOCUMENTS,
) -> Rebuilt:
    """Fold every projected event of ``sources`` (each up to its position in ``to_positions``,
    where one is given) into ``scratch``: the writes are folded in memory, at most
    ``max_documents`` documents at a time, and written in bulk."""
    limits = dict(to_positions or {})
    check_positions(projection, limits)
    stores = {name: EventStore(MongoCommitLog(sources[name]), registry) for name in projection.sources}
    heads = {name: min(store.head_position(), limits.get(name, sys.maxsize)) for name, store in stores.items()}
    progress = Progress(sum(heads.values()), stream)
    batch = WriteBatch(fresh=True)  # the scratch database holds nothing but what it writes
    applied = writes = 0
    for name, store in stores.items():
        wanted = set(projection.sources[name])
        for events in _ahead(store.read_all_stored(batch_size=read_batch)):
            events = [e for e in events if e.position <= heads[name]]
            for event in events:
                if event.type in wanted:
                    batch.add(_writes(projection, store, event))
                    applied += 1
            progress.advance(len(events))
            if len(batch) >= max_documents:
                writes += batch.flush(scratch)
            if not events or events[-1].position >= heads[name]:
                break
    writes += batch.flush(scratch)
    progress.close()
    return Rebuilt(applied, progress.done, writes, heads)


T = TypeVar("T")


def _ahead(batches: Iterator[list[T]]) -> Iterator[list[T]]:
    """``batches``, the next one read by a thread while this one is folded: the store's answer
    and the fold overlap."""
    queue: Queue[list[T] | BaseException | None] = Queue(maxsize=1)  # None: no more batches

    def read() -> None:
        try:
            for batch in batches:
                queue.put(batch)
            queue.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            queue.put(exc)

    threading.Thread(target=read, daemon=True, name="replay-read-ahead").start()
    while (item := queue.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _writes(projection: Projection, store: EventStore, event: Stored) -> list[Write]:
    try:
        return projection.writes(event)
    except (KeyError, TypeError, ValueError):
        store.check(event.position)  # a stored payload that does not fit its contract: CorruptRecord names it
        raise


def diff(live: Database[dict[str, Any]], rebuilt: Database[dict[str, Any]], collections: tuple[str, ...]) -> list[str]:
    """Readable differences, one a line; empty when the two read models are identical. Both
    are read in ``_id`` order side by side, so memory does not grow with their size."""
    lines = []
    for name in collections:
        left, right = live[name].find(sort=[("_id", 1)]), rebuilt[name].find(sort=[("_id", 1)])
        a, b = next(left, None), next(right, None)
        while a is not None or b is not None:
            if b is None or (a is not None and a["_id"] < b["_id"]):
                assert a is not None  # the loop runs while either side has a document left
                lines.append(f"{name}/{a['_id']}: only in the live read model")
                a = next(left, None)
            elif a is None or b["_id"] < a["_id"]:
                lines.append(f"{name}/{b['_id']}: missing from the live read model")
                b = next(right, None)
            else:
                for field in sorted(set(a) | set(b)):
                    x, y = _canonical(a.get(field)), _canonical(b.get(field))
                    if x != y:
                        lines.append(f"{name}/{a['_id']}: {field}: live {x} != rebuilt {y}")
                a, b = next(left, None), next(right, None)
    return lines


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
