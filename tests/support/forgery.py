"""What an operator who holds the signing key can do to an audit bundle, written as they would
do it: edit the events they hold, rebuild every log's Merkle tree from them, sign fresh
checkpoints with the key, and make the certificates and publications agree. Only the rules the
verifier checks can then betray the edit. Shared by the audit tests (tests/e2e/test_audit_*.py).

The verifier is loaded from its file, as an auditor runs it (tools/verify_bundle.py shares no
code with leitai); its hashing is what the forger uses too, since the leaves are public.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
from collections.abc import Callable
from decimal import Decimal, localcontext
from pathlib import Path

from leitai.eventstore.merkle import Tree
from leitai.eventstore.notes import Checkpoint, Signer

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_bundle.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("verify_bundle", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = _load_tool()


def publication_of(bundle: dict) -> dict:
    """The certified publication: the semifinal's is version 2, after the demo's correction (the
    bundle holds version 1's too)."""
    return max(
        (e for e in bundle["logs"]["ranking"]["events"] if e["event"]["type"] in verifier.PUBLICATIONS),
        key=lambda e: e["position"],
    )


def sheets(bundle: dict) -> list[dict]:
    return [e for e in bundle["logs"]["scoring"]["events"] if e["event"]["type"] == "ScoreSheetSubmitted"]


def in_effect(bundle: dict) -> dict:
    """A judge's sheet the result counts: submitted, never revised or corrected since (which
    sheet that is depends on how the sessions' scoring interleaved in the run)."""
    later = {}
    for item in sorted(bundle["logs"]["scoring"]["events"], key=lambda e: e["position"]):
        p = item["event"]["payload"]
        if item["event"]["type"] in (
            "ScoreSheetSubmitted",
            "ScoreSheetRevised",
            "ScoreSheetCorrected",
            "ScoreSheetVoided",
        ):
            later[(item["event"]["stream_id"], p["entry_id"], p["judge_id"])] = item
    return next(item for item in later.values() if item["event"]["type"] == "ScoreSheetSubmitted")


def rescored(bundle: dict, sheet: dict, score: str) -> str:
    """``sheet``'s first criterion given ``score``, and its total the exact weighted sum again,
    as the operator's software would write it; returns the criterion."""
    criterion = sorted(sheet["payload"]["scores"])[0]
    sheet["payload"]["scores"][criterion] = score
    weights = {c["criterion_id"]: Decimal(c["weight"]) for c in bundle["rules"]["stage"]["criteria"]}
    with localcontext() as exact:
        exact.prec = 200  # a total of any digits the contract allows, exactly
        sheet["payload"]["total"] = str(sum(weights[c] * Decimal(v) for c, v in sheet["payload"]["scores"].items()))
    return criterion


def events_of(bundle: dict, log: str, kind: str) -> list[dict]:
    return [e for e in bundle["logs"][log]["events"] if e["event"]["type"] == kind]


def origin_of(served: dict) -> str:
    return served["note"].split("\n", 1)[0]


def certificates(bundle: dict) -> list[dict]:
    """This version's certificate, then each it replaces."""
    levels, level = [], bundle["certificate"]
    while level is not None:
        levels.append(level)
        level = level["replaces"]
    return levels


def drop_event(bundle: dict, log: str, item: dict) -> None:
    """Take an event out of its stream, as a rewrite of the store would: the later events of
    the stream move down a version, and every certificate and publication citing the stream's
    head cites the new one."""
    event = item["event"]
    bundle["logs"][log]["events"].remove(item)
    for other in bundle["logs"][log]["events"]:
        moved = other["event"]
        if moved["stream_id"] == event["stream_id"] and moved["stream_version"] > event["stream_version"]:
            moved["stream_version"] -= 1
    recite(bundle, log, event["stream_id"], lambda head: None if head is None else head - 1)


def publications(bundle: dict) -> list[dict]:
    """Every version's publication the bundle holds."""
    return events_of(bundle, "ranking", "StageResultsPublished") + events_of(
        bundle, "ranking", "StageResultsRepublished"
    )


def recite(bundle: dict, log: str, stream: str, change: Callable[[int | None], int | None]) -> None:
    """Every certificate and publication cites ``change(head)`` as the head of ``stream`` of
    ``log`` (``head`` None where it cited none; a new head None: it cites none)."""
    cited = [level["sources"][log]["streams"] for level in certificates(bundle) if log in level["sources"]]
    cited += [
        p["event"]["payload"]["streams"][log] for p in publications(bundle) if log in p["event"]["payload"]["streams"]
    ]
    for heads in cited:
        head = change(heads.get(stream))
        if head is None:
            heads.pop(stream, None)
        else:
            heads[stream] = head


def redefine_stage(bundle: dict, **fields) -> dict:
    """The stage defined (and its sessions opened) with ``fields`` changed, and every certificate
    and publication citing the new rule's fingerprint: the operator's whole rewrite of a rule."""
    stage = bundle["rules"]["stage"] = dict(bundle["rules"]["stage"], **fields)
    for item in events_of(bundle, "registration", "StageDefined") + events_of(bundle, "registration", "SessionOpened"):
        if item["event"]["payload"]["stage_id"] == stage["stage_id"]:
            item["event"]["payload"].update(fields)
    for level in certificates(bundle):
        level["rule_sha256"] = verifier.rule_fingerprint(stage)
    for publication in publications(bundle):
        publication["event"]["payload"]["rule_sha256"] = verifier.rule_fingerprint(stage)
    return stage


def reforged(bundle: dict, signer: Signer, origin_suffix: str = "") -> dict:
    """``bundle`` as an operator holding the key would make it after editing its events: each
    log rebuilt from the events the bundle holds, renumbered, with one fresh signed checkpoint
    (its origin followed by ``origin_suffix``: an invisible character makes another log that
    reads the same),
    and certificates (this version's and those it replaces) and publications that agree with
    them."""
    originals, renumbered = {}, {}
    for name, log in bundle["logs"].items():
        events = sorted(log["events"], key=lambda e: e["position"])
        originals[name] = [item["position"] for item in events]
        for n, item in enumerate(events, start=1):
            renumbered[(name, item["position"])] = n
            item["position"] = n
        log["events"] = events
    levels = certificates(bundle)
    for level in reversed(levels):  # oldest first: a later one names the digest of the one before
        old = level["publication"]["position"]
        publication = next(
            e for e in bundle["logs"]["ranking"]["events"] if e["position"] == renumbered[("ranking", old)]
        )
        payload = publication["event"]["payload"]
        for source, basis in level["sources"].items():
            basis["position"] = bisect.bisect_right(originals[source], basis["position"])
            payload["log_positions"][source] = basis["position"]
            payload["streams"][source] = dict(basis["streams"])
        level["publication"]["position"] = publication["position"]
        payload["standings_sha256"] = level["standings_sha256"] = hashlib.sha256(
            verifier.canonical(payload["standings"])
        ).hexdigest()
        short = level["standings_sha256"][:16]
        level["fingerprint"] = " ".join(short[i : i + 4] for i in range(0, 16, 4))
        if level["replaces"] is not None:
            payload["replaces_sha256"] = level["replaces"]["standings_sha256"]
        for record in events_of(bundle, "registration", "StageResultsRecorded"):  # registration's record agrees
            if record["event"]["payload"]["publication_event_id"] == publication["event"]["event_id"]:
                record["event"]["payload"]["standings_sha256"] = payload["standings_sha256"]
    for name, log in bundle["logs"].items():
        leaves = [verifier.leaf_of(item["event"], item["position"]) for item in log["events"]]
        tree = Tree(leaves)
        for index, item in enumerate(log["events"]):
            item["proof"] = [h.hex() for h in tree.inclusion_proof(index, tree.size)]
        named = origin_of(log["checkpoints"][0]) + origin_suffix
        note = signer.sign(Checkpoint(named, tree.size, tree.root()).body())
        log["origin"] = named
        log["checkpoints"] = [{"size": tree.size, "root": tree.root().hex(), "note": note}]
        for level in levels:
            level["checkpoints"][name] = {"origin": named, "size": tree.size, "root": tree.root().hex(), "note": note}
    return bundle


def rederived(bundle: dict) -> list[dict]:
    """The standings the sheets of the streams the certificate cites give, by the published
    rules: what a forger publishes so that the arithmetic agrees with the sheets it kept."""
    events = {
        name: sorted(((e["position"], e["event"]) for e in log["events"]), key=lambda pe: pe[0])
        for name, log in bundle["logs"].items()
    }
    contest = [e for _, e in events["registration"]]
    stage = next(
        e["payload"] for e in contest if e["type"] == "StageDefined" and e["payload"]["stage_id"] == bundle["stage_id"]
    )
    cited = bundle["certificate"]["sources"]["scoring"]["streams"]
    sessions = {
        e["payload"]["session_id"]: verifier.replay_session(
            e, verifier._stream(events["scoring"], f"scoring-{e['payload']['session_id']}"), bundle["contest_id"]
        )
        for e in contest
        if e["type"] == "SessionOpened" and f"scoring-{e['payload']['session_id']}" in cited
    }
    basis = {
        "stage": stage,
        "entries": {e["payload"]["entry_id"]: e["payload"] for e in contest if e["type"] == "EntrySubmitted"},
    }
    return verifier.rederive(basis, sessions)
