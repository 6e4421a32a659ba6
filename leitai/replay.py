"""Rebuilding a read model from the event logs, and diffing it against the live one.

Auditors use it to re-derive every published number: the projection runs over every event
of its source logs into a scratch database, which is then compared, document by document,
with the live read model.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Callable, Mapping, TextIO

from pymongo.database import Database

from leitai.contracts import ContractRegistry, Event
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog


@dataclass(frozen=True)
class Projection:
    name: str
    sources: Mapping[str, tuple[str, ...]]  # source service -> event types projected
    collections: tuple[str, ...]
    project: Callable[[Database, Event], None]


class Progress:
    """A progress bar on a terminal; silence elsewhere (logs, CI)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.stream = max(total, 1), 0, stream
        self.enabled = stream.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        if self.enabled:
            filled = 40 * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{' ' * (40 - filled)}] {self.done}/{self.total} events")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def rebuild(projection: Projection, sources: Mapping[str, Database], scratch: Database,
            registry: ContractRegistry, stream: TextIO = sys.stderr) -> int:
    stores = {name: EventStore(MongoCommitLog(sources[name]), registry) for name in projection.sources}
    progress = Progress(sum(store.head_position() for store in stores.values()), stream)
    applied = 0
    for name, store in stores.items():
        wanted = set(projection.sources[name])
        for batch in store.read_all():
            for event in batch:
                if event.type in wanted:
                    projection.project(scratch, event)
                    applied += 1
            progress.advance(len(batch))
    progress.close()
    return applied


def diff(live: Database, rebuilt: Database, collections: tuple[str, ...]) -> list[str]:
    """Readable differences, one a line; empty when the two read models are identical."""
    lines = []
    for name in collections:
        left = {d["_id"]: d for d in live[name].find()}
        right = {d["_id"]: d for d in rebuilt[name].find()}
        for key in sorted(set(left) | set(right), key=str):
            if key not in right:
                lines.append(f"{name}/{key}: only in the live read model")
            elif key not in left:
                lines.append(f"{name}/{key}: missing from the live read model")
            else:
                for field in sorted(set(left[key]) | set(right[key])):
                    a, b = _canonical(left[key].get(field)), _canonical(right[key].get(field))
                    if a != b:
                        lines.append(f"{name}/{key}: {field}: live {a} != rebuilt {b}")
    return lines


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
