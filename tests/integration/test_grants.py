"""Minted grants in registration's database, against the real Mongo-protocol server: kept by
their tokens' digests and never the tokens, letting in until they expire or are revoked; and
``leitai grant mint|list|revoke`` writing and reading them there."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
import segno
from pymongo.errors import DuplicateKeyError

from composition.cli import main
from leitai.contracts.product import REGISTRY
from leitai.errors import InvalidInput, NotFound
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.grants import MINTED_TOKEN
from leitai.vault import MongoPersonalData
from services.registration.application import Registration
from services.registration.grants import GrantStore, digest_of

pytestmark = pytest.mark.integration
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
JUDGE = {"role": "judge", "id": "J1", "contest": "boai-2026"}


def everything_stored(db) -> str:
    return json.dumps([list(db[name].find()) for name in db.list_collection_names()], default=str, ensure_ascii=False)


def test_a_grant_lets_its_token_in_by_digest_until_it_expires_and_the_token_is_never_stored(db):
    store = GrantStore.opened(db)
    minted = store.mint(JUDGE, label="张三", by="org1", days=30, now=T0)
    assert MINTED_TOKEN.fullmatch(minted.token) and re.fullmatch(r"grant-[0-9a-f]{12}", minted.grant_id)
    assert minted.expires_at == "2026-07-01T09:00:00Z" and minted.grant == JUDGE
    record = db.grants.find_one({"_id": minted.grant_id})
    assert record["digest"] == digest_of(minted.token)
    assert {k: record[k] for k in ("role", "id", "contest", "label", "minted_by", "minted_at")} == {
        **JUDGE,
        "label": "张三",
        "minted_by": "org1",
        "minted_at": "2026-06-01T09:00:00Z",
    }
    stored = everything_stored(db)
    assert minted.token not in stored and minted.token[3:] not in stored

    digest = digest_of(minted.token)
    actor = {**JUDGE, "grant_id": minted.grant_id}
    assert store.holder(digest, T0) == actor
    assert store.holder(digest, T0 + timedelta(days=30) - timedelta(seconds=1)) == actor
    assert store.holder(digest, T0 + timedelta(days=30)) is None  # expired: at expires_at, not after
    assert store.holder(digest_of("lt_" + "x" * 43), T0) is None  # no such grant
    assert store.holder(minted.token, T0) is None  # the token is no digest
    assert store.holder("'$where': 1", T0) is None

    # the digest is unique: one grant for one token, whatever writes the collection
    with pytest.raises(DuplicateKeyError):
        db.grants.insert_one({"_id": "grant-000000000000", "digest": digest})


def test_a_revoked_grant_lets_no_one_in_and_revoking_again_changes_nothing(db):
    store = GrantStore.opened(db)
    minted = store.mint(JUDGE, label="张三", by="org1", days=30, now=T0)
    kept = store.mint({"role": "judge", "id": "J2", "contest": "boai-2026"}, label="", by="org1", days=30, now=T0)
    revoked, now = store.revoke(minted.grant_id, "org1", "left the panel", now=T0 + timedelta(hours=1))
    assert now and revoked["revoked_at"] == "2026-06-01T10:00:00Z"
    assert (revoked["revoked_by"], revoked["revoke_reason"]) == ("org1", "left the panel")
    assert store.holder(digest_of(minted.token), T0 + timedelta(hours=1)) is None
    assert store.holder(digest_of(kept.token), T0 + timedelta(hours=1))["id"] == "J2"  # only that one

    again, now = store.revoke(minted.grant_id, "org2", "another reason", now=T0 + timedelta(hours=2))
    assert not now and again == revoked  # as it was revoked the first time
    with pytest.raises(NotFound, match="no grant grant-ffffffffffff"):
        store.revoke("grant-ffffffffffff", "org1", "typo")
    with pytest.raises(InvalidInput) as refused:
        store.revoke(kept.grant_id, " ", "")
    assert set(refused.value.details) == {"revoked_by", "reason"}


def test_grants_are_listed_by_contest_or_office_without_digests_and_refused_when_malformed(db):
    store = GrantStore.opened(db)
    later = [T0 + timedelta(seconds=n) for n in range(3)]
    judge = store.mint(JUDGE, label="张三", by="org1", days=1, now=later[0])
    office = store.mint(
        {"role": "organiser", "id": "org2", "office": "boai"}, label="", by="op", days=366, now=later[1]
    )
    everywhere = store.mint(
        {"role": "supervisor", "id": "s1", "deployment": True}, label="", by="op", days=7, now=later[2]
    )
    listed = store.list()
    assert [g["grant_id"] for g in listed] == [judge.grant_id, office.grant_id, everywhere.grant_id]  # oldest first
    assert all("digest" not in g and "_id" not in g for g in listed)
    assert [g["grant_id"] for g in store.list(contest="boai-2026")] == [judge.grant_id]
    assert [g["grant_id"] for g in store.list(office="boai")] == [office.grant_id]
    assert store.list(contest="elsewhere") == []
    assert listed[2]["deployment"] is True and "contest" not in listed[2]

    for grant, days, fields in [
        ({"role": "judge", "id": "J1", "office": "boai"}, 30, {"contest"}),
        ({"role": "chair", "id": "J1", "contest": "c"}, 30, {"role"}),
        ({"role": "judge", "id": "J1", "contest": "c"}, 0, {"days"}),
        ({"role": "judge", "id": "J1", "contest": "c"}, 367, {"days"}),
    ]:
        with pytest.raises(InvalidInput) as refused:
            store.mint(grant, label="", by="org1", days=days, now=T0)
        assert fields <= set(refused.value.details), refused.value.details
    for label in ("\x1b[2J张三", "x" * 201):  # what would garble a terminal's listing, or fill it
        with pytest.raises(InvalidInput) as refused:
            store.mint(JUDGE, label=label, by="org1", days=1, now=T0)
        assert set(refused.value.details) == {"label"}
    assert len(store.list()) == 3  # nothing written by a refusal


# -- the command --------------------------------------------------------------------------------
@pytest.fixture
def registration_db(monkeypatch, mongo_url, db):
    """Registration's database with contest boai-2026 and its judge J1 registered (a grant for a
    contest or a judge that is not there is refused)."""
    monkeypatch.setenv("MONGO_URL", mongo_url)
    monkeypatch.setenv("MONGO_DATABASE", db.name)
    monkeypatch.setenv("LEITAI_ENVIRONMENT", "test")
    ensure_indexes(db)
    vault = MongoPersonalData.opened(db)  # its collections beside registration's: dropped with them
    registration = Registration(EventStore(MongoCommitLog(db), REGISTRY), lambda: "seed", GrantStore(db), vault)
    operator = {"role": "organiser", "id": "op", "deployment": True}
    registration.import_regions(
        operator, "boai", [{"code": "boai", "name": "博爱县", "level": "county", "parent": None}]
    )
    contest = {
        "contest_id": "boai-2026",
        "name": "擂台比武",
        "tree_id": "boai",
        "county_code": "boai",
        "format": "knockout",
    }
    registration.create_contest(operator, contest)
    registration.register_judge(operator, "boai-2026", {"judge_id": "J1", "name": "张三", "township_code": None})
    return db


def test_leitai_grant_refuses_a_contest_or_a_judge_that_is_not_registered(registration_db, capsys):
    store = GrantStore(registration_db)
    assert main(["grant", "mint", "--role", "judge", "--id", "J1", "--contest", "boai-2062", "--by", "op"]) == 2
    assert "--contest boai-2062: no such contest in this database" in capsys.readouterr().err
    assert main(["grant", "mint", "--role", "judge", "--id", "J9", "--contest", "boai-2026", "--by", "op"]) == 2
    assert "--id J9: no judge of that id is registered in contest boai-2026" in capsys.readouterr().err
    assert store.list() == []


def test_leitai_grant_mints_a_judge_in_lists_and_revokes_it(registration_db, tmp_path, capsys):
    store = GrantStore(registration_db)
    qr = tmp_path / "j1.png"
    assert (
        main(
            [
                *("grant", "mint", "--role", "judge", "--id", "J1", "--contest", "boai-2026", "--label", "张三"),
                *("--days", "30", "--base-url", "https://leitai.example.gov.cn/", "--qr", str(qr), "--by", "org1"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    grant_id = re.search(r"^minted (grant-[0-9a-f]{12}): judge J1 of contest boai-2026 \(张三\), until ", out, re.M)[1]
    token = re.search(r"^token \(shown this once: only its digest is kept\): (lt_\S+)$", out, re.M)[1]
    link = f"https://leitai.example.gov.cn/judge#token={token}"
    assert f"\nsign-in link: {link}\n" in out
    drawn = io.StringIO()
    segno.make_qr(link, error="m").terminal(out=drawn, compact=True, border=2)
    assert drawn.getvalue() in out  # the QR code of that link
    assert qr.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(os.stat(qr).st_mode) == 0o600
    assert store.holder(digest_of(token)) == {**JUDGE, "grant_id": grant_id}

    assert main(["grant", "list", "--contest", "boai-2026"]) == 0
    listed = capsys.readouterr().out
    row = next(line for line in listed.splitlines() if line.startswith(grant_id))
    assert "judge" in row and "张三" in row and "org1" in row and row.rstrip().endswith("active")
    assert token not in listed and token[3:] not in listed and digest_of(token) not in listed
    assert main(["grant", "list", "--office", "boai"]) == 0
    assert capsys.readouterr().out.strip() == "no grants of office boai"

    assert main(["grant", "revoke", grant_id, "--reason", "left the panel", "--by", "org1"]) == 0
    assert f"revoked {grant_id} (judge J1 of contest boai-2026)" in capsys.readouterr().out
    assert store.holder(digest_of(token)) is None
    assert main(["grant", "list"]) == 0
    assert re.search(rf"^{grant_id} .*revoked \S+Z by org1: left the panel\s*$", capsys.readouterr().out, re.M)
    assert main(["grant", "revoke", grant_id, "--reason", "again", "--by", "org2"]) == 0
    out = capsys.readouterr().out
    assert "was revoked already" in out and "by org1: left the panel" in out

    assert main(["grant", "revoke", "grant-ffffffffffff", "--reason", "typo"]) == 2
    assert "no grant grant-ffffffffffff" in capsys.readouterr().err
    # the code of a sign-in link is never written over
    assert (
        main(
            [
                *("grant", "mint", "--role", "judge", "--id", "J2", "--contest", "c"),
                "--base-url",
                "https://h",
                "--qr",
                str(qr),
            ]
        )
        == 2
    )
    assert f"--qr {qr}: exists" in capsys.readouterr().err
    assert len(store.list()) == 1


def test_leitai_grant_mint_without_a_base_url_prints_the_token_and_says_what_gives_the_link(registration_db, capsys):
    assert main(["grant", "mint", "--role", "screen", "--id", "hall", "--contest", "boai-2026", "--by", "op"]) == 0
    out = capsys.readouterr().out
    assert "token (shown this once" in out and "sign-in link" not in out and "typing the token" in out
    assert main(["grant", "mint", "--role", "organiser", "--id", "org2", "--office", "boai", "--by", "op"]) == 0
    out = capsys.readouterr().out
    assert "no sign-in link: give --base-url" in out and "/console" in out
