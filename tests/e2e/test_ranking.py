"""Issue 4 acceptance: three stages with advancement, ties at the cut-off, over HTTP."""
from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import urllib.request
from decimal import Decimal

import openpyxl
import pymongo
import pytest
import yaml
from kombu import Connection

from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.messaging.topology import event_exchange
from leitai.readmodel import ReadModel
from leitai.replay import diff, rebuild
from services.ranking import board
from services.ranking.projection import PROJECTION

from tests.e2e.contest_flow import (
    ORG, publish, reference_standings, run_session, wait_for_stage_entries,
)
from tests.support.pipeline import BIN
from tests.support.servers import ChildProcess, Vhost, queue_state, wait_until
from tests.support.stack import SCREEN_TOKEN, eventually, ok

pytestmark = pytest.mark.integration
CONTEST = "county-2021"
TOWNSHIPS = ["ta", "tb", "tc"]
JUDGES = [f"J{n}" for n in range(1, 6)]
CRITERIA = [{"criterion_id": "party", "name": "讲党建", "max": "40", "weight": "1", "step": "0.5"},
            {"criterion_id": "work", "name": "讲工作", "max": "60", "weight": "1", "step": "0.5"}]
DROP = [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}, {"min_sheets": 5, "drop_high": 1, "drop_low": 1}]
CHAIN = [{"kind": "median_total"}, {"kind": "criterion", "criterion_id": "work"}, {"kind": "lot"}]
STAGES = [
    ("prelim", "乡镇初赛", {"per_group": 3, "tiebreak": CHAIN}, [(t, [t]) for t in TOWNSHIPS]),
    ("semi", "县级复赛", {"overall": 5, "tiebreak": CHAIN}, [("county", TOWNSHIPS)]),
    ("final", "县级决赛", {"tiebreak": CHAIN}, [("county", TOWNSHIPS)]),
]


def half_points(rng: random.Random, low: int, high: int) -> str:
    return str(Decimal(rng.randint(low * 2, high * 2)) / 2)


def scores_for(stage: str, entrants: list[str] | None = None):
    """Random sheets; in the semifinal, four entrants score high, two (the "twins") get the
    very same sheets as each other, in the middle, and the rest low. The twins then share
    score, median and criterion means at 5th and 6th place: only the lot can part them."""
    rng = random.Random(f"{stage}-scores")
    ranked = sorted(entrants or [])
    twins = ranked[4:6]

    def sheet(entry: str, judge: str) -> dict:
        if stage != "semi":
            return {"party": half_points(rng, 20, 40), "work": half_points(rng, 35, 60)}
        if entry in twins:
            step = JUDGES.index(judge)
            return {"party": str(25 + step), "work": str(Decimal(45) + Decimal(step) / 2)}
        if ranked.index(entry) < 4:
            return {"party": half_points(rng, 32, 40), "work": half_points(rng, 50, 60)}
        return {"party": half_points(rng, 5, 15), "work": half_points(rng, 20, 40)}
    return sheet, twins


@pytest.fixture(scope="module")
def contest(stack):
    tree = [{"code": "county", "name": "示范县", "level": "county"}]
    for t in [*TOWNSHIPS, "tj"]:
        tree.append({"code": t, "name": f"{t}镇", "level": "township", "parent": "county"})
        tree += [{"code": f"{t}-{n}", "name": f"{t}镇{n}村", "level": "village", "parent": t} for n in range(1, 7)]
    ok(stack.call("PUT", "/regions/county", {"regions": tree}, ORG))
    ok(stack.call("POST", "/contests", {"contest_id": CONTEST, "name": "书记擂台比武", "tree_id": "county",
                                        "county_code": "county", "format": "knockout"}, ORG))
    for order, (stage, name, advancement, groups) in enumerate(STAGES, start=1):
        ok(stack.call("POST", f"/contests/{CONTEST}/stages", {
            "stage_id": stage, "name": name, "order": order, "panel_size": 5, "criteria": CRITERIA, "drop_rule": DROP,
            "advancement": advancement, "lot_seed": f"lot-{stage}-2021",
            "groups": [{"group_id": g, "name": g, "townships": ts} for g, ts in groups]}, ORG))
    for judge in JUDGES:
        ok(stack.call("POST", f"/contests/{CONTEST}/judges", {"judge_id": judge, "name": judge, "township_code": "tj"},
                      ORG))
    ok(stack.call("POST", f"/contests/{CONTEST}/entries", {"entries": [
        {"entry_id": f"e-{t}-{n}", "contestant_id": f"c-{t}-{n}", "name": f"书记{t}{n}", "village_code": f"{t}-{n}",
         "title": "述职"} for t in TOWNSHIPS for n in range(1, 7)]}, ORG))
    return CONTEST


