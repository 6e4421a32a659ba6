"""A person's contact data against the real Mongo-protocol server (docs/privacy.md): kept in the
vault, never in the log; `leitai privacy erase` recorded once and idempotent, refusing an
unknown person or another office's contest with nothing changed; `export`; the offices'
retention with its dry run; and the migration of contact data out of events written before
the vault."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from composition.cli import main
from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import COMMITS, MongoCommitLog, ensure_indexes
from leitai.vault import MongoPersonalData
from services.registration.application import Registration
from services.registration.grants import GrantStore
from services.registration.privacy import Privacy

pytestmark = pytest.mark.integration
CONTACT = {"email": "zhangsan@example.cn", "phone": "13912345678"}
OFFICE = {"name": "博爱县委组织部", "email": "zzb@example.cn", "phone": "03918888888"}


@pytest.fixture
def registered(monkeypatch, mongo_url, db):
    """Registration's database and the vault (beside it: dropped with it), with contest
    boai-2026 of office boai, its organising office's contact and judge J1's."""
    monkeypatch.setenv("MONGO_URL", mongo_url)
    monkeypatch.setenv("MONGO_DATABASE", db.name)
    monkeypatch.setenv("LEITAI_PERSONAL_DATABASE", db.name)
    monkeypatch.setenv("LEITAI_ENVIRONMENT", "test")
    ensure_indexes(db)
    vault = MongoPersonalData.opened(db)
    registration = Registration(EventStore(MongoCommitLog(db), REGISTRY), lambda: "seed", GrantStore(db), vault)
    operator = {"role": "organiser", "id": "op", "deployment": True}
    registration.import_regions(
        operator, "boai", [{"code": "boai", "name": "博爱县", "level": "county", "parent": None}]
    )
    contest = {"contest_id": "boai-2026", "name": "擂台比武", "tree_id": "boai", "county_code": "boai"}
    registration.create_contest(operator, dict(contest, format="knockout", organiser=OFFICE))
    registration.register_judge(operator, "boai-2026", {"judge_id": "J1", "name": "张三", **CONTACT})
    registration.register_judge(operator, "boai-2026", {"judge_id": "J2", "name": "李四"})
    return db, vault


def stored_text(db) -> str:
    """Every event registration's log holds, as stored."""
    return json.dumps([c["events"] for c in db[COMMITS].find()], ensure_ascii=False, default=str)


def test_contact_data_is_in_the_vault_and_not_in_the_log(registered):
    db, vault = registered
    assert "13912345678" not in stored_text(db) and "@example.cn" not in stored_text(db)
    assert "张三" in stored_text(db)  # names are published with the results: they stay in the log
    assert {k: vault.contact("boai-2026", "judge-J1")[k] for k in CONTACT} == CONTACT
    assert {k: vault.contact("boai-2026", "organiser")[k] for k in CONTACT} == {k: OFFICE[k] for k in CONTACT}


def test_erasure_is_recorded_without_the_data_done_once_and_reported_the_second_time(registered, capsys):
    db, vault = registered
    erase = ["privacy", "erase", "judge-J1", "--contest", "boai-2026", "--office", "boai"]
    assert main([*erase, "--reason", "本人2026-12-01来函申请删除", "--by", "org1"]) == 0
    assert "erased the contact data of judge-J1 of contest boai-2026" in capsys.readouterr().out
    kept = vault.contact("boai-2026", "judge-J1")
    assert not set(CONTACT) & set(kept) and kept["erased"]["by"] == "org1"
    [erasure] = EventStore(MongoCommitLog(db), REGISTRY).read_stream("privacy-boai-2026")
    assert erasure.type == "PersonalDataErased" and erasure.actor == "org1"
    assert erasure.payload == {
        "contest_id": "boai-2026",
        "person": "judge-J1",
        "office": "boai",
        "erased_by": "org1",
        "reason": "本人2026-12-01来函申请删除",
    }
    assert "13912345678" not in stored_text(db) and "zhangsan@" not in stored_text(db)

    before = stored_text(db)
    assert main([*erase, "--reason", "again", "--by", "org2"]) == 0
    assert "was erased already, on " in capsys.readouterr().out
    assert stored_text(db) == before and vault.contact("boai-2026", "judge-J1") == kept


