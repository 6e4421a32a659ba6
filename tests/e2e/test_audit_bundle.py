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

import bisect
import copy
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from leitai.eventstore.merkle import Tree
from leitai.eventstore.notes import Checkpoint, Signer

pytestmark = pytest.mark.integration

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_bundle.py"
STAGES = ("prelim", "semi", "final")


def _load_tool():
    spec = importlib.util.spec_from_file_location("verify_bundle", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = _load_tool()


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


def publication_of(bundle: dict) -> dict:
    """The certified publication: the semifinal's is version 2, after the demo's correction (the
    bundle holds version 1's too)."""
    return max(
        (e for e in bundle["logs"]["ranking"]["events"] if e["event"]["type"] in verifier.PUBLICATIONS),
        key=lambda e: e["position"],
    )


def sheets(bundle: dict) -> list[dict]:
    return [e for e in bundle["logs"]["scoring"]["events"] if e["event"]["type"] == "ScoreSheetSubmitted"]


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
def reforged(bundle: dict, signer: Signer) -> dict:
    """``bundle`` as an operator holding the key would make it after editing its events: each
    log rebuilt from the events the bundle holds, renumbered, with one fresh signed checkpoint,
    and certificates (this version's and those it replaces) and publications that agree with
    them. Only the sheets can betray it."""
    originals, renumbered = {}, {}
    for name, log in bundle["logs"].items():
        events = sorted(log["events"], key=lambda e: e["position"])
        originals[name] = [item["position"] for item in events]
        for n, item in enumerate(events, start=1):
            renumbered[(name, item["position"])] = n
            item["position"] = n
        log["events"] = events
    levels, level = [], bundle["certificate"]
    while level is not None:  # this version's certificate, then each it replaces
        levels.append(level)
        level = level["replaces"]
    for level in reversed(levels):  # oldest first: a later one names the digest of the one before
        old = level["publication"]["position"]
        publication = next(
            e for e in bundle["logs"]["ranking"]["events"] if e["position"] == renumbered[("ranking", old)]
        )
        payload = publication["event"]["payload"]
        for source, basis in level["sources"].items():
            basis["position"] = bisect.bisect_right(originals[source], basis["position"])
            payload["log_positions"][source] = basis["position"]
        level["publication"]["position"] = publication["position"]
        payload["standings_sha256"] = level["standings_sha256"] = hashlib.sha256(
            verifier.canonical(payload["standings"])
        ).hexdigest()
        short = level["standings_sha256"][:16]
        level["fingerprint"] = " ".join(short[i : i + 4] for i in range(0, 16, 4))
        if level["replaces"] is not None:
            payload["replaces_sha256"] = level["replaces"]["standings_sha256"]
    for name, log in bundle["logs"].items():
        leaves = [verifier.leaf_of(item["event"], item["position"]) for item in log["events"]]
        tree = Tree(leaves)
        for index, item in enumerate(log["events"]):
            item["proof"] = [h.hex() for h in tree.inclusion_proof(index, tree.size)]
        note = signer.sign(Checkpoint(origin_of(log["checkpoints"][0]), tree.size, tree.root()).body())
        log["checkpoints"] = [{"size": tree.size, "root": tree.root().hex(), "note": note}]
        for level in levels:
            level["checkpoints"][name] = {
                "origin": origin_of(log["checkpoints"][0]),
                "size": tree.size,
                "root": tree.root().hex(),
                "note": note,
            }
    return bundle


def origin_of(served: dict) -> str:
    return served["note"].split("\n", 1)[0]


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
    for field in ("scores", "total"):  # the operator rewrites the correction away, keeping what was copied down
        corrected["event"]["payload"][field] = original["event"]["payload"][field]
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
    assert code == 1 and "which is not the sheet it corrects" in out, out


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
        dict(bundle, keys=["not a key"]),
    ):
        code, out = check(json.dumps(broken))
        assert code in (1, 2) and out.startswith("NOT verified"), out


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
    assert verifier.main([str(path), "--known", str(tmp_path / "kept.json")]) == 2
    assert "not a list of checkpoints" in capsys.readouterr().out
