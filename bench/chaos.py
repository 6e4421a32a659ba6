"""``make chaos``: the fault run of testkit/chaos.py, long: every process killed in turn,
the broker's connections dropped and the store restarted, for ``--rounds`` rounds, with one
replica of each service and relay and then two. Prints a table a run; exits 1 if any run lost,
duplicated or miscounted anything. Like the bench it measures, it asserts nothing itself."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from testkit import chaos
from testkit.servers import SecantusServer
from testkit.stack import running_stack

JUDGES = [f"J{n}" for n in range(1, 11)]
RETRY = {"attempts": 8, "base_delay": "0.2", "factor": 2}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--pace", type=float, default=1.0, help="new sheets a second (faults fall among them)")
    args = parser.parse_args()
    clean = True
    for replicas in args.replicas:
        server = SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
        try:
            folder = Path(tempfile.mkdtemp(prefix="leitai-chaos-"))
            with (
                chaos.notice_sinks(folder) as sinks,
                running_stack(
                    folder, server.url, JUDGES, notify=sinks.settings(), replicas=replicas, retry=RETRY
                ) as stack,
            ):
                report = chaos.run(
                    stack, server, sinks, chaos.plan_for(stack, args.rounds), seed=args.seed, pace=args.pace
                )
        finally:
            server.stop()
        print(f"leitai chaos: {'clean' if report.clean else 'NOT CLEAN'}\n{report.table()}", flush=True)
        clean &= report.clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
