"""The short round of ``make chaos``: judges score two sessions over HTTP while scoring, its
relay, notify and the gateway are killed in turn, the broker's connections are dropped and the
store is restarted; afterwards nothing is lost, nothing counted twice, every score is as
computed from the accepted sheets, replay and audit pass, no dead letters, every notice
arrived once."""

from __future__ import annotations

import os

import pytest

from testkit import chaos
from testkit.servers import SecantusServer
from testkit.stack import running_stack

pytestmark = pytest.mark.integration
JUDGES = [f"J{n}" for n in range(1, 11)]
# outages are waited out (they use up no attempt); the rest gets a minute of retries
RETRY = {"attempts": 8, "base_delay": "0.2", "factor": 2}


def test_a_short_fault_run_loses_nothing_and_counts_nothing_twice(tmp_path):
    server = SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    try:
        with (
            chaos.notice_sinks(tmp_path) as sinks,
            running_stack(tmp_path, server.url, JUDGES, notify=sinks.settings(), retry=RETRY) as stack,
        ):
            plan = chaos.plan_for(stack, processes=["scoring", "scoring-relay", "notify", "gateway"])
            report = chaos.run(stack, server, sinks, plan)
    finally:
        server.stop()
    print(report.table())
    assert len(report.faults) == len(plan) == 6
    assert report.count("accepted") == len(report.offered) == 135, report.table()
    assert report.clean, report.table()
    # 30 contestants, each told of their entry, their session and their result (judges have no address)
    assert report.notices == {"email": 90, "sms": 90}, report.table()