def township(entry: str) -> str:
    return entry.split("-")[1]


def test_three_stages_advance_exactly_as_an_independent_computation_says(stack, contest):
    published, twins = {}, []
    for stage, _, advancement, groups in STAGES:
        entrants = None
        if stage != "prelim":
            entrants = [e["entry_id"] for e in wait_for_stage_entries(stack, contest, stage, 9 if stage == "semi" else 5)]
        sheet_maker, stage_twins = scores_for(stage, entrants)
        if stage == "semi":
            twins = stage_twins
        sheets, locks = {}, []
        for n, (group, _) in enumerate(groups):
            session_sheets, locked = run_session(stack, contest, f"{stage}-{n}", stage, group, JUDGES, sheet_maker)
            sheets |= session_sheets
            locks.append(locked)
        published[stage] = publish(stack, contest, stage, after=locks)
        group_of = {entry: (township(entry) if stage == "prelim" else "county") for entry, _ in sheets}
        expected = reference_standings(sheets, CRITERIA, DROP, group_of, advancement, f"lot-{stage}-2021")
        rows = published[stage]["standings"]
        assert [(r["entry_id"], Decimal(r["stage_score"]), r["advanced"]) for r in rows] == expected, stage
        assert published[stage]["log_positions"]["scoring"] > 0 and len(published[stage]["rule_sha256"]) == 64

    assert sum(r["advanced"] for r in published["prelim"]["standings"]) == 9
    semi = published["semi"]["standings"]
    pair = [r for r in semi if r["entry_id"] in twins]
    assert pair[0]["stage_score"] == pair[1]["stage_score"] and pair[1]["decided_by"] == "lot"
    assert [r["advanced"] for r in semi[:5]] == [True] * 5 and not any(r["advanced"] for r in semi[5:])
    assert [r["position"] for r in pair] == [5, 6]  # the tie sits exactly at the cut-off
    final = published["final"]["standings"]
    assert len(final) == 5 and published["final"]["next_stage_id"] is None
    assert {r["entry_id"] for r in final} == {r["entry_id"] for r in semi if r["advanced"]}


def test_the_public_sees_published_standings_and_organisers_see_them_live(stack, contest):
    public = eventually(stack, f"/contests/{contest}/stages/final/leaderboard")
    assert public["published"] and len(public["standings"]) == 5
    by_group = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard?group=ta", token=SCREEN_TOKEN))
    assert {r["group_id"] for r in by_group["standings"]} == {"ta"} and len(by_group["standings"]) == 6
    by_criterion = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard?criterion=work", token=ORG))
    means = [Decimal(r["criterion_mean"]) for r in by_criterion["standings"]]
    assert means == sorted(means, reverse=True)
    entry = by_group["standings"][0]["entry_id"]
    working = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/entries/{entry}/working"))
    assert len(working["sheets"]) == 5 and len(working["dropped_high"]) == len(working["dropped_low"]) == 1
    assert stack.call("POST", f"/contests/{contest}/stages/final/results", None, ORG)[0] == 409


def replay(stack):
    return subprocess.run([str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), "replay", "ranking",
                           "--verify"], capture_output=True, text=True, timeout=300)


def audit(stack) -> tuple[int, dict]:
    run = subprocess.run([str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), "audit"],
                         capture_output=True, text=True, timeout=300)
    return run.returncode, json.loads(run.stdout)


