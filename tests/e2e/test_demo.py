"""``leitai demo``: the three scenarios run end to end, and the Boai export stands an audit.

Each run is the real command (its own SecantusDB under the test's folder, the services over
RabbitMQ in a vhost of the test's own). The audit recomputes every stage score, rank and
advancement from the export's raw sheets alone, with the reference computation in
contest_flow.py, which shares no code with the services.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from composition.demo.scored import JUDGES_AGAINST_PANELS
from leitai.eventstore.notes import Signer
from testkit.servers import ROOT, Vhost
from tests.e2e.contest_flow import reference_standings
from tests.support.demo import run_demos

pytestmark = pytest.mark.integration


def test_the_boai_demo_prints_each_stage_and_the_final_five(boai):
    output, export = boai[0].output, boai[0].export
    final = export["stages"][-1]
    assert [s["id"] for s in export["stages"]] == ["prelim", "semi", "final"]
    assert len(export["stages"][0]["entries"]) == 206 and len(final["entries"]) == 5
    for stage in export["stages"]:
        assert f"{stage['name']} published" in output
    tail = output[output.index("县级决赛 published") :]
    for entry in final["entries"]:  # the final table lists the five, in order
        assert entry["contestant"] in tail
    assert [tail.index(e["contestant"]) for e in final["entries"]] == sorted(
        tail.index(e["contestant"]) for e in final["entries"]
    )


def test_the_boai_export_is_reproduced_from_its_own_raw_sheets(boai):
    export = boai[0].export
    for stage in export["stages"]:
        audit(stage)
        calibrated(stage)
    assert boai[0].output.count(JUDGES_AGAINST_PANELS) == 3
    semi = export["stages"][1]
    assert any(e["recused"] for e in semi["entries"]), "the semifinal seats township secretaries who stand aside"


def test_the_boai_semifinal_appeal_is_upheld_by_a_correction_two_people_approved(boai):
    output, export = boai[0].output, boai[0].export
    semi = export["stages"][1]
    assert "published again as version 2" in output and semi["published"]["version"] == 2
    (appeal,) = semi["appeals"]
    (correction,) = semi["corrections"]
    assert (appeal["decision"], correction["status"], correction["appeal_id"]) == (
        "upheld",
        "approved",
        appeal["appeal_id"],
    )
    assert correction["proposed_by"] != correction["decided_by"] and correction["cites"]
    first, second = semi["versions"]
    assert (
        second["replaces_sha256"] == first["standings_sha256"]
        and second["correction_id"] == correction["correction_id"]
    )
    # exactly two places swapped, and nobody's advancement changed
    assert len(second["diff"]) == 2 and all(d["before"]["advanced"] == d["after"]["advanced"] for d in second["diff"])
    assert sorted(d["before"]["rank"] for d in second["diff"]) == sorted(d["after"]["rank"] for d in second["diff"])
    # the export's entries are the second version's, and their sheets the corrected ones (audited above)
    assert [(e["entry_id"], e["rank"]) for e in semi["entries"]] == [
        (r["entry_id"], r["rank"]) for r in second["standings"]
    ]
    corrected = next(e for e in semi["entries"] if e["entry_id"] == correction["entry_id"])
    assert next(s for s in corrected["sheets"] if s["judge_id"] == correction["judge_id"])["revision"] == 2


def test_two_runs_with_the_same_seed_export_the_same_thing_whatever_the_transport(boai):
    (rabbit_output, first, _), (memory_output, second, _) = boai
    assert "broker: RabbitMQ at" in rabbit_output and "in-memory transport" in memory_output
    assert first["generated_at"] and second["generated_at"]
    assert without_run_specifics(first) == without_run_specifics(second)


def without_run_specifics(export: dict) -> dict:
    """An export less what differs by run: its time, and the checkpoints its certificates cite
    (each run signs with a key of its own, at seals whose timing is the machine's), also those
    of the certificates a corrected result's replaces."""

    def certificate(cited: dict | None) -> dict | None:
        return cited and {k: certificate(v) if k == "replaces" else v for k, v in cited.items() if k != "checkpoints"}

    stages = [dict(stage, certificate=certificate(stage["certificate"])) for stage in export["stages"]]
    return {k: v for k, v in export.items() if k != "generated_at"} | {"stages": stages}


def test_the_boai_notices_went_out_once_each(boai):
    export = boai[0].export
    notices = export["notifications"]
    assert notices["by_status"] == {"sent": notices["deliveries"]}
    assert notices["by_kind"]["registration_confirmed"]["email:sent"] == 206
    assert notices["outbox"]["mail"] == sum(c.get("email:sent", 0) for c in notices["by_kind"].values())


def published_key(run) -> str:
    """The verifier key the organiser of ``run`` publishes: its demo made the signing key."""
    return Signer.from_file(run.folder / "signing.key").verifier.encoded()


def test_the_qidong_and_lufeng_demos_finish_and_write_their_exports(tmp_path, demo_broker):
    lufeng_broker = Vhost("leitai_demo_test").create()  # the two run at once: a vhost each
    try:
        qidong_run, lufeng_run = run_demos(
            [(tmp_path / "q", "qidong", demo_broker, "7"), (tmp_path / "l", "lufeng", lufeng_broker.uri, "7")]
        )
    finally:
        lufeng_broker.delete()
    (stage,) = qidong_run.export["stages"]
    assert [c["name"] for c in stage["criteria"]][0] == "比站位高度·拼工作成效" and len(stage["entries"]) == 340
    audit(stage)
    (bundle,) = (qidong_run.folder / "bundles").iterdir()  # Qidong's paired weighted criteria, re-derived
    checked = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "verify_bundle.py"), str(bundle), "--key", published_key(qidong_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0 and checked.stdout.startswith("verified"), checked.stdout
    lufeng = lufeng_run.export
    assert {m["series_id"] for m in lufeng["meetings"]} >= {"city-exchange", "forum-jieshi"}
    assert len([m for m in lufeng["meetings"] if m["series_id"] == "city-exchange"]) == 6
    assert all(m["held"] for m in lufeng["meetings"])
    assert len(lufeng["participation"]) == 80
    assert all(p["presented"] for p in lufeng["participation"])
    evaluators = sum(len(m["evaluators"]) for m in lufeng["meetings"])  # each is asked to comment, once
    assert lufeng["notifications"]["by_kind"]["meeting_evaluator"] == {
        "email:sent": evaluators,
        "inbox:sent": evaluators,
        "sms:sent": evaluators,
    }


# -- the audit: nothing but the export ------------------------------------------------------
def calibrated(stage: dict) -> None:
    """Each judge's deviations from the panel's median, summed, from the export's sheets alone
    (docs/calibration.md), against the export's calibration."""
    deviations: dict[str, list[Decimal]] = {}
    for entry in stage["entries"]:
        totals = sorted(Decimal(sheet["total"]) for sheet in entry["sheets"])
        middle = len(totals) // 2
        median = totals[middle] if len(totals) % 2 else (totals[middle - 1] + totals[middle]) / 2
        for sheet in entry["sheets"]:
            deviations.setdefault(sheet["judge_id"], []).append(Decimal(sheet["total"]) - median)
    reported = {j["judge_id"]: j for j in stage["calibration"]["judges"]}
    assert set(reported) == set(deviations)
    for judge, mine in deviations.items():
        assert (reported[judge]["sheets"], Decimal(reported[judge]["deviation_sum"])) == (len(mine), sum(mine))


def audit(stage: dict) -> None:
    criteria = [{"criterion_id": c["id"], "weight": c["weight"]} for c in stage["criteria"]]
    sheets, groups = {}, {}
    for entry in stage["entries"]:
        groups[entry["entry_id"]] = entry["group"]
        totals = {}
        for sheet in entry["sheets"]:
            total = sum(Decimal(c["weight"]) * Decimal(sheet["scores"][c["criterion_id"]]) for c in criteria)
            assert Decimal(sheet["total"]) == total, (entry["entry_id"], sheet)
            sheets[(entry["entry_id"], sheet["judge_id"])] = sheet["scores"]
            totals[sheet["judge_id"]] = total
        tier = max((t for t in stage["drop_rule"] if t["min_sheets"] <= len(totals)), key=lambda t: t["min_sheets"])
        ordered = sorted(totals.values())
        assert sorted(totals[j] for j in entry["dropped"]["low"]) == ordered[: tier["drop_low"]]
        assert sorted(totals[j] for j in entry["dropped"]["high"]) == ordered[len(ordered) - tier["drop_high"] :]
        assert not set(entry["recused"]) & set(totals), "a recused judge's sheet counted"
    expected = reference_standings(
        sheets, criteria, stage["drop_rule"], groups, stage["advancement"], stage["lot_seed"]
    )
    published = [(e["entry_id"], Decimal(e["stage_score"]), e["advanced"]) for e in stage["entries"]]
    assert published == expected
    scores = [score for _, score, _ in expected]
    ranks = [scores.index(score) + 1 for score in scores]  # standard competition ranking: 1, 2, 2, 4
    assert [e["rank"] for e in stage["entries"]] == ranks