@pytest.mark.parametrize(
    ("person", "office", "said"),
    [
        ("judge-J9", "boai", "judge-J9 未参加比武 boai-2026：未作任何更改"),
        ("judge-J1", "qidong", "比武 boai-2026 不属于 qidong 的组织部门：未作任何更改"),
        ("J1", "boai", "J1 不是人员编号"),
    ],
)
def test_an_unknown_person_or_another_offices_contest_is_refused_in_chinese_and_nothing_changes(
    registered, capsys, person, office, said
):
    db, vault = registered
    before, kept = stored_text(db), vault.contact("boai-2026", "judge-J1")
    which = ["--contest", "boai-2026", "--office", office]
    for command in (["erase", person, *which, "--reason", "请求", "--by", "org1"], ["export", person, *which]):
        assert main(["privacy", *command]) == 2
        assert said in capsys.readouterr().err
    assert stored_text(db) == before and vault.contact("boai-2026", "judge-J1") == kept


def test_a_reason_or_name_holding_contact_data_is_refused_since_it_would_be_recorded_for_good(registered, capsys):
    db, vault = registered
    before, kept = stored_text(db), vault.contact("boai-2026", "judge-J1")
    erase = ["privacy", "erase", "judge-J1", "--contest", "boai-2026", "--office", "boai"]
    for given in (
        ["--reason", "本人来电 13912345678 申请", "--by", "org1"],
        ["--reason", "申请", "--by", "a@b.example.cn"],
    ):
        assert main([*erase, *given]) == 2
        assert "删除人和删除理由将永久记录" in capsys.readouterr().err
    assert stored_text(db) == before and vault.contact("boai-2026", "judge-J1") == kept


def test_a_person_gets_everything_leitai_holds_about_them_and_after_erasure_no_contact(registered, tmp_path, capsys):
    export = ["privacy", "export", "judge-J1", "--contest", "boai-2026", "--office", "boai"]
    assert main(export) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["contact"] == {"name": "张三", **CONTACT} and held["erased"] is None
    assert [e["type"] for e in held["events"]] == ["JudgeRegistered"]
    assert held["events"][0]["payload"]["name"] == "张三"

    assert main(["privacy", "erase", "judge-J1", "--contest", "boai-2026", "--office", "boai", "--reason", "r"]) == 0
    capsys.readouterr()
    assert main([*export, "-o", str(tmp_path / "j1.json")]) == 0
    held = json.loads((tmp_path / "j1.json").read_text(encoding="utf-8"))
    assert held["contact"] == {"name": "张三"} and held["erased"]["reason"] == "r"


def test_retention_lists_in_a_dry_run_and_erases_once_a_contest_is_past_it(registered, capsys):
    db, vault = registered
    assert main(["privacy", "retention", "--office", "boai", "--days", "30", "--by", "org1"]) == 0
    assert main(["privacy", "retention", "--dry-run"]) == 0
    assert capsys.readouterr().out.endswith("would erase 0 person(s) (dry run: nothing changed)\n")

    privacy = Privacy(EventStore(MongoCommitLog(db), REGISTRY), vault, db)
    later = datetime.now(UTC) + timedelta(days=31)
    before = stored_text(db)
    due = privacy.retention(later, dry_run=True)
    assert sorted(d["person"] for d in due) == ["judge-J1", "organiser"]
    assert stored_text(db) == before and "email" in vault.contact("boai-2026", "judge-J1")

    assert sorted(d["person"] for d in privacy.retention(later, dry_run=False)) == ["judge-J1", "organiser"]
    for person in ("judge-J1", "organiser"):
        assert vault.contact("boai-2026", person)["erased"]["by"] == "retention"
    assert privacy.retention(later, dry_run=False) == []  # nobody is left to erase


def test_migration_copies_contact_data_of_old_events_into_the_vault_once_and_never_back_after_erasure(registered):
    db, vault = registered
    old = {"contest_id": "boai-2026", "judge_id": "J7", "name": "王五", "email": "wangwu@example.cn", "phone": "139"}
    erased = dict(old, judge_id="J8", email="erased@example.cn")
    for n, payload in enumerate((old, erased), start=1):  # as leitai wrote them before the vault
        event = {"event_id": str(uuid.uuid4()), "type": "JudgeRegistered", "schema_version": 1, "payload": payload}
        db[COMMITS].insert_one({"_id": f"legacy-{n}@{1:012d}", "stream_id": f"legacy-{n}", "events": [event]})
    vault.mark_erased("boai-2026", "boai", "judge-J8", "org1", "本人申请", datetime.now(UTC))
    privacy = Privacy(EventStore(MongoCommitLog(db), REGISTRY), vault, db)
    assert privacy.migrate() == 1
    assert vault.contact("boai-2026", "judge-J7")["email"] == "wangwu@example.cn"
    assert vault.contact("boai-2026", "judge-J7")["office"] == "boai"
    assert "email" not in vault.contact("boai-2026", "judge-J8")
    assert privacy.migrate() == 0