def test_replay_rebuilds_the_read_model_identically_and_names_a_corrupted_document(stack, contest, store):
    # the live read model converges once the last events are consumed: wait for that, not for a time
    runs = []

    def identical():
        runs.append(replay(stack))
        return runs[-1].returncode == 0

    try:
        wait_until(identical, timeout=60, what="the live read model to equal the rebuilt one")
    except TimeoutError:
        raise AssertionError(runs[-1].stdout[-3000:] + runs[-1].stderr[-2000:]) from None
    assert runs[-1].stdout.strip().endswith("identical")
    code, report = audit(stack)
    assert code == 0 and report["ok"] and set(report["stores"]) == {"registration", "scoring", "ranking"}
    assert all(store_report["ok"] for store_report in report["stores"].values()), report
    assert report["stores"]["registration"]["checked_commits"] > 0, report
    target = store["ranking"].results.find_one({"stage_id": "semi"})
    store["ranking"].results.update_one({"_id": target["_id"]}, {"$set": {"stage_score": "99.99"}})
    run = replay(stack)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"results/{target['_id']}: stage_score: live \"99.99\" != rebuilt \"{target['stage_score']}\"" in run.stdout
    code, report = audit(stack)  # the nightly audit fails loudly on the same difference
    assert code == 1 and not report["ok"] and report["replay"]["differences"] == 1
    assert all(store_report["ok"] for store_report in report["stores"].values())


def test_shuffled_and_duplicated_delivery_gives_the_leaderboard_of_in_order_delivery(stack, contest, store, tmp_path,
                                                                                    mongo_url):
    client = pymongo.MongoClient(mongo_url, tz_aware=True)
    vhost = Vhost().create()
    shuffled_db, in_order_db = client[f"{stack.prefix}_shuffled"], client[f"{stack.prefix}_in_order"]
    config = tmp_path / "ranking-shuffled.yaml"
    config.write_text(yaml.safe_dump({"AMQP_URI": vhost.uri, "MONGO_URL": mongo_url,
                                      "MONGO_DATABASE": shuffled_db.name}))
    ranking = ChildProcess([str(BIN / "nameko"), "run", "--config", str(config), "services.ranking.service:RankingService"],
                           name="ranking-shuffled").start()
    try:
        events = [(source, event) for source, types in PROJECTION.sources.items()
                  for batch in EventStore(MongoCommitLog(store[source]), REGISTRY).read_all() for event in batch if event.type in types]
        rng = random.Random(4)
        deliveries = events + rng.sample(events, len(events) // 4)  # a quarter of them twice
        rng.shuffle(deliveries)
        wait_until(lambda: queue_state(vhost.uri, "evt-scoring-EntryScored--ranking.on_entry_scored")[1],
                   what="the shuffled ranking to consume")
        with Connection(vhost.uri, transport_options={"confirm_publish": True}) as connection, \
                connection.Producer() as producer:
            for source, event in deliveries:
                producer.publish(json.dumps(event.to_wire(REGISTRY)), exchange=event_exchange(source),
                                 routing_key=event.type, content_type="application/json", declare=[],
                                 delivery_mode=2)
        rebuild(PROJECTION, store, in_order_db, REGISTRY)
        wait_until(lambda: not diff(in_order_db, shuffled_db, PROJECTION.collections), timeout=120,
                   what="the shuffled delivery to converge")
        for stage in ("prelim", "semi", "final"):
            tables = [board.table(ReadModel(db), board.stage_doc(ReadModel(db), contest, stage))
                      for db in (in_order_db, shuffled_db)]
            assert tables[0] == tables[1] and len(tables[0]) >= 5
    finally:
        ranking.stop()
        vhost.delete()
        client.drop_database(shuffled_db.name)
        client.drop_database(in_order_db.name)
        client.close()



def test_exports_open_in_excel_and_agree_with_the_leaderboard(stack, contest):
    board_rows = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard", token=ORG))["standings"]
    request = urllib.request.Request(f"{stack.base}/contests/{contest}/stages/prelim/results.xlsx",
                                     headers={"Authorization": f"Bearer {ORG}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        book = openpyxl.load_workbook(io.BytesIO(response.read()))
    results = list(book["成绩"].iter_rows(values_only=True))
    assert results[0][:8] == ("名次", "组内名次", "排序", "选手编号", "姓名", "乡镇", "分组", "最后得分")
    assert [(row[3], Decimal(str(row[7]))) for row in results[1:]] == [
        (r["entry_id"], Decimal(r["stage_score"])) for r in board_rows]
    sheets = list(book["评分表"].iter_rows(values_only=True))
    assert len(sheets) == 1 + 18 * 5 and sheets[0][0] == "场次"

    request = urllib.request.Request(f"{stack.base}/contests/{contest}/stages/prelim/results.csv?kind=sheets",
                                     headers={"Authorization": f"Bearer {ORG}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["场次", "选手编号", "姓名", "评委"] and len(rows) == 1 + 18 * 5
