"""A smoke run of every benchmark (make bench, bench-replay, bench-store, bench-partitions,
load) at tiny sizes: a contract or API change that breaks one fails here, not weeks later in
someone's make bench.
The figures themselves are no test's business (they are measured by make bench, as ratios
within one run); these check that each run completes and reports every figure it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from testkit.servers import ROOT

pytestmark = pytest.mark.integration


def run(module: str, *args: str) -> dict:
    """The benchmark's last line: the JSON summary every bench prints."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_make_bench_measures_every_path_and_its_ratios():
    summary = run("bench.pipeline", "--events", "150", "--streams", "5", "--appenders", "2", "--entrants", "40")
    assert set(summary["ratios"]) == {
        "pipeline_vs_kombu",
        "pipeline_vs_insert_one",
        "appends_vs_insert_one",
        "replay_vs_cursor",
        "pipeline_store_cpu_vs_insert_one",
        "sequence_and_publish_store_cpu_vs_insert_one",
        "consume_store_cpu_vs_insert_one",
    }
    assert all(value > 0 for value in summary["ratios"].values())
    for path in ("leitai_pipeline_journaled", "leitai_stage_sequence_and_publish", "leitai_stage_consume"):
        figures = summary["figures"][path]
        assert figures["eps"] > 0 and figures["store_cpu_ms_per_event"] > 0 and figures["command_per_event"] > 0
    assert summary["figures"]["leitai_appends"]["insert_per_event"] > 0


def test_make_bench_replay_replays_a_synthetic_log_and_says_how_fast():
    (figure,) = run("bench.replay", "--entrants", "60", "--per-county", "30")["replay"]
    assert figure["entrants"] == 60 and figure["events"] > 60 * 5
    assert figure["replay_eps"] > 0 and figure["raw_cursor_eps"] > 0 and figure["peak_rss_mib"] > 0


def test_make_bench_store_costs_every_command_it_names():
    summary = run("bench.storeops", "--documents", "100")
    assert summary["documents"] == 100 and len(summary["figures"]) == 13
    assert all(f["store_cpu_ms_per_doc"] >= 0 and f["wall_ms_per_doc"] > 0 for f in summary["figures"].values())


def test_make_bench_partitions_runs_the_pipeline_on_each_partition_count():
    summary = run("bench.partitions", "--partitions", "1", "2", "--events", "80", "--streams", "4", "--appenders", "2")
    assert set(summary["partitions"]) == {"1", "2"}
    assert all(f["eps"] > 0 and f["store_cpu_ms_per_event"] > 0 for f in summary["partitions"].values())


def test_make_load_scores_over_http_and_reports_latencies():
    summary = run("bench.load", "--judges", "5", "--rates", "3", "--seconds", "2", "--workers", "4")
    (step,) = summary["load"]
    assert step["sheets"] == 6 and step["errors"] == 0 and step["not_shown"] == 0
    assert 0 < step["accepted_p99_ms"] and 0 < step["visible_p99_ms"]


@pytest.mark.parametrize(
    "module", ["bench.pipeline", "bench.replay", "bench.storeops", "bench.partitions", "bench.load"]
)
def test_a_benchmark_whose_store_is_not_there_says_so_and_exits_2(module):
    env = dict(os.environ, LEITAI_BENCH_MONGO_URL="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500")
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the store LEITAI_BENCH_MONGO_URL names (127.0.0.1) does not answer" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("module", ["bench.pipeline", "bench.partitions", "bench.load"])
def test_a_benchmark_whose_broker_is_not_there_says_so_and_exits_2(module):
    env = dict(os.environ, LEITAI_RABBIT_API="http://127.0.0.1:9/api")
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "RabbitMQ's management API at http://127.0.0.1:9/api does not answer" in done.stderr
    assert "Traceback" not in done.stderr
