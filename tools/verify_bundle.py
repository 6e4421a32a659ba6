#!/usr/bin/env python3
"""Verify a leitai audit bundle on your own machine: signatures, proofs, and the result.

    python3 verify_bundle.py BUNDLE.json [--key VERIFIER_KEY ...] [--known CHECKPOINTS.json]

It needs Python 3.9+ and the ``cryptography`` package, nothing else: no network, no database,
and no code of leitai's (it is written apart from the services on purpose, from the rules
in docs/audit.md). It checks, in order:

1. every checkpoint's Ed25519 signed note (C2SP signed-note / tlog-checkpoint), by a key you
   give with --key (or, without one, by the keys the bundle names: then compare them with the
   ones the organiser published), and the consistency proof that links each to the one before;
2. with --known (a JSON list of signed checkpoint notes you kept earlier, or the state file
   of ``leitai audit monitor``), that every checkpoint you kept is the one of its size;
3. every event's inclusion proof in its log's certified tree (RFC 6962 hashing);
4. that every stream the certificate names is present whole, version 1 to its head;
5. the publication event (version 1, or a later one after corrections) against the certificate;
6. the standings, re-derived from the judges' sheets (and the approved corrections of locked
   sheets, for a later version) with this file's own implementation of the rules, against the
   certificate's digest.

It prints "verified" and exits 0, or prints the first discrepancy, naming the event it comes
from, and exits 1 (2 for a file it cannot read as a bundle).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import sys
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "leitai-audit-bundle/1"
CERTIFICATE_FORMAT = "leitai-certificate/1"
RULES_SPEC = "leitai-rules/1"  # the rules this file implements (docs/audit.md, "The rules")
SIGNATURE_DASH = "\u2014"
PUBLICATIONS = ("StageResultsPublished", "StageResultsRepublished")  # version 1; 2, 3, … after corrections


class Discrepancy(Exception):
    """The bundle does not verify; the message says where and why."""


class Malformed(Exception):
    """The file is not a bundle this verifier can read."""


WARNINGS: list = []  # what could not be checked offline, printed after the verdict


# -- hashing -----------------------------------------------------------------------------
def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def canonical(value) -> bytes:
    """Canonical JSON: keys sorted, no whitespace, UTF-8, non-ASCII text unescaped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_of(event: dict, position: int) -> bytes:
    record = dict(event)
    record["position"] = position
    return sha256(b"\x00" + canonical(record))


