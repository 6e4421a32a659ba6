"""``make bench-replay``: replay against a raw cursor read of the same logs, at several sizes.

For each size, bench/synthetic.py writes a province-style contest log of that many entrants
into the three source stores of a fresh SecantusDB (or LEITAI_BENCH_MONGO_URL), then:
1. a raw pymongo cursor reads every commit of the three logs in position order (5,000 a batch);
2. ``leitai replay ranking`` rebuilds the ranking read model from them, as an auditor runs it,
   in a process of its own whose peak resident memory is read from the kernel (wait4).
Prints events/s of each, their ratio, peak memory, and a JSON line with every figure. A
benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from bench import preflight
from bench.synthetic import events_for, generate
from leitai.mongo import connect
from testkit.servers import SecantusServer

BIN = Path(sys.executable).parent
SOURCES = ("registration", "scoring", "ranking")


def raw_cursor(dbs: dict) -> tuple[int, float]:
    """Every event of every log, read in position order with a plain cursor: (events, seconds)."""
    started, count = time.perf_counter(), 0
    for db in dbs.values():
        for commit in db.commits.find({"last_position": {"$gt": 0}}, sort=[("last_position", 1)], batch_size=5000):
            count += len(commit["events"])
    return count, time.perf_counter() - started


def leitai_replay(url: str, prefix: str) -> tuple[float, float, int]:
    """(seconds of the rebuild as the command reports it, seconds of the whole process, peak RSS in bytes)."""
    config = Path(tempfile.mkdtemp(prefix="leitai-bench-replay-")) / "ranking.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "MONGO_URL": url,
                "MONGO_DATABASE": f"{prefix}_ranking",
                "LEITAI_SOURCES": {s: f"{prefix}_{s}" for s in SOURCES},
            }
        )
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "leitai"), "--config", str(config), "--log-level", "WARNING", "replay", "ranking"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    err = process.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"leitai replay failed:\n{err}")
    rebuilt = re.search(r" in ([0-9.]+) s,", err)
    return float(rebuilt.group(1)) if rebuilt else wall, wall, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--entrants", type=int, nargs="+", default=[2000, 6000], help="sizes, in entrants (about 9.2 events each)"
    )
    parser.add_argument("--per-county", type=int, default=2000)
    args = parser.parse_args()
    preflight.require(broker=False)
    url = os.environ.get("LEITAI_BENCH_MONGO_URL")
    server = None if url else SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    url = url or server.url
    figures = []
    try:
        client = connect(url, "unjournaled")
        for entrants in args.entrants:
            prefix = f"bench_replay_{uuid.uuid4().hex[:6]}"
            dbs = {s: client[f"{prefix}_{s}"] for s in SOURCES}
            try:
                started = time.perf_counter()
                written = generate(dbs, entrants, args.per_county)
                assert written == events_for(entrants, args.per_county)
                generated = time.perf_counter() - started
                read, raw_s = raw_cursor(dbs)
                replay_s, process_s, peak = leitai_replay(url, prefix)
            finally:
                for name in [*dbs, "ranking_replay"]:
                    client.drop_database(f"{prefix}_{name}")
            row = {
                "entrants": entrants,
                "events": read,
                "generated_eps": round(written / generated),
                "raw_cursor_eps": round(read / raw_s),
                "replay_eps": round(read / replay_s),
                "replay_s": round(replay_s, 2),
                "replay_process_s": round(process_s, 2),
                "ratio": round(raw_s / replay_s, 3),
                "peak_rss_mib": round(peak / 2**20, 1),
            }
            figures.append(row)
            print(
                f"{read:>10,} events: raw cursor {row['raw_cursor_eps']:>8,}/s, "
                f"leitai replay {row['replay_eps']:>7,}/s "
                f"({replay_s:.1f} s; ratio {row['ratio']:.2f}), peak memory {row['peak_rss_mib']:,.0f} MiB",
                flush=True,
            )
        client.close()
    finally:
        if server:
            server.stop()
    if len(figures) > 1:
        first, last = figures[0], figures[-1]
        per_event = last["replay_s"] / last["events"]
        print(
            f"time grows {last['replay_s'] / first['replay_s']:.1f}x for {last['events'] / first['events']:.1f}x "
            f"the events; memory {last['peak_rss_mib'] / first['peak_rss_mib']:.2f}x; at this rate 12.5M events "
            f"replay in about {12.5e6 * per_event / 60:,.0f} min"
        )
    print(json.dumps({"replay": figures}))


if __name__ == "__main__":
    main()
