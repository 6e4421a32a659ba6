"""The venue's big screen: a static page and a server-sent-events stream of the stage's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import eventlet
from nameko.standalone.rpc import ClusterRpcProxy

PAGE = (Path(__file__).parent / "static" / "live.html").read_bytes()
POLL_S = 0.2  # how stale the screen may be beyond the events' own way to the read model
KEEPALIVE_S = 15


def stream(config: dict, contest_id: str, stage_id: str) -> Iterator[bytes]:
    """Server-sent events: the live state whenever it changes, a comment line to keep the
    connection open otherwise. Runs after the request's worker has finished, hence its own
    RPC proxy."""
    with ClusterRpcProxy(config) as rpc:
        last, quiet = None, 0.0
        while True:
            # The state itself, not a log position, says whether anything changed: events of one
            # commit are projected in parallel, so the highest position can arrive first.
            state = json.dumps(rpc.ranking.live(contest_id, stage_id), ensure_ascii=False, default=str, sort_keys=True)
            if state != last:
                last, quiet = state, 0.0
                yield f"data: {state}\n\n".encode()
            elif quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield b": keep-alive\n\n"
            eventlet.sleep(POLL_S)
            quiet += POLL_S
