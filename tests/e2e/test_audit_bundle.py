"""tools/verify_bundle.py, an auditor's verifier, on the bundles a real Boai run wrote.

The bundles of every stage verify with the organiser's published key alone. Then each way an
operator could cheat is tried on a copy, and the verifier must refuse it and say why:
changed, removed, added or reordered events; a forged checkpoint; a log rewritten after an
auditor kept one of its checkpoints; and, with the operator's own key (someone who holds the
key rewrites every log and signs fresh checkpoints), a result that the sheets do not give
and a certificate citing another rule. The semifinal's bundle is of its second version, after
the demo's correction: the verifier re-derives it with the correction applied. The verifier
runs in-process here (its main(), the same entry the command line uses) so that each case
costs milliseconds; one case runs it as a command to show what an auditor sees.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from composition import monitor
from leitai.eventstore.notes import Checkpoint, Signer
from leitai.witness.cosignature import Cosigner
from tests.support.forgery import (
    TOOL,
    drop_event,
    events_of,
    in_effect,
    origin_of,
    publication_of,
    recite,
    redefine_stage,
    rederived,
    reforged,
    rescored,
    sheets,
    verifier,
)

pytestmark = pytest.mark.integration
STAGES = ("prelim", "semi", "final")


@pytest.fixture(scope="module")
def run(boai):
    return boai[0]


@pytest.fixture(scope="module")
def signer(run) -> Signer:
    return Signer.from_file(run.folder / "signing.key")


@pytest.fixture(scope="module")
def key(signer) -> str:
    return signer.verifier.encoded()


@pytest.fixture
def bundle(run) -> dict:
    """A fresh copy of the semifinal's bundle (recusals, two groups, a drop rule)."""
    return json.loads((run.folder / "bundles" / "boai-2021-semi.json").read_text(encoding="utf-8"))


@pytest.fixture
def check(tmp_path, key, capsys):
    def check(bundle, *extra: str) -> tuple[int, str]:
        path = tmp_path / "bundle.json"
        path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
        code = verifier.main([str(path), "--key", key, *extra])
        return code, capsys.readouterr().out

    return check


