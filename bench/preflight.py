"""Before a benchmark measures anything: the broker and the store it needs answer, or it says
which does not and exits 2, with no traceback. A bench runs against a SecantusDB it starts
itself (LEITAI_SECANTUSD, which make sets) or the store LEITAI_BENCH_MONGO_URL names, and in a
vhost of its own: it never touches another database or vhost."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from composition.localservers import RABBIT_API, rabbit_management


def store_url_or_server() -> str | None:
    """LEITAI_BENCH_MONGO_URL if set (None: start a SecantusDB from LEITAI_SECANTUSD)."""
    return os.environ.get("LEITAI_BENCH_MONGO_URL") or None


def require(*, broker: bool) -> None:
    """Exit 2, naming what is missing, unless the broker (if ``broker``) and the store answer."""
    problems = []
    if broker:
        try:
            rabbit_management("GET", "/overview")
        except Exception as exc:  # noqa: BLE001 - any failure to answer is the same finding
            problems.append(
                f"RabbitMQ's management API at {RABBIT_API} does not answer ({type(exc).__name__}); "
                "start it with `make rabbitmq`"
            )
    url = store_url_or_server()
    if url:
        where = urlsplit(url).hostname or url.split("@")[-1]  # never the credentials
        try:
            with MongoClient(url, serverSelectionTimeoutMS=3000) as client:
                client.admin.command("ping")
        except PyMongoError as exc:
            problems.append(f"the store LEITAI_BENCH_MONGO_URL names ({where}) does not answer ({type(exc).__name__})")
    elif not os.path.exists(os.environ.get("LEITAI_SECANTUSD", "")):
        problems.append(
            "no store: set LEITAI_SECANTUSD to a secantusd-py (make bench does) or LEITAI_BENCH_MONGO_URL to a MongoDB"
        )
    if problems:
        print("leitai bench: " + "; ".join(problems), file=sys.stderr)
        sys.exit(2)
