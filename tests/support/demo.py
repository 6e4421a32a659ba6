"""``leitai demo`` as a user runs it, for the tests that check what it prints and writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple


class DemoRun(NamedTuple):
    output: str
    export: dict
    folder: Path  # the scenario's workdir: export.json, bundles/, signing.key, outbox/


def run_demo(workdir: Path, scenario: str, amqp_uri: str, seed: str = "2021") -> DemoRun:
    env = {k: v for k, v in os.environ.items() if k != "MONGO_URL"} | {"AMQP_URI": amqp_uri}
    done = subprocess.run(
        [sys.executable, "-m", "composition.cli", "demo", scenario, "--seed", seed, "--workdir", str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    folder = workdir / scenario
    return DemoRun(done.stdout, json.loads((folder / "export.json").read_text(encoding="utf-8")), folder)


def run_demos(runs: list[tuple[Path, str, str, str]]) -> list[DemoRun]:
    """Several runs side by side (each is its own processes, store and vhost or transport):
    (workdir, scenario, amqp_uri, seed) each, results in the same order."""
    with ThreadPoolExecutor(len(runs)) as pool:
        return list(pool.map(lambda run: run_demo(*run), runs))
