"""Group commit: writes that arrive while one is in flight go together in the next.

A store charges mostly per command, not per document (on the stand-in an ``insert_many`` of
four commits costs about half as much a commit as four ``insert_one``), so appends that
arrive together are stored in one command, as KurrentDB and PostgreSQL commit in groups.
Nothing waits for a group to fill: the first write goes at once (an idle store adds no
delay), and what arrives while it is in flight goes next, up to ``limit`` at a time. Each
write still gets its own answer: the batch's writer hands every caller its outcome, and
a failure of the whole command (an outage: the outcome unknown) goes to every caller of it.
Safe across threads and eventlet's green threads alike (monkey-patched locks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class WriterStopped(Exception):
    """The write leading a group was stopped (its thread killed) while the group was in
    flight: whether it was stored is unknown, and sending it again is the answer."""


class _Entry(Generic[T, R]):
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """``write(items)`` stores items in one command and returns, for each, its result or the
    exception that refused it alone; an exception it raises is every item's outcome."""

    def __init__(self, write: Callable[[list[T]], Sequence[R | BaseException]], limit: int = 100) -> None:
        self._write = write
        self._limit = limit
        self._changed = threading.Condition()
        self._queue: list[_Entry[T, R]] = []
        self._writing = False

    def submit(self, item: T) -> R:
        """Store ``item`` (with whatever else is waiting) and return its own outcome."""
        entry: _Entry[T, R] = _Entry(item)
        with self._changed:
            self._queue.append(entry)
            self._changed.notify_all()
            # the oldest waiting write leads the next group once the one in flight is done
            while not entry.done and (self._writing or self._queue[0] is not entry):
                self._changed.wait()
            if not entry.done:
                group, self._queue = self._queue[: self._limit], self._queue[self._limit :]
                self._writing = True
        if not entry.done:
            self._lead(group)
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]  # set with done, when no error is

    def _lead(self, group: list[_Entry[T, R]]) -> None:
        outcomes: Sequence[R | BaseException]
        try:
            outcomes = self._write([e.item for e in group])
        except Exception as exc:  # noqa: BLE001 - the outcome of every write in the group
            outcomes = [exc] * len(group)
        except BaseException:  # this thread is being stopped: the others must not wait for ever
            self._settle(group, [WriterStopped("the group's writer was stopped")] * len(group))
            raise
        self._settle(group, outcomes)

    def _settle(self, group: list[_Entry[T, R]], outcomes: Sequence[R | BaseException]) -> None:
        with self._changed:
            for entry, outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    entry.error = outcome
                else:
                    entry.result = outcome
                entry.done = True
            self._writing = False
            self._changed.notify_all()
