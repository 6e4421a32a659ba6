"""``make bench-partitions``: the pipeline over 1 and then 2 partitions, each a whole log.

docs/architecture.md (Scaling past one machine) partitions the logs by organising office, each
partition with its own store, sequencer, relay and consumers. For each partition count P this
runs ``make bench``'s pipeline (append -> relay -> batch consumer, journaled) on P partitions side by
side: each on a SecantusDB of its own (as each would be on a shard of its own), or in a database of
its own on LEITAI_BENCH_MONGO_URL, and in a vhost of its own; the events and the appenders are split
evenly over the partitions and appended at once. Prints events/s for each P, its ratio to one
partition, the store CPU per event summed over the partitions' servers, and a JSON line. On one
machine every partition shares its cores: the ratio says how much the design leaves to the
hardware, not what a cluster of machines would do. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from bench import preflight
from bench.pipeline import Pipeline, append_all, process_cpu_seconds
from testkit.servers import SecantusServer, Vhost, wait_until


def run(partitions: int, n: int, streams: int, appenders: int) -> dict[str, float]:
    url = preflight.store_url_or_server()
    servers = [] if url else [SecantusServer(os.environ["LEITAI_SECANTUSD"]).start() for _ in range(partitions)]
    vhosts = [Vhost(f"leitai_bench_p{p}").create() for p in range(partitions)]
    pipelines: list[Pipeline] = []
    try:
        for p, vhost in enumerate(vhosts):
            pipelines.append(Pipeline(servers[p].url if servers else url, vhost.uri, "journaled"))
        for pipeline in pipelines:
            pipeline.start_consumer()
            pipeline.start_relay()
        cpu = [process_cpu_seconds(s.process.pid) for s in servers]
        started = time.perf_counter()
        with ThreadPoolExecutor(partitions) as pool:
            totals = list(
                pool.map(
                    lambda pipeline: append_all(
                        pipeline.store, n // partitions, streams // partitions, max(1, appenders // partitions)
                    ),
                    pipelines,
                )
            )
        for pipeline, total in zip(pipelines, totals, strict=True):
            wait_until(
                lambda pipeline=pipeline, total=total: pipeline.applied() >= total,
                timeout=600,
                interval=0.05,
                what="every event applied",
            )
        seconds = time.perf_counter() - started
        used = sum(process_cpu_seconds(s.process.pid) - c for s, c in zip(servers, cpu, strict=True))
        events = sum(totals)
        return {"eps": events / seconds, **({"store_cpu_ms_per_event": used * 1000 / events} if servers else {})}
    finally:
        for pipeline in pipelines:
            pipeline.close()
        for vhost in vhosts:
            vhost.delete()
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--appenders", type=int, default=4, help="in all, split over the partitions")
    args = parser.parse_args()
    preflight.require(broker=True)
    figures = {}
    for partitions in args.partitions:
        figures[partitions] = run(partitions, args.events, args.streams, args.appenders)
        figure = figures[partitions]
        cpu = figure.get("store_cpu_ms_per_event")
        print(
            f"{partitions} partition(s): {figure['eps']:8,.0f} events/s"
            + (f" ({figure['eps'] / figures[1]['eps']:.2f}x one partition)" if 1 in figures else "")
            + (f", store CPU {cpu:.2f} ms/event" if cpu is not None else ""),
            flush=True,
        )
    print(json.dumps({"partitions": {str(p): {k: round(v, 3) for k, v in f.items()} for p, f in figures.items()}}))


if __name__ == "__main__":
    main()
