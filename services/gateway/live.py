"""The venue's big screen: a static page and a server-sent-events stream of the stage's state.

However many screens watch a stage, the process polls its state once: one ``Board`` per stage
(one RPC proxy, one poll every ``POLL_S``, each with a deadline) feeds every open stream of it,
and stops when the last one closes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ClusterRpcProxy

from leitai import metrics
from leitai.rpc import DEADLINE

log = logging.getLogger(__name__)
PAGE = (Path(__file__).parent / "static" / "live.html").read_bytes()
POLL_S = 0.2  # how stale the screen may be beyond the events' own way to the read model
POLL_DEADLINE_S = 2.0  # one poll's: a ranking that does not answer by then is asked again at the next
KEEPALIVE_S = 15


class Source(Protocol):
    """A stage's live state, asked for with a deadline (``close``: let go of the connection)."""

    def live(self, contest_id: str, stage_id: str) -> dict: ...

    def close(self) -> None: ...


class Board:
    """One stage's live state in this process, polled by one green thread while anyone watches."""

    def __init__(self, key: tuple[str, str], source: Source, poll_s: float, gone: Callable[[Board], None]) -> None:
        self.key, self.source, self.poll_s, self._gone = key, source, poll_s, gone
        self.state: str | None = None  # the latest state, as the event's data
        self.version = 0  # how many times it changed
        self.watchers = 0
        self.polls = 0
        self.failing = False
        self.changed = Event()  # sent (and replaced) at each change
        self.thread: Any = None

    def poll(self) -> None:
        """Ask once; a changed state wakes every stream."""
        self.polls += 1
        try:
            found = self.source.live(*self.key)
        except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - the screens keep what they have
            if not self.failing:  # once, not five times a second
                log.warning(
                    "live: no state from ranking; asking again at each poll",
                    extra={"stage": "/".join(self.key), "error": type(exc).__name__},
                )
            self.failing = True
            return
        self.failing = False
        # The state itself, not a log position, says whether anything changed: events of one
        # commit are projected in parallel, so the highest position can arrive first.
        state = json.dumps(found, ensure_ascii=False, default=str, sort_keys=True)
        if state != self.state:
            self.state, self.version = state, self.version + 1
            changed, self.changed = self.changed, Event()
            changed.send()

    def run(self) -> None:
        try:
            while self.watchers:
                self.poll()
                eventlet.sleep(self.poll_s)
        finally:
            self._gone(self)  # before anything that yields: a new watcher makes a new board
            self.source.close()


class Stream:
    """One screen's server-sent events: the state whenever it changes, a comment line to keep
    the connection open otherwise. An iterator with ``close`` (the WSGI server calls it when the
    screen goes away), which lets go of its board and of the client's stream (``release``)."""

    def __init__(self, board: Board, keepalive_s: float, release: Callable[[], None]) -> None:
        self.board, self.keepalive_s, self._release = board, keepalive_s, release
        self.seen = 0
        self.closed = False
        board.watchers += 1
        metrics.GATEWAY_LIVE_STREAMS.inc()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> bytes:
        if self.closed:
            raise StopIteration
        if self.board.version == self.seen:
            self.board.changed.wait(self.keepalive_s)
        if self.board.version == self.seen or self.board.state is None:
            return b": keep-alive\n\n"
        self.seen = self.board.version
        return f"data: {self.board.state}\n\n".encode()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.board.watchers -= 1
            metrics.GATEWAY_LIVE_STREAMS.dec()
            self._release()


class Boards:
    """Every watched stage's ``Board`` in this process; ``source()`` makes each its own source."""

    def __init__(self, source: Callable[[], Source], poll_s: float = POLL_S, keepalive_s: float = KEEPALIVE_S) -> None:
        self._source, self.poll_s, self.keepalive_s = source, poll_s, keepalive_s
        self.boards: dict[tuple[str, str], Board] = {}

    def stream(self, contest_id: str, stage_id: str, release: Callable[[], None] = lambda: None) -> Stream:
        key = (contest_id, stage_id)
        board = self.boards.get(key)
        if board is None:
            board = self.boards[key] = Board(key, self._source(), self.poll_s, self._gone)
            metrics.GATEWAY_LIVE_BOARDS.inc()
        watching = Stream(board, self.keepalive_s, release)
        if board.thread is None:
            board.thread = eventlet.spawn(board.run)
        return watching

    def _gone(self, board: Board) -> None:
        if self.boards.get(board.key) is board:
            del self.boards[board.key]
            metrics.GATEWAY_LIVE_BOARDS.dec()

    def stop(self) -> None:
        for board in list(self.boards.values()):
            if board.thread is not None:
                board.thread.kill()


class _Ranking:
    """ranking.live over an RPC proxy of the board's own, each request with a deadline (the
    ranking service drops one that arrives after it), made again after any failure."""

    def __init__(self, config: dict, deadline_s: float = POLL_DEADLINE_S) -> None:
        self.config, self.deadline_s = config, deadline_s
        self.context: dict[str, str] = {}  # the proxy's requests' headers: the deadline
        self.cluster: ClusterRpcProxy | None = None
        self.proxy: Any = None

    def live(self, contest_id: str, stage_id: str) -> dict:
        with eventlet.Timeout(self.deadline_s):
            try:
                if self.proxy is None:
                    self.cluster = ClusterRpcProxy(self.config, context_data=self.context, timeout=self.deadline_s)
                    self.proxy = self.cluster.start()
                self.context[DEADLINE] = f"{time.time() + self.deadline_s:.3f}"
                state: dict = self.proxy.ranking.live(contest_id, stage_id)
                return state
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        cluster, self.cluster, self.proxy = self.cluster, None, None
        if cluster is not None:
            try:
                cluster.stop()
            except Exception:  # noqa: BLE001 - a connection that is gone already
                log.debug("live: closing a broken proxy failed", exc_info=True)


class Screens(DependencyProvider):
    """The process's ``Boards`` (one poller per watched stage, shared by every stream of it)."""

    def setup(self) -> None:
        config = self.container.config
        self.boards = Boards(lambda: _Ranking(config))

    def stop(self) -> None:
        self.boards.stop()

    def kill(self) -> None:
        self.boards.stop()

    def get_dependency(self, worker_ctx) -> Boards:
        return self.boards