# -- a real run ------------------------------------------------------------------------------
def test_every_stage_of_a_real_run_verifies_with_the_published_key_alone(run, key):
    for stage in STAGES:
        done = subprocess.run(
            [sys.executable, str(TOOL), str(run.folder / "bundles" / f"boai-2021-{stage}.json"), "--key", key],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0 and done.stdout.startswith("verified\n"), done.stdout + done.stderr
        assert f"stage {stage} of boai-2021" in done.stdout
        published = next(s for s in run.export["stages"] if s["id"] == stage)
        assert published["certificate"]["standings_sha256"] in done.stdout


def test_every_stage_verifies_with_the_demos_witness_and_not_with_another(run, key):
    """The demo's relays had each checkpoint cosigned by its local witness: the bundles carry
    the cosignatures, and an auditor who names that witness gets them checked."""
    witness = Cosigner.from_file(run.folder / "witness.key").verifier.encoded()
    stranger = Cosigner.generate("witness.example/w1").verifier.encoded()
    for stage in STAGES:
        path = str(run.folder / "bundles" / f"boai-2021-{stage}.json")
        assert verifier.main([path, "--key", key, "--witness", witness]) == 0
        assert verifier.main([path, "--key", key, "--witness", witness, "--witness", stranger]) == 1
        assert (
            verifier.main([path, "--key", key, "--witness", witness, "--witness", stranger, "--min-witnesses", "1"])
            == 0
        )


def test_the_demo_export_carries_each_stage_certificate(run):
    for stage in run.export["stages"]:
        certificate = stage["certificate"]
        assert certificate["pending"] == [] and set(certificate["checkpoints"]) == {
            "registration",
            "scoring",
            "ranking",
        }
        assert certificate["rule_sha256"] == stage["published"]["rule_sha256"]
        assert certificate["fingerprint"].replace(" ", "") == certificate["standings_sha256"][:16]


def test_checkpoints_the_auditor_kept_are_checked_against_the_bundle(run, check, bundle, tmp_path):
    kept = [c["note"] for log in bundle["logs"].values() for c in log["checkpoints"]]
    (tmp_path / "kept.json").write_text(json.dumps(kept))
    assert check(bundle, "--known", str(tmp_path / "kept.json"))[0] == 0


# -- an operator without the key -------------------------------------------------------------
def test_a_changed_score_is_refused_naming_the_sheet(check, bundle):
    sheet = sheets(bundle)[3]
    criterion = sorted(sheet["event"]["payload"]["scores"])[0]
    sheet["event"]["payload"]["scores"][criterion] = "99"
    code, out = check(bundle)
    assert code == 1 and "not in the certified log" in out and sheet["event"]["event_id"] in out


def test_a_removed_sheet_is_refused_naming_its_stream_and_version(check, bundle):
    sheet = sheets(bundle)[5]
    bundle["logs"]["scoring"]["events"].remove(sheet)
    code, out = check(bundle)
    assert code == 1, out
    assert (
        f"stream {sheet['event']['stream_id']}: version {sheet['event']['stream_version']}" in out and "missing" in out
    )


def test_an_added_sheet_is_refused(check, bundle):
    events = bundle["logs"]["scoring"]["events"]
    extra = copy.deepcopy(sheets(bundle)[0])
    extra["event"]["event_id"] = "0" * 32
    extra["event"]["payload"]["judge_id"] = "a-judge-nobody-seated"
    extra["position"] = max(e["position"] for e in events) + 1
    events.append(extra)
    code, out = check(bundle)
    assert code == 1 and "0" * 32 in out and "not in the certified log" in out


def test_a_reordered_log_is_refused(check, bundle):
    first, second = sheets(bundle)[:2]
    first["position"], second["position"] = second["position"], first["position"]
    code, out = check(bundle)
    assert code == 1 and "inclusion proof fails" in out


def test_a_forged_checkpoint_is_refused(check, bundle):
    chain = bundle["logs"]["scoring"]["checkpoints"]
    chain[-1]["note"] = chain[-1]["note"].replace(f"\n{chain[-1]['size']}\n", f"\n{chain[-1]['size'] + 1}\n", 1)
    code, out = check(bundle)
    assert code == 1 and "does not verify" in out


def test_a_checkpoint_signed_by_another_key_is_refused(check, bundle):
    impostor = Signer.generate("leitai.demo")  # the same name, another key
    for log in bundle["logs"].values():
        for served in log["checkpoints"]:
            served["note"] = impostor.sign(served["note"].split("\n\n")[0] + "\n")
    code, out = check(bundle)
    assert code == 1 and "none of the trusted keys" in out


def test_a_checkpoint_inconsistent_with_its_predecessor_is_refused(check, bundle, signer):
    chain = bundle["logs"]["scoring"]["checkpoints"]
    assert len(chain) >= 2
    middle = chain[len(chain) // 2]
    other = hashlib.sha256(b"another history").digest()
    middle["note"] = signer.sign(Checkpoint(origin_of(middle), middle["size"], other).body())
    middle["root"] = other.hex()
    code, out = check(bundle)
    assert code == 1 and f"checkpoint {middle['size']} is not consistent" in out


def test_a_log_rewritten_after_the_auditor_kept_a_checkpoint_is_refused(check, bundle, signer, tmp_path):
    """The operator holds the key: the bundle's chain is consistent in itself, but the checkpoint
    of that size the auditor's monitor kept earlier had another root."""
    served = bundle["logs"]["scoring"]["checkpoints"][0]
    kept = signer.sign(
        Checkpoint(origin_of(served), served["size"], hashlib.sha256(b"what it said then").digest()).body()
    )
    (tmp_path / "monitor.json").write_text(json.dumps({"scoring": {"note": kept}}))
    code, out = check(bundle, "--known", str(tmp_path / "monitor.json"))
    assert code == 1 and "differs from the checkpoint of that size you kept" in out


# -- an operator with the key: every log rewritten and signed afresh ----------------------------
def test_a_reforged_bundle_that_changes_nothing_still_verifies(check, bundle, signer):
    """The harness itself: without an edit, the operator's rebuilt logs pass, so each refusal
    below is the edit's doing."""
    code, out = check(reforged(bundle, signer))
    assert code == 0, out


def test_a_published_result_the_sheets_do_not_give_is_refused_naming_the_entry(check, bundle, signer):
    publication = publication_of(bundle)
    rows = publication["event"]["payload"]["standings"]
    out_of_it = next(r for r in rows if not r["advanced"])
    out_of_it["advanced"] = True
    code, out = check(reforged(bundle, signer))
    assert code == 1 and f"entry {out_of_it['entry_id']}" in out and "advanced published True, re-derived False" in out


def test_a_changed_score_in_a_rewritten_log_is_caught_by_the_recomputation(check, bundle, signer):
    publication = publication_of(bundle)
    winner = publication["event"]["payload"]["standings"][0]
    for sheet in sheets(bundle):
        if sheet["event"]["payload"]["entry_id"] == winner["entry_id"]:
            payload = sheet["event"]["payload"]
            payload["scores"] = {c: "0" for c in payload["scores"]}
            payload["total"] = "0"
    code, out = check(reforged(bundle, signer))
    assert code == 1 and f"entry {winner['entry_id']}" in out and "stage_score published" in out, out


def test_a_corrected_result_verifies_with_its_correction_and_not_without_it(check, bundle, signer):
    """The semifinal was published again after the demo's correction: its bundle is of version
    2, replacing version 1, and only the corrected sheet gives the certified standings."""
    assert publication_of(bundle)["event"]["payload"]["version"] == 2
    assert bundle["certificate"]["replaces"]["standings_sha256"] != bundle["certificate"]["standings_sha256"]
    code, out = check(bundle)
    assert code == 0, out
    corrected = next(e for e in bundle["logs"]["scoring"]["events"] if e["event"]["type"] == "ScoreSheetCorrected")
    original = next(
        e
        for e in bundle["logs"]["scoring"]["events"]
        if e["event"]["event_id"] == corrected["event"]["payload"]["cites"]
    )
    proposed = next(
        e
        for e in bundle["logs"]["scoring"]["events"]
        if e["event"]["type"] == "CorrectionProposed"
        and e["event"]["payload"]["correction_id"] == corrected["event"]["payload"]["correction_id"]
    )
    # the operator rewrites the correction away, keeping what was copied down, and the proposal to match
    for field in ("scores", "total"):
        corrected["event"]["payload"][field] = original["event"]["payload"][field]
    proposed["event"]["payload"]["scores"] = original["event"]["payload"]["scores"]
    code, out = check(reforged(bundle, signer))
    entry = corrected["event"]["payload"]["entry_id"]
    assert code == 1 and f"entry {entry}" in out and "stage_score published" in out, out


def test_a_correction_citing_another_sheet_is_refused(check, bundle, signer):
    corrected = next(e for e in bundle["logs"]["scoring"]["events"] if e["event"]["type"] == "ScoreSheetCorrected")
    cited = corrected["event"]["payload"]["cites"]
    corrected["event"]["payload"]["cites"] = next(
        e["event"]["event_id"] for e in sheets(bundle) if e["event"]["event_id"] != cited
    )  # any other sheet
    code, out = check(reforged(bundle, signer))
    assert code == 1 and f"it cites {corrected['event']['payload']['cites']}" in out, out


def test_a_certificate_citing_another_rule_is_refused(check, bundle, signer):
    publication = publication_of(bundle)
    stage = next(
        e["event"]["payload"]
        for e in bundle["logs"]["registration"]["events"]
        if e["event"]["type"] == "StageDefined" and e["event"]["payload"]["stage_id"] == "semi"
    )
    lenient = dict(stage, drop_rule=[])
    publication["event"]["payload"]["rule_sha256"] = bundle["certificate"]["rule_sha256"] = verifier.rule_fingerprint(
        lenient
    )
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "the certificate cites rule" in out and "but stage semi was defined" in out


# -- what is not a bundle -------------------------------------------------------------------------
def test_a_truncated_or_malformed_bundle_is_an_error_never_a_traceback(check, bundle):
    text = json.dumps(bundle)
    for cut in (0, 10, len(text) // 3, len(text) - 2):
        code, out = check(text[:cut])
        assert code == 2 and out.startswith("NOT verified: cannot read the bundle"), out
    for broken in (
        [],
        {"format": "something else"},
        dict(bundle, logs=None),
        dict(bundle, certificate={}),
    ):
        code, out = check(json.dumps(broken))
        assert code in (1, 2) and out.startswith("NOT verified"), out


def test_bundle_keys_that_are_no_keys_are_an_error_when_trusted(bundle, tmp_path, capsys):
    (tmp_path / "bundle.json").write_text(json.dumps(dict(bundle, keys=["not a key"])))
    assert verifier.main([str(tmp_path / "bundle.json"), "--trust-bundle-keys"]) == 2
    assert "verifier key" in capsys.readouterr().out


def test_every_part_of_a_bundle_removed_or_mistyped_is_refused_with_a_message(bundle, key):
    """Each key of the bundle's skeleton deleted or replaced by a string, and the first item of
    each list replaced by a string (deleting one can be harmless: a chain that starts one
    checkpoint later still proves what it proves): the verdict is a Discrepancy or Malformed
    (which main() prints), never "verified" and never another exception. An event's own fields
    are left out: any change to one is an inclusion proof that fails, as the cases above show."""
    paths = list(skeleton(bundle))
    assert len(paths) > 40
    for path in paths:
        for damage in (None, "x") if isinstance(path[-1], str) else ("x",):
            broken = copy.deepcopy(bundle)
            parent = broken
            for step in path[:-1]:
                parent = parent[step]
            if damage is None:
                del parent[path[-1]]
            else:
                parent[path[-1]] = damage
            with pytest.raises((verifier.Discrepancy, verifier.Malformed)):
                verifier.verify(broken, [verifier.Key(key)], [])


def skeleton(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            if (path == () and k == "keys") or k == "cosignatures":
                continue  # the keys are informative (--key decides); cosignatures count only with --witness
            yield path + (k,)
            if k not in ("event", "stage"):
                yield from skeleton(v, path + (k,))
    elif isinstance(value, list) and value:
        yield path + (0,)
        yield from skeleton(value[0], path + (0,))


def test_a_malformed_key_or_kept_checkpoints_file_is_an_error(tmp_path, run, capsys):
    path = run.folder / "bundles" / "boai-2021-final.json"
    assert verifier.main([str(path), "--key", "leitai.demo+00+AAAA"]) == 2
    assert "verifier key" in capsys.readouterr().out
    (tmp_path / "kept.json").write_text('{"scoring": 3}')
    assert verifier.main([str(path), "--trust-bundle-keys", "--known", str(tmp_path / "kept.json")]) == 2
    assert "not a list of checkpoints" in capsys.readouterr().out


# -- an operator with the key who leaves something out (docs/audit.md, "What the result depends on")
def without_session(bundle: dict, session_id: str) -> dict:
    """The result as the operator would publish it without one session: its scoring stream
    dropped from the bundle, the certificate and the publication; the standings computed from
    the sheets kept, so that the arithmetic agrees."""
    stream = f"scoring-{session_id}"
    scoring = bundle["logs"]["scoring"]
    scoring["events"] = [e for e in scoring["events"] if e["event"]["stream_id"] != stream]
    recite(bundle, "scoring", stream, lambda head: None)
    return bundle


def test_a_publication_that_leaves_out_a_session_is_refused_though_its_arithmetic_agrees(check, bundle, signer):
    """The operator's word on what a result depends on is not taken: the sessions come from the
    contest's own stream, and the publication's list of streams is checked against them."""
    forged = without_session(bundle, "semi-west")
    publication = publication_of(forged)
    publication["event"]["payload"]["standings"] = rederived(forged)
    code, out = check(reforged(forged, signer))
    assert code == 1 and "leaves out scoring-semi-west" in out, out


def test_a_publication_citing_the_contest_stream_cut_before_a_session_is_refused(check, bundle, signer):
    """The operator cites the contest's stream as it stood before one session was opened, and
    leaves that session out: the bundle must hold the stream through registration's record of
    the publication, so the session's opening is there, and it is not counted."""
    last = max(
        (e for e in events_of(bundle, "registration", "SessionOpened") if e["event"]["payload"]["stage_id"] == "semi"),
        key=lambda e: e["event"]["stream_version"],
    )
    session_id = last["event"]["payload"]["session_id"]
    forged = without_session(bundle, session_id)
    cut = last["event"]["stream_version"] - 1
    recite(forged, "registration", "contest-boai-2021", lambda head: cut)
    publication_of(forged)["event"]["payload"]["standings"] = rederived(forged)
    code, out = check(reforged(forged, signer))
    assert code == 1 and f"session {session_id} of stage semi was opened" in out and "leaves it out" in out, out


def test_an_appended_first_publication_is_refused(check, bundle, signer):
    """A second StageResultsPublished appended to the results stream, naming fewer streams: a
    stage is published once; later versions are republications after approved corrections."""
    genuine = publication_of(bundle)
    appended = copy.deepcopy(genuine)
    appended["event"].update(
        event_id="f" * 32, type="StageResultsPublished", stream_version=genuine["event"]["stream_version"] + 1
    )
    appended["position"] = max(e["position"] for e in bundle["logs"]["ranking"]["events"]) + 1
    for field in ("version", "replaces_sha256", "correction_id", "corrected_session_id", "corrected_judge_id", "diff"):
        appended["event"]["payload"].pop(field)
    bundle["logs"]["ranking"]["events"].append(appended)
    record = copy.deepcopy(events_of(bundle, "registration", "StageResultsRecorded")[-1])  # and registration's record
    record["event"]["payload"].update(publication_event_id="f" * 32, version=1)
    record["event"].update(event_id="d" * 32, stream_version=record["event"]["stream_version"] + 1)
    record["position"] = max(e["position"] for e in bundle["logs"]["registration"]["events"]) + 1
    bundle["logs"]["registration"]["events"].append(record)
    notes = {e["event"]["stream_id"]: e for e in events_of(bundle, "scoring", "StageResultsNoted")}  # and scoring's
    for n, note in enumerate(notes.values(), start=1):
        appended_note = copy.deepcopy(note)
        appended_note["event"]["payload"].update(publication_event_id="f" * 32, version=1)
        appended_note["event"].update(event_id=f"{n:032d}", stream_version=note["event"]["stream_version"] + 1)
        appended_note["position"] = max(e["position"] for e in bundle["logs"]["scoring"]["events"]) + 1
        bundle["logs"]["scoring"]["events"].append(appended_note)
    bundle["certificate"] = dict(
        bundle["certificate"], publication={"log": "ranking", "position": appended["position"]}, replaces=None
    )
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "published once, first" in out, out


def test_a_judges_sheet_left_out_is_refused_at_the_lock(check, bundle, signer):
    """One judge's sheet taken out of the session's stream (the later events renumbered): the
    lock recorded no missing sheet and gave no reason, so the stream before it is incomplete."""
    west = [e for e in sheets(bundle) if e["event"]["stream_id"] == "scoring-semi-west"]
    left_out = west[len(west) // 2]
    drop_event(bundle, "scoring", left_out)
    code, out = check(reforged(copy.deepcopy(bundle), signer))
    assert code == 1 and "the lock records 0 sheets missing; the stream before it lacks 1" in out, out
    (lock,) = [
        e for e in events_of(bundle, "scoring", "SessionLocked") if e["event"]["stream_id"] == "scoring-semi-west"
    ]
    lock["event"]["payload"]["missing_sheets"] = 1  # the forger makes the lock agree, without a reason
    code, out = check(reforged(bundle, signer))
    judge, entry = left_out["event"]["payload"]["judge_id"], left_out["event"]["payload"]["entry_id"]
    assert code == 1 and f"judge {judge}'s sheet of entry {entry} is missing at the lock" in out, out


def test_a_stage_definition_of_another_contest_is_refused(check, bundle, signer):
    """A publication citing a stage defined in another contest's stream (other weights)."""
    defined = next(
        e for e in events_of(bundle, "registration", "StageDefined") if e["event"]["payload"]["stage_id"] == "semi"
    )
    foreign = copy.deepcopy(defined)
    foreign["event"].update(event_id="e" * 32, stream_id="contest-other-2021", stream_version=1)
    foreign["event"]["payload"].update(contest_id="other-2021")
    foreign["event"]["payload"]["criteria"][0]["weight"] = "9"
    foreign["position"] = 0  # before everything the certificate cites
    bundle["logs"]["registration"]["events"].append(foreign)
    recite(bundle, "registration", "contest-other-2021", lambda head: 1)
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "it depends on the contest's stream contest-boai-2021" in out, out


def test_an_event_of_another_contest_in_the_contest_stream_is_refused(check, bundle, signer):
    opened = next(
        e for e in events_of(bundle, "registration", "SessionOpened") if e["event"]["payload"]["stage_id"] == "semi"
    )
    opened["event"]["payload"]["contest_id"] = "other-2021"
    code, out = check(reforged(bundle, signer))
    assert code == 1 and f"registration {opened['event']['event_id']} in contest-boai-2021 is of another contest" in out


# -- an operator with the key who bends the two-person rule ------------------------------------
def correction_steps(bundle: dict) -> tuple[dict, dict, dict]:
    """The demo's correction: its proposal, approval and effect."""
    proposed = events_of(bundle, "scoring", "CorrectionProposed")[0]
    approved = events_of(bundle, "scoring", "CorrectionApproved")[0]
    effect = events_of(bundle, "scoring", "ScoreSheetCorrected")[0]
    return proposed, approved, effect


def test_a_correction_approved_by_its_proposer_is_refused(check, bundle, signer):
    proposed, approved, _ = correction_steps(bundle)
    proposer = proposed["event"]["payload"]["proposed_by"]
    approved["event"]["actor"] = approved["event"]["payload"]["by"] = proposer
    code, out = check(reforged(bundle, signer))
    assert code == 1 and f"approved by {proposer}, who proposed it" in out and approved["event"]["event_id"] in out


def test_a_correction_approved_in_a_role_the_rules_do_not_name_is_refused(check, bundle, signer):
    _, approved, _ = correction_steps(bundle)
    approved["event"]["payload"]["role"] = "judge"
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "a judge may not approve a correction" in out, out


def test_a_rejected_correction_that_takes_effect_is_refused(check, bundle, signer):
    _, approved, effect = correction_steps(bundle)
    approved["event"]["type"] = "CorrectionRejected"
    approved["event"]["payload"]["reason"] = "原件无误"
    code, out = check(reforged(bundle, signer))
    assert code == 1 and effect["event"]["event_id"] in out and "takes effect, but it was rejected" in out, out


def test_a_corrected_sheet_without_proposal_or_approval_is_refused(check, bundle, signer):
    proposed, approved, effect = correction_steps(bundle)
    drop_event(bundle, "scoring", approved)
    drop_event(bundle, "scoring", proposed)
    code, out = check(reforged(bundle, signer))
    assert code == 1 and effect["event"]["event_id"] in out and "it was never proposed" in out, out


# -- forks past the checkpoints an auditor kept: the verifier and the monitor agree ------------
def kept_notes(signer: Signer, bundle: dict, sizes: tuple[int, ...]) -> list[str]:
    """Checkpoints of the real scoring log the auditor's monitor kept, of sizes the operator's
    fork does not have (roots of the real log: any root will do, the fork must not pass)."""
    origin = origin_of(bundle["logs"]["scoring"]["checkpoints"][0])
    return [signer.sign(Checkpoint(origin, size, hashlib.sha256(b"%d" % size).digest()).body()) for size in sizes]


def fork_of(bundle: dict, signer: Signer, origin_suffix: str = "") -> dict:
    return reforged(bundle, signer, origin_suffix)


def test_a_fork_that_skips_or_ends_before_a_kept_checkpoint_is_refused(check, bundle, signer, tmp_path):
    fork = fork_of(bundle, signer)
    size = fork["logs"]["scoring"]["checkpoints"][-1]["size"]
    for kept, said in (
        (size - 1, "this bundle's chain skips it"),
        (size + 1000, f"this bundle's chain ends at {size}"),
    ):
        (tmp_path / "kept.json").write_text(json.dumps(kept_notes(signer, bundle, (kept,))))
        code, out = check(copy.deepcopy(fork), "--known", str(tmp_path / "kept.json"))
        assert code == 1 and f"you kept checkpoint {kept}, and {said}" in out, out
        refused = monitor.watch(served_as(fork), [signer.verifier], ["scoring"], kept_state(signer, bundle, kept))
        assert not refused.ok and "scoring: REFUSED" in refused.lines[0], refused.lines


def test_a_fork_under_an_origin_that_differs_by_an_invisible_character_is_refused(check, bundle, signer):
    fork = fork_of(bundle, signer, "\u200b")
    code, out = check(copy.deepcopy(fork))
    assert code == 1 and "names the origin" in out and "\\u200b" in out, out
    refused = monitor.watch(served_as(fork), [signer.verifier], ["scoring"], monitor.State())
    assert not refused.ok and "names the origin" in refused.lines[0], refused.lines


def served_as(bundle: dict):
    """The fork's checkpoints as the operator's public API would serve them to a monitor."""

    def fetch(log: str, after: int) -> list[dict]:
        return [c for c in bundle["logs"][log]["checkpoints"] if c["size"] > after]

    return fetch


def kept_state(signer: Signer, bundle: dict, size: int) -> monitor.State:
    (note,) = kept_notes(signer, bundle, (size,))
    parsed = Checkpoint.parse(signer.verifier.open(note))
    return monitor.State({"scoring": {"origin": parsed.origin, "size": size, "root": parsed.root.hex(), "note": note}})


# -- witnesses (C2SP tlog-cosignature), as an inspection office's witness would cosign ------------
COSIGNATURE_V1 = b"\x04"  # the signature type of an Ed25519 cosignature/v1 key


class Witness:
    """A witness key and its cosignature/v1, written from the spec (c2sp.org/tlog-cosignature)."""

    def __init__(self, name: str) -> None:
        self.name, self._key = name, Ed25519PrivateKey.generate()
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(name.encode() + b"\n" + COSIGNATURE_V1 + public).digest()[:4]
        encoded = base64.b64encode(COSIGNATURE_V1 + public).decode()
        self.vkey = f"{name}+{self.key_id.hex()}+{encoded}"

    def cosign(self, served: dict) -> None:
        body = served["note"].split("\n\n")[0] + "\n"
        stamp = 1_780_000_000
        signature = self._key.sign(f"cosignature/v1\ntime {stamp}\n{body}".encode())
        blob = self.key_id + stamp.to_bytes(8, "big") + signature
        served.setdefault("cosignatures", []).append(f"\u2014 {self.name} {base64.b64encode(blob).decode()}")


def test_a_checkpoint_is_accepted_only_with_the_witnesses_the_auditor_names(check, bundle):
    office, other = Witness("jiwei.boai.gov.cn/witness"), Witness("witness.example/w1")
    assert check(copy.deepcopy(bundle), "--witness", office.vkey)[0] == 1  # nobody cosigned
    for log in bundle["logs"].values():
        office.cosign(log["checkpoints"][-1])
    code, out = check(copy.deepcopy(bundle), "--witness", office.vkey)
    assert code == 0 and "cosigned by 1 of your 1 witnesses" in out, out
    code, out = check(copy.deepcopy(bundle), "--witness", office.vkey, "--witness", other.vkey)
    assert code == 1 and "is cosigned by 2 of your 2 witnesses (at most 1)" in out, out
    assert (
        check(copy.deepcopy(bundle), "--witness", office.vkey, "--witness", other.vkey, "--min-witnesses", "1")[0] == 0
    )
    impostor = Witness("jiwei.boai.gov.cn/witness")  # the same name, a key the operator made
    forged = copy.deepcopy(bundle)
    for log in forged["logs"].values():
        log["checkpoints"][-1]["cosignatures"] = []
        impostor.cosign(log["checkpoints"][-1])
    assert check(forged, "--witness", office.vkey)[0] == 1


# -- hostile input: an answer in seconds, never a traceback ---------------------------------------
@pytest.mark.parametrize(
    "edit, said",
    [
        pytest.param(lambda b: b.update(deep="[" * 100_000 + "]" * 100_000), "nests deeper", id="nesting"),
        pytest.param(lambda b: b.update(huge=10**40), "digits", id="a huge integer"),
    ],
)
def test_hostile_json_is_refused_before_it_is_parsed(check, bundle, edit, said):
    text = json.dumps(bundle, ensure_ascii=False)
    extra = {}
    edit(extra)
    for k, v in extra.items():
        text = text[:-1] + f', "{k}": ' + (v if isinstance(v, str) else str(v)) + "}"
    code, out = check(text)
    assert code == 2 and said in out, out
    assert check(text.replace('"format"', '"x": NaN, "format"', 1))[0] == 2


@pytest.mark.parametrize("score", ["Infinity", "1e99999999", "NaN", "-0x10", "9" * 100])
def test_a_score_that_is_no_bounded_decimal_is_a_discrepancy(check, bundle, signer, score):
    sheet = in_effect(bundle)
    criterion = sorted(sheet["event"]["payload"]["scores"])[0]
    sheet["event"]["payload"]["scores"][criterion] = score
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "is not a decimal number" in out and sheet["event"]["event_id"] in out, out


def test_a_drop_rule_that_leaves_no_sheet_to_count_is_a_discrepancy(check, bundle, signer):
    redefine_stage(bundle, drop_rule=[{"min_sheets": 1, "drop_high": 5, "drop_low": 5}])
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "leaving none to count" in out, out


def test_without_a_key_the_verifier_refuses_unless_told_to_trust_the_bundles(run, capsys):
    path = run.folder / "bundles" / "boai-2021-final.json"
    assert verifier.main([str(path)]) == 2
    assert "--key" in capsys.readouterr().out
    assert verifier.main([str(path), "--trust-bundle-keys"]) == 0
    assert capsys.readouterr().out.startswith("verified with the bundle's own keys, not a key you gave")


# -- what an outside auditor found next, each now refused -----------------------------------------
def test_a_sheet_backdated_before_the_lock_is_refused(check, bundle, signer):
    """A re-submitted sheet given a stream version below the lock's, but written after it in
    the log: versions must run in the order of the proved positions."""
    west = [e for e in bundle["logs"]["scoring"]["events"] if e["event"]["stream_id"] == "scoring-semi-west"]
    lock = next(e for e in west if e["event"]["type"] == "SessionLocked")
    late = copy.deepcopy(next(e for e in west if e["event"]["type"] == "ScoreSheetSubmitted"))
    late["event"].update(event_id="b" * 32, type="ScoreSheetRevised", stream_version=lock["event"]["stream_version"])
    for item in west:
        if item["event"]["stream_version"] >= lock["event"]["stream_version"]:
            item["event"]["stream_version"] += 1
    late["position"] = lock["position"] + 0.5  # after the lock in the log
    bundle["logs"]["scoring"]["events"].append(late)
    recite(bundle, "scoring", "scoring-semi-west", lambda head: head + 1)
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "comes after version" in out, out


def test_a_correction_in_effect_before_the_result_was_computed_cannot_be_left_out(check, bundle, signer):
    """Version 1 cites the stream before the correction; a bundle of version 1 that claims to
    be computed after it (its position) while citing the older head is refused."""
    level = bundle["certificate"]["replaces"]  # version 1's certificate
    corrected = events_of(bundle, "scoring", "ScoreSheetCorrected")[0]
    level["sources"]["scoring"]["position"] = corrected["position"]
    publication = next(e for e in events_of(bundle, "ranking", "StageResultsPublished"))
    publication["event"]["payload"]["log_positions"]["scoring"] = corrected["position"]
    bundle["certificate"] = level  # the operator hands out version 1, as if computed after the correction
    bundle["logs"]["ranking"]["events"] = [
        e for e in bundle["logs"]["ranking"]["events"] if e["position"] <= publication["position"]
    ]
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "leaves this out" in out and corrected["event"]["event_id"] in out, out


def test_a_certified_checkpoint_that_holds_nothing_the_result_rests_on_is_refused(check, bundle):
    first = {log: copy.deepcopy(b["checkpoints"][0]) for log, b in bundle["logs"].items()}
    for log, served in first.items():
        bundle["certificate"]["checkpoints"][log] = dict(served, origin=origin_of(served))
    code, out = check(bundle)
    assert code == 1 and "beyond its certified checkpoint" in out, out


def test_an_entry_that_never_reached_the_stage_is_refused_when_seated(check, bundle, signer):
    """Seating an entry of the prelim that never advanced: the session must seat exactly the
    entries in the stage from its group's townships."""
    opened = next(
        e
        for e in events_of(bundle, "registration", "SessionOpened")
        if e["event"]["payload"]["session_id"] == "semi-west"
    )
    stranger = next(
        e["event"]["payload"]
        for e in events_of(bundle, "registration", "EntrySubmitted")
        if e["event"]["payload"]["entry_id"] not in {x["entry_id"] for x in opened["event"]["payload"]["entries"]}
    )
    replaced = opened["event"]["payload"]["entries"][0]["entry_id"]
    opened["event"]["payload"]["entries"][0].update(
        {k: stranger[k] for k in ("entry_id", "contestant_id", "name", "township_code", "work_unit")}
    )
    drawn = next(
        e for e in events_of(bundle, "registration", "OrderDrawn") if e["event"]["payload"]["session_id"] == "semi-west"
    )
    order = drawn["event"]["payload"]["order"]
    order[order.index(replaced)] = stranger["entry_id"]  # the draw too, as the operator would
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "session semi-west" in out and "of group" in out, out


def test_an_advancement_taken_back_without_a_followed_correction_is_refused(check, bundle, signer):
    advanced = events_of(bundle, "registration", "EntryAdvanced")[0]
    advanced["event"]["type"] = "EntryAdvancementRevoked"
    advanced["event"]["payload"].update(change_id="no-such-correction")
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "which the contest never followed" in out, out


def test_a_panel_not_as_seated_or_registered_is_refused(check, bundle, signer):
    opened = next(
        e for e in events_of(bundle, "registration", "SessionOpened") if e["event"]["payload"]["stage_id"] == "semi"
    )
    opened["event"]["payload"]["panel"][0]["conflicts"] = []  # or a judge nobody registered: the same refusal
    opened["event"]["payload"]["panel"][0]["township_code"] = "nowhere"
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "its panel is not the one seated for it" in out, out


def test_a_score_outside_its_criterion_is_refused(check, bundle, signer):
    sheet = in_effect(bundle)["event"]
    rescored(bundle, sheet, "99")
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "is not a score from 0 to" in out and sheet["event_id"] in out, out


def test_a_sheet_sent_by_someone_else_or_a_judge_deciding_a_correction_is_refused(check, bundle, signer):
    forged = copy.deepcopy(bundle)
    in_effect(forged)["event"]["actor"] = "demo-organiser"
    code, out = check(reforged(forged, signer))
    assert code == 1 and "sent by demo-organiser" in out, out
    _, approved, _ = correction_steps(bundle)
    judge = next(e for e in sheets(bundle) if e["event"]["stream_id"] == approved["event"]["stream_id"])
    approved["event"]["actor"] = approved["event"]["payload"]["by"] = judge["event"]["payload"]["judge_id"]
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "is a judge or a contestant of this contest" in out, out


def test_a_look_alike_of_the_proposer_is_not_a_second_person(check, bundle, signer):
    proposed, approved, _ = correction_steps(bundle)
    look_alike = proposed["event"]["payload"]["proposed_by"] + "\u200b"
    approved["event"]["actor"] = approved["event"]["payload"]["by"] = look_alike
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "is not an id" in out, out


@pytest.mark.parametrize(
    "text, said",
    [
        pytest.param(
            '{"format": "leitai-audit-bundle/1", "contest_id": "\\ud800"}', "NOT verified", id="lone surrogate"
        ),
        pytest.param('"' + '\\"' * 100_000, "not JSON", id="an unterminated string of escapes"),
    ],
)
def test_hostile_text_gets_one_line_not_a_traceback(check, text, said):
    code, out = check(text)
    assert code in (1, 2) and said in out and "Traceback" not in out, out


def test_a_stream_head_in_the_quintillions_is_answered_at_once(check, bundle):
    stream = next(iter(bundle["certificate"]["sources"]["scoring"]["streams"]))
    bundle["certificate"]["sources"]["scoring"]["streams"][stream] = 10**17
    code, out = check(bundle)
    assert code in (1, 2) and "NOT verified" in out, out


# -- and what a second outside auditor found -------------------------------------------------------
def test_registrations_the_service_refuses_are_refused(check, bundle, signer):
    """Registration takes a judge once (a declared conflict is never dropped by registering
    again) and an entry once, into the first stage: the verifier holds the log to that."""
    judge = copy.deepcopy(events_of(bundle, "registration", "JudgeRegistered")[0])
    judge["event"].update(event_id="c" * 32, stream_version=judge["event"]["stream_version"] + 1)
    judge["event"]["payload"]["conflicts"] = []
    forged = copy.deepcopy(bundle)
    insert_after(forged, "registration", judge)
    code, out = check(reforged(forged, signer))
    assert code == 1 and "is registered a second time" in out, out
    entry = copy.deepcopy(events_of(bundle, "registration", "EntrySubmitted")[0])
    entry["event"].update(event_id="a" * 32, stream_version=entry["event"]["stream_version"] + 1)
    entry["event"]["payload"]["stage_id"] = "final"
    insert_after(bundle, "registration", entry)
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "each entry and contestant once, into the first stage" in out, out


def insert_after(bundle: dict, log: str, item: dict) -> None:
    """``item`` into its stream right after the version before it, as a rewrite would: later
    events of the stream move up a version, and the cited heads with them."""
    stream, version = item["event"]["stream_id"], item["event"]["stream_version"]
    for other in bundle["logs"][log]["events"]:
        if other["event"]["stream_id"] == stream and other["event"]["stream_version"] >= version:
            other["event"]["stream_version"] += 1
    before = next(
        e["position"]
        for e in bundle["logs"][log]["events"]
        if e["event"]["stream_id"] == stream and e["event"]["stream_version"] == version - 1
    )
    item["position"] = before + 0.5
    bundle["logs"][log]["events"].append(item)
    recite(bundle, log, stream, lambda head: None if head is None else head + 1)


def test_an_approval_by_a_case_variant_of_the_proposer_or_a_contestant_is_refused(check, bundle, signer):
    proposed, approved, _ = correction_steps(bundle)
    variant = proposed["event"]["payload"]["proposed_by"].upper()
    forged = copy.deepcopy(bundle)
    _, approval, _ = correction_steps(forged)
    approval["event"]["actor"] = approval["event"]["payload"]["by"] = variant
    code, out = check(reforged(forged, signer))
    assert code == 1 and "who proposed it" in out, out
    contestant = events_of(bundle, "registration", "EntrySubmitted")[0]["event"]["payload"]["contestant_id"]
    approved["event"]["actor"] = approved["event"]["payload"]["by"] = contestant
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "is a judge or a contestant of this contest" in out, out


def test_the_same_witness_named_twice_counts_once(check, bundle):
    office = Witness("jiwei.boai.gov.cn/witness")
    for log in bundle["logs"].values():
        office.cosign(log["checkpoints"][-1])
    code, out = check(bundle, "--witness", office.vkey, "--witness", office.vkey)
    assert code == 0 and "cosigned by 1 of your 1 witnesses" in out, out


def test_a_score_of_forty_digits_is_exact_not_a_traceback(check, bundle, signer):
    huge = "9" * 38
    redefine_stage(bundle, criteria=[dict(c, max=huge) for c in bundle["rules"]["stage"]["criteria"]])
    rescored(bundle, in_effect(bundle)["event"], huge)
    code, out = check(reforged(bundle, signer))
    assert code == 1 and "stage_score published" in out and "Traceback" not in out, out