def interior(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def proves_inclusion(leaf: bytes, index: int, size: int, path: list, root: bytes) -> bool:
    """RFC 9162, section 2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            node = interior(sibling, node)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            node = interior(node, sibling)
        fn //= 2
        sn //= 2
    return sn == 0 and node == root


def proves_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list) -> bool:
    """RFC 9162, section 2.1.4.2."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = interior(c, fr), interior(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            sr = interior(sr, c)
        fn //= 2
        sn //= 2
    return sn == 0 and fr == first_root and sr == second_root


# -- signed notes ------------------------------------------------------------------------
class Key:
    def __init__(self, text: str) -> None:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise Malformed(f"verifier key {text[:40]!r}: expected <name>+<key id>+<key>")
        self.name, key_id = parts[0], parts[1]
        raw = _b64(parts[2], "verifier key")
        if len(raw) != 33 or raw[0] != 1:
            raise Malformed(f"verifier key {self.name}: not an Ed25519 key")
        self.key_id = sha256(self.name.encode() + b"\n" + raw)[:4]
        if self.key_id.hex() != key_id.lower():
            raise Malformed(f"verifier key {self.name}: its id does not match its name and key")
        self.public = Ed25519PublicKey.from_public_bytes(raw[1:])
        self.text = text.strip()

    def signed_text(self, note: str):
        """The text of ``note`` if this key signed it; None if it carries no signature of this key."""
        text, sep, lines = note.rpartition("\n\n")
        if not sep or not note.endswith("\n"):
            raise Discrepancy("a checkpoint is not a signed note")
        text += "\n"
        for line in lines.split("\n")[:-1]:
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != SIGNATURE_DASH:
                raise Discrepancy(f"malformed signature line {line[:60]!r}")
            blob = _b64(parts[2], "signature")
            if parts[1] != self.name or len(blob) != 68 or blob[:4] != self.key_id:
                continue
            try:
                self.public.verify(blob[4:], text.encode())
            except InvalidSignature:
                raise Discrepancy(
                    f"the signature of {self.name} on a checkpoint does not verify (forged or altered)"
                ) from None
            return text
        return None


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise Malformed(f"{what}: not base64") from None


def open_checkpoint(note: str, keys: list) -> tuple:
    """(origin, size, root) of a checkpoint signed by one of ``keys``."""
    for key in keys:
        text = key.signed_text(note)
        if text is not None:
            lines = text.split("\n")
            if len(lines) < 4 or not lines[1].isdigit():
                raise Discrepancy("a signed checkpoint is not origin / size / root")
            root = _b64(lines[2], "checkpoint root")
            if len(root) != 32:
                raise Discrepancy("a signed checkpoint's root is not 32 bytes")
            return lines[0], int(lines[1]), root
    raise Discrepancy("a checkpoint is signed by none of the trusted keys (forged, or signed by another key)")


# -- the rules (docs/audit.md, "The rules") ------------------------------------------------
def publish_round(total: Fraction) -> Decimal:
    """ROUND_HALF_UP to 2 places (scores are never negative)."""
    hundredths = math.floor(total * 100 + Fraction(1, 2))
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"))


def median(values: list) -> Fraction:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def rule_fingerprint(stage: dict) -> str:
    rule = {k: stage[k] for k in ("criteria", "groups", "drop_rule", "tolerance", "advancement", "lot_seed")}
    return hashlib.sha256(json.dumps(rule, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def drop_counts(tiers: list, sheets: int) -> tuple:
    applicable = [t for t in tiers if t["min_sheets"] <= sheets]
    if not applicable:
        return 0, 0
    tier = max(applicable, key=lambda t: t["min_sheets"])
    return tier["drop_high"], tier["drop_low"]


def competition_ranks(scores: list) -> list:
    ranks = []
    for i, score in enumerate(scores):
        ranks.append(ranks[-1] if i and scores[i - 1] == score else i + 1)
    return ranks


def standings(stage: dict, entries: dict, scored: list) -> list:
    """``scored``: one dict per entry: entry_id, group_id, totals {judge: Fraction},
    scores {judge: {criterion: Fraction}}."""
    chain = stage["advancement"].get("tiebreak") or []
    seed = stage.get("lot_seed") or ""
    rows = []
    for item in scored:
        ranked = sorted(item["totals"].items(), key=lambda jt: (jt[1], jt[0]))
        high, low = drop_counts(stage["drop_rule"], len(ranked))
        counted = ranked[low : len(ranked) - high]
        score = publish_round(sum((t for _, t in counted), Fraction(0)) / len(counted))
        keys = [-score]
        for rule in chain:
            if rule["kind"] == "median_total":
                keys.append(-median(list(item["totals"].values())))
            elif rule["kind"] == "criterion":
                judges = [j for j, _ in counted]
                keys.append(-sum((item["scores"][j][rule["criterion_id"]] for j in judges), Fraction(0)) / len(judges))
            else:
                keys.append(hashlib.sha256(f"{seed}:{item['entry_id']}".encode()).hexdigest())
        keys.append(item["entry_id"])
        rows.append((keys, item, score))
    rows.sort(key=lambda r: r[0])
    labels = [f"criterion:{r['criterion_id']}" if r["kind"] == "criterion" else r["kind"] for r in chain]
    scores = [score for _, _, score in rows]
    ranks = competition_ranks(scores)
    group_rank = {}
    for group in {item["group_id"] for _, item, _ in rows}:
        members = [(item["entry_id"], score) for _, item, score in rows if item["group_id"] == group]
        group_rank.update(zip([m for m, _ in members], competition_ranks([s for _, s in members]), strict=True))
    advancement, on_tie = stage["advancement"], stage["advancement"].get("on_tie", "tiebreak")

    def take(candidates: list, count: int) -> list:
        chosen = candidates[:count]
        if on_tie == "all_advance" and chosen:
            chosen += [c for c in candidates[count:] if c[1] == chosen[-1][1]]
        return [c[0] for c in chosen]

    advanced = set()
    if advancement.get("per_group"):
        for group in sorted({item["group_id"] for _, item, _ in rows}):
            advanced.update(
                take(
                    [(item["entry_id"], score) for _, item, score in rows if item["group_id"] == group],
                    advancement["per_group"],
                )
            )
    if advancement.get("overall"):
        advanced.update(
            take(
                [(item["entry_id"], score) for _, item, score in rows if item["entry_id"] not in advanced],
                advancement["overall"],
            )
        )
    table = []
    for index, (keys, item, score) in enumerate(rows):
        decided_by = None
        if index and rows[index - 1][0][0] == keys[0]:
            before = rows[index - 1][0]
            differs = next((i for i in range(1, len(keys)) if keys[i] != before[i]), len(keys) - 1)
            decided_by = labels[differs - 1] if differs <= len(labels) else "entry_id"
        entry = entries[item["entry_id"]]
        table.append(
            {
                "entry_id": item["entry_id"],
                "contestant_id": entry["contestant_id"],
                "name": entry["name"],
                "group_id": item["group_id"],
                "stage_score": str(score),
                "rank": ranks[index],
                "group_rank": group_rank[item["entry_id"]],
                "position": index + 1,
                "advanced": item["entry_id"] in advanced,
                "decided_by": decided_by,
            }
        )
    return table


def number(text, where: str) -> Fraction:
    try:
        return Fraction(Decimal(str(text)))
    except (InvalidOperation, ValueError):
        raise Discrepancy(f"{where}: {text!r} is not a number") from None


# -- the bundle --------------------------------------------------------------------------
def verify(bundle: dict, keys: list, known: list) -> list:
    """What was verified, a line each; Discrepancy or Malformed at the first thing that is not."""
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise Malformed(f"not a {BUNDLE_FORMAT} file")
    try:
        certificate, logs = bundle["certificate"], bundle["logs"]
        contest_id, stage_id = bundle["contest_id"], bundle["stage_id"]
        _check_certificate(certificate, contest_id, stage_id)
        if bundle["rules"]["spec"] != RULES_SPEC:
            raise Malformed(
                f"the bundle's rules are {bundle['rules']['spec']!r}; this verifier implements {RULES_SPEC}"
            )
        named = [Key(k) for k in bundle["keys"]]
        keys = keys or named
        events, done = {}, []
        for name in sorted(set(logs) | set(certificate["checkpoints"])):
            if name not in logs:
                raise Discrepancy(f"{name}: the certificate cites this log, the bundle holds none of it")
            log = logs[name]
            certified = _check_chain(name, log["checkpoints"], certificate["checkpoints"][name], keys, known)
            if log["origin"] != certified[0] or certificate["checkpoints"][name]["origin"] != certified[0]:
                raise Discrepancy(
                    f"{name}: the bundle or the certificate names another origin than its checkpoints' ({certified[0]})"
                )
            events[name] = _check_events(name, log["events"], certified)
            done.append(
                f"{name}: {len(log['checkpoints'])} checkpoints signed and consistent; "
                f"{len(events[name])} events proved in the certified tree of {certified[1]}"
            )
        _check_streams(certificate, events)
        publication = _check_publication(certificate, events, contest_id, stage_id)
        _check_replaced(certificate, publication["payload"], events, logs)
        rows = _check_result(certificate, publication, events, stage_id, bundle["rules"]["stage"])
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
        raise Malformed(f"missing or malformed part: {type(exc).__name__}: {exc}") from None
    return [
        f"stage {stage_id} of {contest_id}: {rows} standings re-derived from the sheets, digest "
        f"{certificate['standings_sha256']} as certified"
    ] + done


def _check_chain(name: str, chain: list, cited: dict, keys: list, known: list) -> tuple:
    """The certified checkpoint (origin, size, root), once the whole chain is signed and consistent."""
    last, certified = None, None
    for served in chain:
        origin, size, root = open_checkpoint(served["note"], keys)
        if (size, root.hex()) != (served["size"], served["root"]):
            raise Discrepancy(f"{name} checkpoint {served['size']}: the note signs another size or root")
        if last is not None:
            proof = served.get("consistency") or {}
            if (
                origin != last[0]
                or proof.get("from") != last[1]
                or not proves_consistency(
                    last[1], size, last[2], root, [bytes.fromhex(h) for h in proof.get("proof", [])]
                )
            ):
                raise Discrepancy(f"{name} checkpoint {size} is not consistent with checkpoint {last[1]} before it")
        last = (origin, size, root)
        if size == cited["size"]:
            if (root.hex(), served["note"]) != (cited["root"], cited["note"]):
                raise Discrepancy(
                    f"{name}: the certificate cites checkpoint {size} with another root or signature than the log's"
                )
            certified = last
        for origin_known, size_known, root_known in known:
            if origin_known == origin and size_known == size and root_known != root:
                raise Discrepancy(
                    f"{name} checkpoint {size} differs from the checkpoint of that size you kept: the log was rewritten"
                )
    if last is None:
        raise Discrepancy(f"{name}: the bundle holds no checkpoint")
    if certified is None:
        raise Discrepancy(f"{name}: the certificate cites checkpoint {cited['size']}, which is not in the log's chain")
    for origin_known, size_known, _ in known:
        if origin_known == last[0] and size_known > last[1]:
            WARNINGS.append(
                f"{name}: you kept checkpoint {size_known}, newer than this bundle's last ({last[1]}); "
                f"prove them consistent with `leitai audit prove-consistency {last[1]} {size_known}` "
                "or let the monitor do it"
            )
    return certified


def _check_events(name: str, entries: list, certified: tuple) -> list:
    _, size, root = certified
    checked, positions = [], set()
    for item in entries:
        position, event = item["position"], item["event"]
        where = f"{name} position {position} ({event.get('type')} {event.get('event_id')})"
        if position in positions:
            raise Discrepancy(f"{where}: a second event at this position")
        positions.add(position)
        if not proves_inclusion(
            leaf_of(event, position), position - 1, size, [bytes.fromhex(h) for h in item["proof"]], root
        ):
            raise Discrepancy(f"{where}: not in the certified log (its inclusion proof fails: changed, added or moved)")
        checked.append((position, event))
    return sorted(checked, key=lambda pe: pe[0])


def _check_streams(certificate: dict, events: dict) -> None:
    for source, basis in certificate["sources"].items():
        by_stream = {}
        for position, event in events.get(source, []):
            if position > basis["position"] and event["stream_id"] in basis["streams"]:
                raise Discrepancy(
                    f"{source} position {position} ({event['event_id']}): after the certified position "
                    f"{basis['position']}"
                )
            by_stream.setdefault(event["stream_id"], []).append(event["stream_version"])
        for stream, head in sorted(basis["streams"].items()):
            versions = by_stream.get(stream, [])
            missing = sorted(set(range(1, head + 1)) - set(versions))
            if missing:
                raise Discrepancy(
                    f"{source} stream {stream}: version {missing[0]} of 1..{head} is missing from the bundle"
                )
            if len(versions) != len(set(versions)) or max(versions) > head:
                raise Discrepancy(f"{source} stream {stream}: events beyond its certified head {head} or repeated")


def _check_publication(certificate: dict, events: dict, contest_id: str, stage_id: str) -> dict:
    log, position = certificate["publication"]["log"], certificate["publication"]["position"]
    found = [e for p, e in events.get(log, []) if p == position and e["type"] in PUBLICATIONS]
    if not found:
        raise Discrepancy(f"{log} position {position}: the publication event is not in the bundle")
    payload = found[0]["payload"]
    where = f"the publication ({found[0]['event_id']})"
    if (payload["contest_id"], payload["stage_id"]) != (contest_id, stage_id):
        raise Discrepancy(f"{where} is of another stage")
    for field, stated in (
        ("standings_sha256", certificate["standings_sha256"]),
        ("rule_sha256", certificate["rule_sha256"]),
        ("software_version", certificate["software_version"]),
    ):
        if payload.get(field) != stated:
            raise Discrepancy(f"{where}: {field} {payload.get(field)!r}, the certificate says {stated!r}")
    if set(payload["streams"]) != set(certificate["sources"]):
        raise Discrepancy(
            f"{where} was computed from {sorted(payload['streams'])}, the certificate names "
            f"{sorted(certificate['sources'])}"
        )
    for source, basis in certificate["sources"].items():
        if (
            payload["streams"].get(source) != basis["streams"]
            or payload["log_positions"].get(source) != basis["position"]
        ):
            raise Discrepancy(f"{where}: the streams or position of {source} differ from the certificate's")
    if hashlib.sha256(canonical(payload["standings"])).hexdigest() != payload["standings_sha256"]:
        raise Discrepancy(f"{where}: its standings do not have the digest it states")
    return found[0]


def _check_certificate(certificate: dict, contest_id: str, stage_id: str) -> None:
    if certificate["format"] != CERTIFICATE_FORMAT:
        raise Malformed(f"the certificate is {certificate['format']!r}, not {CERTIFICATE_FORMAT}")
    if (certificate["contest_id"], certificate["stage_id"]) != (contest_id, stage_id):
        raise Discrepancy(
            f"the certificate is of stage {certificate['stage_id']} of {certificate['contest_id']}, "
            f"the bundle of {stage_id} of {contest_id}"
        )
    if certificate["pending"]:
        raise Discrepancy(f"the certificate is incomplete: no checkpoint yet of {', '.join(certificate['pending'])}")
    short = certificate["standings_sha256"][:16]
    if certificate["fingerprint"] != " ".join(short[i : i + 4] for i in range(0, 16, 4)):
        raise Discrepancy(f"the certificate's fingerprint {certificate['fingerprint']!r} is not its digest's")
    replaces = certificate["replaces"]
    if replaces is not None:
        if not isinstance(replaces, dict):
            raise Malformed("the certificate replaces something that is not a certificate")
        _check_certificate(replaces, contest_id, stage_id)


def _check_replaced(certificate: dict, payload: dict, events: dict, logs: dict) -> None:
    """A later version's certificate names the one it replaces, and that one the one before, down
    to version 1: each the publication's replaces_sha256; its own publication event in the bundle,
    earlier in the same log, saying what it says; from the same streams, none longer than this
    one's; each checkpoint it cites one of the bundle's signed chain. Version 1 replaces nothing."""
    replaces, version = certificate["replaces"], payload.get("version", 1)
    if version == 1:
        if replaces is not None:
            raise Discrepancy("the publication is version 1, but the certificate says it replaces another")
        return
    if replaces is None:
        raise Discrepancy(f"the publication is version {version}; the certificate names none it replaces")
    if replaces["standings_sha256"] != payload["replaces_sha256"]:
        raise Discrepancy(
            f"version {version} replaces standings {payload['replaces_sha256'][:16]}…, the certificate "
            f"says {replaces['standings_sha256'][:16]}…"
        )
    earlier, now = replaces["publication"], certificate["publication"]
    if earlier["log"] != now["log"] or not int(earlier["position"]) < int(now["position"]):
        raise Discrepancy("the replaced result is not an earlier publication in the same log")
    replaced = _check_publication(replaces, events, certificate["contest_id"], certificate["stage_id"])
    if replaced["payload"].get("version", 1) != version - 1:
        raise Discrepancy(
            f"version {version} replaces the publication {replaced['event_id']}, which is not version {version - 1}"
        )
    if {k: set(v["streams"]) for k, v in replaces["sources"].items()} != {
        k: set(v["streams"]) for k, v in certificate["sources"].items()
    }:
        raise Discrepancy("the replaced result depends on other streams than this one")
    if set(replaces["checkpoints"]) != set(replaces["sources"]) | {earlier["log"]}:
        raise Discrepancy("the replaced result does not cite a checkpoint of each log it depends on")
    for source, basis in replaces["sources"].items():
        current = certificate["sources"].get(source, {}).get("streams", {})
        if not int(basis["position"]) <= int(certificate["sources"][source]["position"]) or any(
            stream not in current or not int(head) <= int(current[stream]) for stream, head in basis["streams"].items()
        ):
            raise Discrepancy(f"the replaced result was computed from {source} streams this one does not extend")
    for log, cited in replaces["checkpoints"].items():
        chain = {c["size"]: c for c in logs[log]["checkpoints"]} if log in logs else {}
        served = chain.get(cited["size"])
        if served is None or (served["root"], served["note"], logs[log]["origin"]) != (
            cited["root"],
            cited["note"],
            cited["origin"],
        ):
            raise Discrepancy(
                f"the replaced result cites {log} checkpoint {cited['size']}, which is not in the log's signed chain"
            )
    _check_replaced(replaces, replaced["payload"], events, logs)


def _check_result(certificate: dict, publication: dict, events: dict, stage_id: str, stated: dict) -> int:
    contest = [e for _, e in events.get("registration", [])]
    stage_event = next(
        (e for e in contest if e["type"] == "StageDefined" and e["payload"]["stage_id"] == stage_id), None
    )
    if stage_event is None:
        raise Discrepancy(f"registration: stage {stage_id} is never defined in the bundle")
    stage = stage_event["payload"]
    if stated != stage:
        raise Discrepancy(
            f"the bundle states other rules than stage {stage_id}'s definition ({stage_event['event_id']})"
        )
    fingerprint = rule_fingerprint(stage)
    if fingerprint != certificate["rule_sha256"]:
        raise Discrepancy(
            f"the certificate cites rule {certificate['rule_sha256'][:16]}…, but stage {stage_id} was "
            f"defined ({stage_event['event_id']}) with rule {fingerprint[:16]}…"
        )
    entries = {e["payload"]["entry_id"]: e["payload"] for e in contest if e["type"] == "EntrySubmitted"}
    sessions = {
        e["payload"]["session_id"]: e["payload"]
        for e in contest
        if e["type"] == "SessionOpened" and e["payload"]["stage_id"] == stage_id
    }
    weights = {c["criterion_id"]: number(c["weight"], "a criterion's weight") for c in stage["criteria"]}
    sheets, locked, origin = {}, set(), {}
    for position, event in events.get("scoring", []):
        p = event["payload"]
        if p.get("session_id") not in sessions:
            continue
        key = (p["session_id"], p.get("entry_id"), p.get("judge_id"))
        where = f"scoring position {position} ({event['event_id']})"
        if event["type"] in ("ScoreSheetSubmitted", "ScoreSheetRevised"):
            if p["session_id"] in locked:
                raise Discrepancy(f"{where}: a sheet after its session's lock")
            sheets[key], origin[key] = p, event["event_id"]
        elif event["type"] in ("ScoreSheetCorrected", "ScoreSheetVoided"):
            # an approved correction of a locked session: it cites the sheet it replaces (none for a sheet added)
            if p["session_id"] not in locked:
                raise Discrepancy(f"{where}: a correction before its session's lock")
            if p.get("cites") is not None and origin.get(key) != p["cites"]:
                raise Discrepancy(f"{where}: it cites {p['cites']}, which is not the sheet it corrects")
            if event["type"] == "ScoreSheetVoided":
                if key not in sheets:
                    raise Discrepancy(f"{where}: it voids a sheet that is not there")
                del sheets[key], origin[key]
            else:
                sheets[key], origin[key] = p, event["event_id"]
        elif event["type"] == "SessionLocked":
            locked.add(p["session_id"])
    open_sessions = sorted(set(sessions) - locked)
    if open_sessions:
        raise Discrepancy(f"session {open_sessions[0]} of the stage is not locked in the bundle")
    scored = []
    for session_id, session in sorted(sessions.items()):
        for entry in session["entries"]:
            mine = {j: s for (sid, e, j), s in sheets.items() if sid == session_id and e == entry["entry_id"]}
            if not mine:
                raise Discrepancy(f"entry {entry['entry_id']} of session {session_id} has no sheet in the bundle")
            totals, scores = {}, {}
            for judge, sheet in mine.items():
                where = f"sheet {origin[(session_id, entry['entry_id'], judge)]}"
                scores[judge] = {c: number(v, where) for c, v in sheet["scores"].items()}
                totals[judge] = sum((weights[c] * scores[judge][c] for c in weights), Fraction(0))
                if totals[judge] != number(sheet["total"], where):
                    raise Discrepancy(f"{where}: its total {sheet['total']} is not the weighted sum of its scores")
            if entry["entry_id"] not in entries:
                raise Discrepancy(f"entry {entry['entry_id']}: its EntrySubmitted is not in the bundle")
            scored.append(
                {"entry_id": entry["entry_id"], "group_id": session["group_id"], "totals": totals, "scores": scores}
            )
    table = standings(stage, entries, scored)
    digest = hashlib.sha256(canonical(table)).hexdigest()
    if digest == certificate["standings_sha256"]:
        return len(table)
    published = {r["entry_id"]: r for r in publication["payload"]["standings"]}
    scored_otherwise = [r for r in table if (published.get(r["entry_id"]) or {}).get("stage_score") != r["stage_score"]]
    for row in scored_otherwise + table:  # a score that differs first: the ranks follow from it
        other = published.get(row["entry_id"])
        if other != row:
            fields = sorted(k for k in row if other is None or other.get(k) != row.get(k))
            detail = ", ".join(
                f"{k} published {None if other is None else other.get(k)!r}, re-derived {row[k]!r}" for k in fields
            )
            raise Discrepancy(f"entry {row['entry_id']} ({row['name']}): {detail}")
    raise Discrepancy(
        f"the re-derived standings ({digest[:16]}…) are not the certified ones "
        f"({certificate['standings_sha256'][:16]}…): entries published that were not scored"
    )


def _known(path: str) -> list:
    """Checkpoints you kept: a JSON list of signed notes, or a monitor state file."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    try:
        notes = [v["note"] for v in data.values()] if isinstance(data, dict) else list(data)
        kept = []
        for note in notes:
            lines = note.split("\n")
            kept.append((lines[0], int(lines[1]), _b64(lines[2], "a kept checkpoint's root")))
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
        raise Malformed(
            f"{path}: not a list of checkpoints nor a monitor state ({type(exc).__name__}: {exc})"
        ) from None
    return kept


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--key", action="append", default=[], help="a verifier key the organiser published")
    parser.add_argument("--known", help="checkpoints you kept earlier (JSON list of notes, or a monitor state file)")
    args = parser.parse_args(argv)
    WARNINGS.clear()
    try:
        with open(args.bundle, encoding="utf-8") as handle:
            bundle = json.load(handle)
        keys = [Key(k) for k in args.key]
        known = _known(args.known) if args.known else []
        named = bundle.get("keys") if isinstance(bundle, dict) else None
        if keys and isinstance(named, list) and not any(k.text in named for k in keys):
            print("note: the bundle names other keys than yours; only yours are trusted", file=sys.stderr)
        done = verify(bundle, keys, known)
    except Discrepancy as exc:
        print(f"NOT verified: {exc}")
        return 1
    except (Malformed, OSError, ValueError) as exc:
        print(f"NOT verified: cannot read the bundle: {exc}")
        return 2
    print("verified")
    for line in done:
        print(f"  {line}")
    for line in WARNINGS:
        print(f"warning: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
