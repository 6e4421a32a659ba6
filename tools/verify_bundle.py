#!/usr/bin/env python3
"""Verify a leitai audit bundle on your own machine: signatures, proofs, and the result.

    python3 verify_bundle.py BUNDLE.json --key VERIFIER_KEY [--key ...]
        [--witness WITNESS_KEY ... [--min-witnesses K]] [--known CHECKPOINTS.json]

It needs Python 3.9+ and the ``cryptography`` package, nothing else: no network, no database,
and no code of leitai's (it is written apart from the services on purpose, from the rules
in docs/audit.md). It checks, in order:

1. the logs' checkpoints: each an Ed25519 signed note (C2SP signed-note / tlog-checkpoint) by
   a key you give with --key, of the origin ``<key name>/<log>``, consistent with the one
   before; with --witness, cosigned (C2SP tlog-cosignature) by at least K of the witnesses
   you name, at or after the certified one; with --known (checkpoints you kept earlier, or
   the state file of ``leitai audit monitor``), every one you kept is in the chain, unchanged;
2. every event's inclusion proof in its log's certified tree (RFC 6962 hashing);
3. what the result depends on, worked out from the log itself: the contest's stream, the
   stage's definition, every session opened for the stage (its scoring stream to the lock),
   every entry of the stage seated, every seated judge's sheet (or the lock's reason it is
   missing), no recused judge's; the publication's list of streams is checked against it;
4. corrections as the rules say: proposed and approved by two people in the roles the rules
   name, nothing rejected or withdrawn in effect, every corrected sheet citing the sheet it
   replaces, every republication following an approved correction;
5. the publication event (version 1, or a later one after corrections) against the certificate;
6. the standings, re-derived from the judges' sheets with this file's own implementation of
   the rules, against the certificate's digest.

It prints "verified" and exits 0, or prints the first discrepancy, naming the event it comes
from, and exits 1 (2 for a file it cannot read as a bundle). Every number is read with
bounds and every structure with a bounded depth: a hostile file gets an answer in seconds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import re
import sys
import time
from decimal import Decimal
from fractions import Fraction

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "leitai-audit-bundle/1"
CERTIFICATE_FORMAT = "leitai-certificate/1"
RULES_SPEC = "leitai-rules/1"  # the rules this file implements (docs/audit.md, "The rules")
SIGNATURE_DASH = "\u2014"
PUBLICATIONS = ("StageResultsPublished", "StageResultsRepublished")  # version 1; 2, 3, … after corrections
# the streams a stage's result lives in, named as the services name them (docs/audit.md)
CONTEST_STREAM, SESSION_STREAM, RESULTS_STREAM = "contest-{contest}", "scoring-{session}", "results-{contest}-{stage}"
SHEETS = ("ScoreSheetSubmitted", "ScoreSheetRevised")
CORRECTED = ("ScoreSheetCorrected", "ScoreSheetVoided")
DECIDED = {"CorrectionApproved": "approved", "CorrectionRejected": "rejected", "CorrectionWithdrawn": "withdrawn"}
# who may do what in a correction (复核), as the rules name the roles
PROPOSERS, APPROVERS = ("organiser",), ("organiser", "supervisor")

# an id as the services allow one (leitai/contracts/fields.py): look-alikes (a zero-width space) are not ids
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# bounds on what a bundle may hold: far above any real contest, far below what would stall
MAX_BYTES = 1 << 30
MAX_DEPTH = 64
MAX_INT_DIGITS = 18
# a score, weight, maximum or tolerance: a plain decimal, as the services write them
DECIMAL = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")


class Discrepancy(Exception):
    """The bundle does not verify; the message says where and why."""


class Malformed(Exception):
    """The file is not a bundle this verifier can read."""


WARNINGS: list = []  # what could not be checked offline, printed after the verdict


# -- reading, with bounds ------------------------------------------------------------------
def read_json(path: str, what: str):
    """The JSON in ``path``; Malformed for anything too big, too deep, or with a number that
    is not a bounded integer or a finite float."""
    try:
        if os.path.getsize(path) > MAX_BYTES:
            raise Malformed(f"{what} is larger than {MAX_BYTES >> 20} MiB")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError:
        raise Malformed(f"{what} is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise Malformed(f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise Malformed(f"{what} is not JSON: {str(exc)[:200]}") from None
    _bounded_depth(value, what)
    return value


def _bounded_depth(value, what: str) -> None:
    """Nesting deeper than MAX_DEPTH refused, walked without recursion (the parser's own
    recursion limit refused anything far deeper before this)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Malformed(f"{what} nests deeper than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"the number {text[:24]}… has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text) if len(text) <= 32 else math.inf
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:24]} is out of range")
    return value


def _constant(text: str):
    raise ValueError(f"{text} is not a number JSON allows")


def number(text, where: str) -> Fraction:
    """A decimal as the services write one (a string such as "9.6"), exactly."""
    if not isinstance(text, str) or not DECIMAL.fullmatch(text):
        raise Discrepancy(f"{where}: {str(text)[:40]!r} is not a decimal number")
    return Fraction(Decimal(text))


def count(value, where: str, least: int = 0) -> int:
    """A whole number of at least ``least`` (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise Discrepancy(f"{where}: {str(value)[:40]!r} is not a whole number of at least {least}")
    return value


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


# -- signed notes and cosignatures -----------------------------------------------------------
class Key:
    """A verifier key: ``<name>+<key id>+<base64(type || Ed25519 public key)>``; type 0x01 for
    a log's signed-note key, 0x04 for a witness's cosignature/v1 key (C2SP vkeys)."""

    def __init__(self, text: str, kind: int = 1) -> None:
        what = "verifier key" if kind == 1 else "witness key"
        parts = str(text).strip().split("+", 2)
        if len(parts) != 3:
            raise Malformed(f"{what} {str(text)[:40]!r}: expected <name>+<key id>+<key>")
        self.name, key_id = parts[0], parts[1]
        raw = _b64(parts[2], what)
        if len(raw) != 33 or raw[0] != kind:
            raise Malformed(f"{what} {self.name}: not an Ed25519 {'signed-note' if kind == 1 else 'cosignature'} key")
        self.key_id = sha256(self.name.encode() + b"\n" + raw)[:4]
        if self.key_id.hex() != key_id.lower():
            raise Malformed(f"{what} {self.name}: its id does not match its name and key")
        self.public = Ed25519PublicKey.from_public_bytes(raw[1:])
        self.text = str(text).strip()

    def signed_text(self, note: str):
        """The text of ``note`` if this key signed it; None if it carries no signature of this key."""
        text, lines = split_note(note)
        for name, blob in lines:
            if name != self.name or len(blob) != 68 or blob[:4] != self.key_id:
                continue
            try:
                self.public.verify(blob[4:], text.encode())
            except InvalidSignature:
                raise Discrepancy(
                    f"the signature of {self.name} on a checkpoint does not verify (forged or altered)"
                ) from None
            return text
        return None

    def cosigned(self, body: str, lines: list) -> bool:
        """Whether ``lines`` hold this witness's valid cosignature/v1 of the checkpoint ``body``
        (C2SP tlog-cosignature: key id || u64 timestamp || Ed25519 signature over
        "cosignature/v1\\ntime <t>\\n" || body)."""
        for name, blob in lines:
            if name != self.name or len(blob) != 76 or blob[:4] != self.key_id:
                continue
            stamp = int.from_bytes(blob[4:12], "big")
            if stamp >= 1 << 63 or stamp > time.time() + 86400:
                continue  # the spec bounds it; a cosignature dated tomorrow is no statement about today
            try:
                self.public.verify(blob[12:], f"cosignature/v1\ntime {stamp}\n{body}".encode())
            except InvalidSignature:
                continue
            return True
        return False


def split_note(note) -> tuple:
    """(text, [(key name, signature bytes)]) of a signed note."""
    if not isinstance(note, str):
        raise Discrepancy("a checkpoint is not a signed note")
    text, sep, lines = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise Discrepancy("a checkpoint is not a signed note")
    return text + "\n", [signature_line(line) for line in lines.split("\n")[:-1]]


def signature_line(line) -> tuple:
    parts = str(line).rstrip("\n").split(" ")
    if len(parts) != 3 or parts[0] != SIGNATURE_DASH:
        raise Discrepancy(f"malformed signature line {str(line)[:60]!r}")
    return parts[1], _b64(parts[2], "signature")


def _b64(text, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise Malformed(f"{what}: not base64") from None


def open_checkpoint(note: str, keys: list) -> tuple:
    """(origin, size, root, key) of a checkpoint signed by one of ``keys``."""
    for key in keys:
        text = key.signed_text(note)
        if text is not None:
            lines = text.split("\n")
            if len(lines) < 4 or not re.fullmatch(r"[1-9][0-9]{0,17}", lines[1]):
                raise Discrepancy("a signed checkpoint is not origin / size / root")
            root = _b64(lines[2], "checkpoint root")
            if len(root) != 32:
                raise Discrepancy("a signed checkpoint's root is not 32 bytes")
            return lines[0], int(lines[1]), root, key
    raise Discrepancy("a checkpoint is signed by none of the trusted keys (forged, or signed by another key)")


def pinned_origin(key, log: str) -> str:
    """The one origin a log's checkpoints may name: the signing key's name, '/', the log's name."""
    return f"{key.name}/{log}"


# -- the rules (docs/audit.md, "The rules") ------------------------------------------------
def publish_round(total: Fraction) -> Decimal:
    """ROUND_HALF_UP to 2 places (scores are never negative)."""
    hundredths = math.floor(total * 100 + Fraction(1, 2))
    return Decimal(hundredths).scaleb(-2)  # exact, whatever the number of digits


def median(values: list) -> Fraction:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def rule_fingerprint(stage: dict) -> str:
    rule = {k: stage[k] for k in ("criteria", "groups", "drop_rule", "tolerance", "advancement", "lot_seed")}
    return hashlib.sha256(json.dumps(rule, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def drop_counts(tiers: list, sheets: int) -> tuple:
    where = "the stage's drop rule"
    applicable = [t for t in tiers if count(t["min_sheets"], where) <= sheets]
    if not applicable:
        return 0, 0
    tier = max(applicable, key=lambda t: t["min_sheets"])
    return count(tier["drop_high"], where), count(tier["drop_low"], where)


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
        counted = ranked[low : len(ranked) - high] if high + low < len(ranked) else []
        if not counted:
            raise Discrepancy(
                f"entry {item['entry_id']}: the drop rule drops {high} + {low} of its {len(ranked)} sheets, "
                "leaving none to count"
            )
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


# -- the bundle --------------------------------------------------------------------------
def verify(bundle: dict, keys: list, known: list, witnesses: list = (), quorum: int = 0) -> list:
    """What was verified, a line each; Discrepancy or Malformed at the first thing that is not.
    ``keys``: the log keys trusted; ``known``: (origin, size, root) of checkpoints kept earlier;
    ``witnesses``: witness keys, of which ``quorum`` must have cosigned each log."""
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
        for origin, size, _ in known:
            if origin.rpartition("/")[2] not in logs:
                raise Discrepancy(f"you kept checkpoint {size} of {origin}, a log this bundle does not hold")
        events, done = {}, []
        for name in sorted(set(logs) | set(certificate["checkpoints"])):
            if name not in logs:
                raise Discrepancy(f"{name}: the certificate cites this log, the bundle holds none of it")
            log = logs[name]
            certified, latest, note = _check_chain(name, log, certificate["checkpoints"][name], keys, known)
            _check_covers(name, certificate, certified[1])
            events[name] = _check_events(name, log["events"], latest)
            if witnesses:  # every event used, and the certified checkpoint, under a witnessed one
                needed = max([certified[1]] + [position for position, _ in events[name]])
                note += _check_witnessed(name, log["checkpoints"], needed, witnesses, quorum)
            done.append(f"{name}: {note}; {len(events[name])} events proved in its tree of {latest[1]}")
        _check_order(events)
        _check_streams(certificate, events)
        publication = _check_publication(certificate, events, contest_id, stage_id)
        _check_replaced(certificate, publication["payload"], events, logs)
        basis = depends_on(certificate, publication, events, contest_id, stage_id)
        sessions = {}
        for sid, opened in sorted(basis["sessions"].items()):
            stream = _stream(events["scoring"], SESSION_STREAM.format(session=sid))
            head = certificate["sources"]["scoring"]["streams"][SESSION_STREAM.format(session=sid)]
            _noted(stream, head, publication, "StageResultsNoted")
            sessions[sid] = replay_session(
                opened, [e for e in stream if e["stream_version"] <= head], contest_id, basis["people"]
            )
        _check_publications(events["ranking"], publication, sessions, contest_id, stage_id)
        if bundle["rules"]["stage"] != basis["stage"]:
            raise Discrepancy(
                f"the bundle states other rules than stage {stage_id}'s definition ({basis['defined']['event_id']})"
            )
        rows = check_result(certificate, publication, basis, sessions)
    except (
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        ValueError,
        OverflowError,
        RecursionError,
        UnicodeError,
    ) as exc:
        raise Malformed(f"missing or malformed part: {type(exc).__name__}: {ascii(str(exc))[:200]}") from None
    version = publication["payload"].get("version", 1)
    return [
        f"stage {stage_id} of {contest_id}, version {version} of its result (a later one may follow a correction): "
        f"{rows} standings re-derived from the sheets of {len(sessions)} sessions, digest "
        f"{certificate['standings_sha256']} as certified"
    ] + done


def _check_chain(name: str, log: dict, cited: dict, keys: list, known: list) -> tuple:
    """((origin, size, root) of the certified checkpoint, of the chain's latest, what was
    checked) once every checkpoint of the chain is signed, of the log's pinned origin,
    consistent with the one before, and every checkpoint you kept is one of them, unchanged.
    The bundle's events are proved in the latest: it holds the certified tree (consistency),
    and the registration log's record of the publication, which comes after it."""
    chain = log["checkpoints"]
    if not isinstance(chain, list) or not chain:
        raise Discrepancy(f"{name}: the bundle holds no checkpoint")
    last, certified, roots = None, None, {}
    for served in chain:
        origin, size, root, key = open_checkpoint(served["note"], keys)
        if origin != pinned_origin(key, name):
            raise Discrepancy(
                f"{name} checkpoint {size}: it names the origin {origin!r}; a {name} checkpoint signed by "
                f"{key.name} names {pinned_origin(key, name)!r}"
            )
        if (size, root.hex()) != (served["size"], served["root"]):
            raise Discrepancy(f"{name} checkpoint {served['size']}: the note signs another size or root")
        if last is not None:
            proof = served.get("consistency") or {}
            if (
                not proves_consistency(last[1], size, last[2], root, [bytes.fromhex(h) for h in proof.get("proof", [])])
                or proof.get("from") != last[1]
            ):
                raise Discrepancy(f"{name} checkpoint {size} is not consistent with checkpoint {last[1]} before it")
        last, roots[size] = (origin, size, root), root
        if size == cited["size"]:
            if (root.hex(), served["note"], origin) != (cited["root"], cited["note"], cited["origin"]):
                raise Discrepancy(
                    f"{name}: the certificate cites checkpoint {size} with another root or signature than the log's"
                )
            certified = last
    if certified is None:
        raise Discrepancy(f"{name}: the certificate cites checkpoint {cited['size']}, which is not in the log's chain")
    if log["origin"] != last[0]:
        raise Discrepancy(f"{name}: the bundle names the origin {log['origin']!r}, its checkpoints {last[0]!r}")
    kept = 0
    for origin, size, root in known:
        if origin.rpartition("/")[2] != name:
            continue
        if origin != last[0]:
            raise Discrepancy(
                f"{name}: you kept checkpoint {size} of the origin {origin!r}; this bundle's log is {last[0]!r}"
            )
        if size not in roots:
            where = (
                f"this bundle's chain ends at {last[1]} (ask for a bundle made after your checkpoint)"
                if size > last[1]
                else "this bundle's chain skips it"
            )
            raise Discrepancy(
                f"{name}: you kept checkpoint {size}, and {where}: the bundle cannot be proved consistent with it"
            )
        if roots[size] != root:
            raise Discrepancy(
                f"{name} checkpoint {size} differs from the checkpoint of that size you kept: the log was rewritten"
            )
        kept += 1
    said = f"{len(chain)} checkpoints signed and consistent"
    return certified, last, said + (f", {kept} you kept among them" if kept else "")


def _check_covers(name: str, certificate: dict, size: int) -> None:
    """The certified checkpoint holds what the certificate says the result rests on: the
    publication, and the position each source log was read at."""
    cited = certificate["sources"].get(name, {}).get("position")
    if name == certificate["publication"]["log"]:
        cited = max(cited or 0, certificate["publication"]["position"])
    if cited is not None and count(cited, f"{name}: the cited position", 1) > size:
        raise Discrepancy(f"{name}: the certificate cites position {cited}, beyond its certified checkpoint {size}")


def _check_witnessed(name: str, chain: list, needed: int, witnesses: list, quorum: int) -> str:
    """A checkpoint holding every position ``needed`` (each later one proved consistent with
    it) that ``quorum`` of ``witnesses`` cosigned: a view of the log others saw, not the
    operator's alone."""
    most = 0
    for served in chain:
        if served["size"] < needed:
            continue
        body, lines = split_note(served["note"])
        lines += [signature_line(line) for line in served.get("cosignatures") or []]
        cosigned = sum(1 for witness in witnesses if witness.cosigned(body, lines))
        if cosigned >= quorum:
            return f"; checkpoint {served['size']} cosigned by {cosigned} of your {len(witnesses)} witnesses"
        most = max(most, cosigned)
    raise Discrepancy(
        f"{name}: no checkpoint holding position {needed} (every event used) is cosigned by {quorum} of your "
        f"{len(witnesses)} witnesses (at most {most}): nobody outside the operator is shown to have seen this log"
    )


def _check_events(name: str, entries: list, certified: tuple) -> list:
    _, size, root = certified
    checked, positions = [], set()
    for item in entries:
        position, event = count(item["position"], f"{name}: a position", 1), item["event"]
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


def _stream(events: list, stream: str) -> list:
    return sorted((e for _, e in events if e["stream_id"] == stream), key=lambda e: e["stream_version"])


def _check_streams(certificate: dict, events: dict) -> None:
    """Every stream the certificate cites whole from version 1, through its head and on to the
    service's note of the publication (depends_on and replay_session read them); no sheet,
    lock or correction in effect at or before the position the result was computed at is
    beyond the head it cites."""
    for source, basis in certificate["sources"].items():
        by_stream = {}
        for position, event in events.get(source, []):
            stream = event["stream_id"]
            head = basis["streams"].get(stream)
            if (
                head is not None
                and event["stream_version"] > head
                and position <= basis["position"]
                and event["type"] in (*SHEETS, *CORRECTED, "SessionLocked")
            ):
                raise Discrepancy(
                    f"{source} position {position} ({event['type']} {event['event_id']}): the result was computed "
                    f"at position {basis['position']} from {stream} up to version {head}, and leaves this out"
                )
            by_stream.setdefault(stream, []).append(count(event["stream_version"], f"{source} {stream}", 1))
        for stream, head in sorted(basis["streams"].items()):
            versions = by_stream.get(stream, [])
            last = max(versions + [count(head, f"{source} {stream}", 1)])
            missing = _first_missing(versions, last)
            if missing is not None:
                raise Discrepancy(
                    f"{source} stream {stream}: version {missing} of 1..{last} is missing from the bundle"
                )
            if len(versions) != len(set(versions)):
                raise Discrepancy(f"{source} stream {stream}: a version repeated")


def _noted(stream: list, head: int, publication: dict, kind: str) -> dict:
    """The service's note of the publication (``kind``) in ``stream``: the last of the stream in
    the bundle, after the head the result cites. A log shows what is in it, never what is not;
    with everything up to the note before the auditor's eyes, nothing before it is left out."""
    note = next(
        (e for e in stream if e["type"] == kind and e["payload"]["publication_event_id"] == publication["event_id"]),
        None,
    )
    where = stream[0]["stream_id"] if stream else "a stream the result cites"
    if note is None:
        raise Discrepancy(
            f"{where}: holds no {kind} of the publication {publication['event_id']} (it must run through it)"
        )
    if note["payload"].get("version", 1) != publication["payload"].get("version", 1):
        raise Discrepancy(f"{where}: {note['event_id']} notes another version than the publication")
    if note["stream_version"] <= head or stream[-1] is not note:
        raise Discrepancy(f"{where}: the note of the publication is not the last in the bundle, after the head cited")
    return note


def _first_missing(versions: list, last: int):
    """The first of 1..``last`` not in ``versions``, or None: in the time of the versions there
    are, however large ``last`` is."""
    for expected, version in enumerate(sorted(set(versions)), start=1):
        if version != expected:
            return expected
    return len(set(versions)) + 1 if len(set(versions)) < last else None


def _check_order(events: dict) -> None:
    """In every stream, the versions run in the order of the log's positions (proved): a
    stream's version 41 cannot sit after its version 42, as a sheet backdated before a lock
    would."""
    for name, items in events.items():
        last = {}
        for position, event in items:
            stream, version = event["stream_id"], count(event["stream_version"], f"{name} position {position}", 1)
            if version <= last.get(stream, 0):
                raise Discrepancy(
                    f"{name} position {position} ({event['type']} {event['event_id']}): version {version} of "
                    f"{stream} comes after version {last[stream]} in the log"
                )
            last[stream] = version


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


# -- what the result depends on, from the log itself --------------------------------------
def depends_on(certificate: dict, publication: dict, events: dict, contest_id: str, stage_id: str) -> dict:
    """The stage's definition, its sessions and its entries, from the contest's own stream,
    replayed by registration's rules (replay_contest); the certificate's (and so the
    publication's) list of streams must be exactly the one the log gives: the contest's stream
    and the scoring stream of every session opened for the stage."""
    sources = certificate["sources"]
    if set(sources) != {"registration", "scoring"}:
        raise Discrepancy(f"the result is certified from the logs {sorted(sources)}, not from registration and scoring")
    contest_stream = CONTEST_STREAM.format(contest=contest_id)
    if set(sources["registration"]["streams"]) != {contest_stream}:
        raise Discrepancy(
            f"registration: the result cites {sorted(sources['registration']['streams'])}; it depends on the "
            f"contest's stream {contest_stream}"
        )
    whole = _stream(events["registration"], contest_stream)
    for event in whole:
        if event["payload"].get("contest_id") != contest_id:
            raise Discrepancy(f"registration {event['event_id']} in {contest_stream} is of another contest")
    head = sources["registration"]["streams"][contest_stream]
    _check_recorded(whole, head, publication, stage_id)
    contest = [e for e in whole if e["stream_version"] <= head]  # as the result was computed
    defined = [e for e in contest if e["type"] == "StageDefined" and e["payload"]["stage_id"] == stage_id]
    if len(defined) != 1:
        raise Discrepancy(
            f"registration: stage {stage_id} is defined {len(defined)} times in {contest_stream}, not once"
        )
    stage = defined[0]["payload"]
    sessions, entries = replay_contest(contest, stage)
    if not sessions:
        raise Discrepancy(f"registration: no session of stage {stage_id} is opened in {contest_stream}")
    cited = set(sources["scoring"]["streams"])
    derived = {SESSION_STREAM.format(session=s): e for s, e in sessions.items()}
    left_out = sorted(set(derived) - cited)
    if left_out:
        raise Discrepancy(
            f"the result leaves out {left_out[0]}, the scoring of a session opened for stage {stage_id} "
            f"({derived[left_out[0]]['event_id']})"
        )
    if cited - set(derived):
        raise Discrepancy(
            f"the result cites {sorted(cited - set(derived))[0]}, of no session opened for stage {stage_id}"
        )
    people = frozenset(
        person.casefold()
        for e in contest
        if e["type"] in ("JudgeRegistered", "EntrySubmitted")
        for person in (e["payload"].get("judge_id"), e["payload"].get("contestant_id"))
        if person
    )
    return {"stage": stage, "defined": defined[0], "sessions": sessions, "entries": entries, "people": people}


def replay_contest(contest: list, stage: dict) -> tuple:
    """({session id: its SessionOpened}, {entry id: EntrySubmitted payload}) of the stage, the
    contest's stream replayed by registration's rules: a session opened for the stage seats
    exactly the entries in the stage from its group's townships, not withdrawn, in the order
    drawn, each as submitted, and the panel seated for it, each judge as registered; an entry
    moves to a stage only as a recorded result advanced it, or as a followed correction did;
    every entry of the stage is seated once."""
    stage_id = stage["stage_id"]
    groups = {g["group_id"]: g for g in stage["groups"]}
    judges, entries, changes, contestants, townships = {}, {}, {}, set(), {}
    first = min((e["payload"]["order"], e["payload"]["stage_id"]) for e in contest if e["type"] == "StageDefined")[1]
    # what each recorded result advanced, and the correction each republication follows (by
    # correction id: its stage): registration hears of a result and of each entry it advances on
    # separate queues, so an EntryAdvanced may come before the record it follows
    advancing, republished = {}, {}
    for record in (e["payload"] for e in contest if e["type"] == "StageResultsRecorded"):
        advancing.setdefault(record["stage_id"], set()).update(record.get("advanced") or [])
        if record.get("correction_id"):
            republished[record["correction_id"]] = record["stage_id"]
    scheduled, seated, drawn, sessions, seats = {}, {}, {}, {}, {}
    for event in contest:
        p, kind, where = event["payload"], event["type"], f"registration {event['type']} {event['event_id']}"
        if kind == "JudgeRegistered":
            if p["judge_id"] in judges:  # registration refuses it: a declared conflict is never dropped
                raise Discrepancy(f"{where}: judge {p['judge_id']} is registered a second time")
            judges[p["judge_id"]] = p
        elif kind == "EntrySubmitted":
            if p["entry_id"] in entries or p["contestant_id"] in contestants or p["stage_id"] != first:
                raise Discrepancy(
                    f"{where}: registration takes each entry and contestant once, into the first stage ({first})"
                )
            entries[p["entry_id"]] = dict(p, withdrawn=False, now=p["stage_id"])
            contestants.add(p["contestant_id"])
            townships.setdefault(p["township_code"], []).append(p["entry_id"])
        elif kind in ("EntryWithdrawn", "EntryAdvanced", "EntryAdvancementRevoked"):
            entry = entries.get(p["entry_id"])
            if entry is None:
                raise Discrepancy(f"{where}: entry {p['entry_id']} was never submitted")
            if kind == "EntryWithdrawn":
                entry["withdrawn"] = True
            elif p.get("change_id") is not None:
                moved = "gained" if kind == "EntryAdvanced" else "lost"
                change = changes.get(p["change_id"])
                if change is None or p["entry_id"] not in {c["entry_id"] for c in change[moved]}:
                    raise Discrepancy(
                        f"{where}: it follows change {p['change_id']}, which the contest never followed for this entry"
                    )
                entry["now"] = p["to_stage_id"]
            elif kind == "EntryAdvancementRevoked" or p["entry_id"] not in advancing.get(p["from_stage_id"], ()):
                raise Discrepancy(
                    f"{where}: no recorded result of stage {p['from_stage_id']} advances entry {p['entry_id']}"
                )
            else:
                entry["now"] = p["to_stage_id"]
        elif kind in ("AdvancementChangeFollowed", "AdvancementChangeDecided"):
            if republished.get(p["change_id"]) != p["stage_id"]:
                raise Discrepancy(
                    f"{where}: no recorded republication of stage {p['stage_id']} follows {p['change_id']}"
                )
            changes[p["change_id"]] = p
        elif kind == "SessionScheduled":
            scheduled[p["session_id"]] = p
        elif kind == "PanelSeated":
            seats[p["session_id"]] = p["seats"]
        elif kind == "OrderDrawn":
            drawn[p["session_id"]] = p["order"]
        elif kind == "SessionOpened" and p["stage_id"] == stage_id:
            _check_opened(event, stage, groups, scheduled, seats, drawn, judges, entries, townships, seated)
            sessions[p["session_id"]] = event
    members = sorted(e for e, entry in entries.items() if entry["now"] == stage_id and not entry["withdrawn"])
    unseated = [e for e in members if e not in seated and sessions]
    if unseated:
        raise Discrepancy(
            f"entry {unseated[0]} ({entries[unseated[0]]['name']}) is in stage {stage_id}, "
            "but seated in none of its sessions"
        )
    return sessions, {
        e: {k: v for k, v in entry.items() if k not in ("withdrawn", "now")} for e, entry in entries.items()
    }


def _check_opened(event, stage, groups, scheduled, seats, drawn, judges, entries, townships, seated) -> None:
    """A SessionOpened against what the contest's stream held when it was opened."""
    p = event["payload"]
    session_id = p["session_id"]
    where = f"session {session_id} ({event['event_id']})"
    if session_id in seated.values():
        raise Discrepancy(f"{where} is opened a second time")
    for field in ("criteria", "drop_rule"):
        if p[field] != stage[field]:
            raise Discrepancy(f"{where} was opened with other {field} than stage {stage['stage_id']} was defined with")
    plan = scheduled.get(session_id)
    group = groups.get(p["group_id"])
    if plan is None or (plan["stage_id"], plan["group_id"]) != (stage["stage_id"], p["group_id"]) or group is None:
        raise Discrepancy(f"{where}: it is not a session scheduled for group {p['group_id']} of the stage")
    order = drawn.get(session_id) or []
    expected = sorted(
        e
        for township in group["townships"]
        for e in townships.get(township, ())
        if entries[e]["now"] == stage["stage_id"] and not entries[e]["withdrawn"]
    )
    if sorted(order) != expected:
        raise Discrepancy(
            f"{where}: it seats {len(order)} entries, but {len(expected)} of group {p['group_id']} are in the stage "
            f"({sorted(set(order) ^ set(expected))[:3]} differ)"
        )
    fields = ("contestant_id", "name", "township_code", "work_unit")
    wanted = [
        dict({k: entries[e].get(k, "") for k in fields}, entry_id=e, order=n) for n, e in enumerate(order, start=1)
    ]
    if p["entries"] != wanted:
        raise Discrepancy(f"{where}: its entries are not the ones drawn, as they were submitted")
    panel = []
    for seat in seats.get(session_id) or []:
        judge = judges.get(seat["judge_id"])
        if judge is None:
            raise Discrepancy(f"{where}: judge {seat['judge_id']} on its panel was never registered")
        panel.append(
            dict(
                {k: judge.get(k) for k in ("name", "township_code", "work_unit", "conflicts")},
                judge_id=seat["judge_id"],
                head=seat["head"],
                reserve=seat["reserve"],
            )
        )
    if not panel or p["panel"] != panel:
        raise Discrepancy(f"{where}: its panel is not the one seated for it, each judge as registered")
    for entry_id in order:
        seated[entry_id] = session_id


def _check_recorded(contest: list, head: int, publication: dict, stage_id: str) -> None:
    """Registration records every publication in the contest's stream (_noted); a session of the
    stage opened before the record but after the head the result cites was left out."""
    record = _noted(contest, head, publication, "StageResultsRecorded")
    if (record["payload"]["stage_id"], record["payload"]["standings_sha256"]) != (
        stage_id,
        publication["payload"]["standings_sha256"],
    ):
        raise Discrepancy(f"registration {record['event_id']}: it records another result than the publication")
    for event in contest:
        if (
            head < event["stream_version"]
            and event["type"] == "SessionOpened"
            and event["payload"]["stage_id"] == stage_id
        ):
            raise Discrepancy(
                f"session {event['payload']['session_id']} of stage {stage_id} was opened ({event['event_id']}) "
                "before the result was recorded, and the result leaves it out"
            )


def recused(judge: dict, entry: dict) -> bool:
    """回避, as docs/audit.md states the rule: the judge's township, the judge's work unit, or a
    conflict the judge declared with the contestant."""
    return bool(
        (judge.get("township_code") and judge["township_code"] == entry["township_code"])
        or (judge.get("work_unit") and judge["work_unit"] == entry.get("work_unit"))
        or entry["contestant_id"] in (judge.get("conflicts") or [])
    )


def replay_session(opened: dict, stream: list, contest_id: str, people: frozenset = frozenset()) -> dict:
    """A session's scoring stream, replayed against the rules: the sheets in effect (after
    approved corrections), each from a judge seated and not recused; the lock, with a reason
    for every sheet missing at it; every correction proposed and approved by two people in
    the roles the rules name, and only an approved one in effect."""
    plan = opened["payload"]
    session_id = plan["session_id"]
    panel = {j["judge_id"]: j for j in plan["panel"]}
    seats = {e["entry_id"]: e for e in plan["entries"]}
    sheets, origin, corrections, lock = {}, {}, {}, None
    for event in stream:
        p, kind = event["payload"], event["type"]
        where = f"scoring {event['stream_id']} version {event['stream_version']} ({kind} {event['event_id']})"
        if (p.get("contest_id"), p.get("session_id")) != (contest_id, session_id):
            raise Discrepancy(f"{where}: of session {p.get('session_id')} of {p.get('contest_id')}, not of this one")
        key = (p.get("entry_id"), p.get("judge_id"))
        if kind in SHEETS:
            if lock is not None:
                raise Discrepancy(f"{where}: a sheet after its session's lock")
            if event["actor"] != p["judge_id"]:
                raise Discrepancy(f"{where}: judge {p['judge_id']}'s sheet, sent by {event['actor']}")
            _seated(where, panel, seats, key)
            sheets[key], origin[key] = p, event["event_id"]
        elif kind == "SessionLocked":
            if lock is not None:
                raise Discrepancy(f"{where}: the session is locked a second time")
            _check_lock(where, event, panel, seats, sheets)
            lock = event
        elif kind == "CorrectionProposed":
            _proposed(where, event, lock, corrections, origin.get(key))
            _not_of_the_panel(where, p["proposed_by"], people)
        elif kind in DECIDED:
            _decided(where, event, corrections)
            _not_of_the_panel(where, p["by"], people)
        elif kind in CORRECTED:
            correction = corrections.get(p["correction_id"])
            status = correction["status"] if correction else "never proposed"
            if status != "approved":
                raise Discrepancy(f"{where}: correction {p['correction_id']} takes effect, but it was {status}")
            expected = "ScoreSheetVoided" if correction["kind"] == "void_sheet" else "ScoreSheetCorrected"
            if kind != expected or key != (correction["entry_id"], correction["judge_id"]):
                raise Discrepancy(f"{where}: it is not what correction {p['correction_id']} proposed")
            if p["cites"] != origin.get(key) or p["cites"] != correction["cites"]:
                raise Discrepancy(
                    f"{where}: it cites {p['cites']}, but the judge's sheet it corrects is {origin.get(key)}"
                )
            if kind == "ScoreSheetVoided":
                del sheets[key], origin[key]
            else:
                if p["scores"] != correction["scores"]:
                    raise Discrepancy(f"{where}: its scores are not the ones correction {p['correction_id']} proposed")
                _seated(where, panel, seats, key)
                sheets[key], origin[key] = p, event["event_id"]
            correction["status"] = "in effect"
        elif kind not in (
            "EntryScored",
            "EntryRescored",
            "ToleranceFlagRaised",
            "ToleranceFlagWithdrawn",
            "StageResultsNoted",
        ):
            raise Discrepancy(f"{where}: not an event of a scoring stream")
    if lock is None:
        raise Discrepancy(f"session {session_id} of the stage is not locked in the bundle")
    reserves = {e: sum(1 for (entry, j) in sheets if entry == e and panel[j]["reserve"]) for e in seats}
    for entry_id, entry in seats.items():
        standing_aside = sum(1 for j in panel.values() if not j["reserve"] and recused(j, entry))
        if reserves[entry_id] > standing_aside:
            raise Discrepancy(
                f"session {session_id}: entry {entry_id} has {reserves[entry_id]} reserves' sheets, for "
                f"{standing_aside} seated judges who stand aside"
            )
    return {"plan": plan, "sheets": sheets, "origin": origin, "corrections": corrections}


def _seated(where: str, panel: dict, seats: dict, key: tuple) -> None:
    entry_id, judge_id = key
    if entry_id not in seats:
        raise Discrepancy(f"{where}: entry {entry_id} is not seated in this session")
    if judge_id not in panel:
        raise Discrepancy(f"{where}: judge {judge_id} is not on this session's panel")
    if recused(panel[judge_id], seats[entry_id]):
        raise Discrepancy(f"{where}: judge {judge_id} stands aside (回避) for entry {entry_id}, and scored it")


def _check_lock(where: str, event: dict, panel: dict, seats: dict, sheets: dict) -> None:
    p = event["payload"]
    if p["locked_by"] != event["actor"]:
        raise Discrepancy(f"{where}: locked by {p['locked_by']}, but the event's actor is {event['actor']}")
    missing = [
        (entry_id, judge_id)
        for entry_id, entry in seats.items()
        for judge_id, judge in panel.items()
        if not judge["reserve"] and not recused(judge, entry) and (entry_id, judge_id) not in sheets
    ]
    if count(p["missing_sheets"], where) != len(missing):
        raise Discrepancy(
            f"{where}: the lock records {p['missing_sheets']} sheets missing; the stream before it lacks {len(missing)}"
        )
    if missing and not str(p.get("override_reason") or "").strip():
        raise Discrepancy(
            f"{where}: judge {missing[0][1]}'s sheet of entry {missing[0][0]} is missing at the lock, which gives "
            "no reason"
        )


def _not_of_the_panel(where: str, person, people: frozenset) -> None:
    """Who proposes or decides a correction is someone of the organising office: never a judge
    or a contestant of the contest (``people``, case-folded), and a plain id, not a look-alike."""
    if not isinstance(person, str) or not ID.fullmatch(person):
        raise Discrepancy(f"{where}: {ascii(person)[:70]} is not an id")
    if person.casefold() in people:
        raise Discrepancy(f"{where}: {person} is a judge or a contestant of this contest, not of the organising office")


def _proposed(where: str, event: dict, lock, corrections: dict, current) -> None:
    p = event["payload"]
    if lock is None:
        raise Discrepancy(f"{where}: a correction before its session's lock")
    if p["proposed_by"] != event["actor"]:
        raise Discrepancy(f"{where}: proposed by {p['proposed_by']}, but the event's actor is {event['actor']}")
    _in_role(where, p.get("proposer_role"), PROPOSERS, "propose")
    if p["correction_id"] in corrections:
        raise Discrepancy(f"{where}: correction {p['correction_id']} is proposed a second time")
    if p["cites"] != current:
        raise Discrepancy(f"{where}: it cites {p['cites']}, but the judge's sheet at that moment is {current}")
    corrections[p["correction_id"]] = dict(p, status="proposed")


def _decided(where: str, event: dict, corrections: dict) -> None:
    p, kind = event["payload"], event["type"]
    correction = corrections.get(p["correction_id"])
    if correction is None:
        raise Discrepancy(f"{where}: correction {p['correction_id']} was never proposed")
    if correction["status"] != "proposed":
        raise Discrepancy(f"{where}: correction {p['correction_id']} was {correction['status']} already")
    if p["by"] != event["actor"]:
        raise Discrepancy(f"{where}: decided by {p['by']}, but the event's actor is {event['actor']}")
    if kind == "CorrectionApproved":
        if p["by"].casefold() == correction["proposed_by"].casefold():
            raise Discrepancy(
                f"{where}: correction {p['correction_id']} is approved by {p['by']}, who proposed it: "
                "the rules need a second person"
            )
        _in_role(where, p.get("role"), APPROVERS, "approve")
    elif kind == "CorrectionWithdrawn" and p["by"].casefold() != correction["proposed_by"].casefold():
        raise Discrepancy(f"{where}: only its proposer withdraws a correction, not {p['by']}")
    correction["status"] = DECIDED[kind]


def _in_role(where: str, role, allowed: tuple, act: str) -> None:
    if role is None:
        WARNINGS.append(f"{where}: recorded before leitai recorded the role a correction is decided in")
    elif role not in allowed:
        raise Discrepancy(f"{where}: a {role} may not {act} a correction; the rules name {' or '.join(allowed)}")


def _check_publications(ranking: list, publication: dict, sessions: dict, contest_id: str, stage_id: str) -> None:
    """The stage's results stream, whole up to the certified publication: published once, and
    each later version a republication after a correction in effect in one of its sessions."""
    stream = RESULTS_STREAM.format(contest=contest_id, stage=stage_id)
    if publication["stream_id"] != stream:
        raise Discrepancy(f"the publication ({publication['event_id']}) is not in the stage's results stream {stream}")
    results = _stream(ranking, stream)
    versions = [e["stream_version"] for e in results]
    if versions != list(range(1, publication["stream_version"] + 1)):
        gap = next((v for v in range(1, publication["stream_version"] + 1) if v not in versions), None)
        raise Discrepancy(
            f"ranking stream {stream}: version {gap} of 1..{publication['stream_version']} is missing from the bundle"
            if gap
            else f"ranking stream {stream}: events beyond the certified publication or repeated"
        )
    republished = set()
    for index, event in enumerate(e for e in results if e["type"] in PUBLICATIONS):
        p = event["payload"]
        where = f"ranking {stream} version {event['stream_version']} ({event['type']} {event['event_id']})"
        if (p["contest_id"], p["stage_id"]) != (contest_id, stage_id):
            raise Discrepancy(f"{where}: of another stage")
        if (index == 0) != (event["type"] == "StageResultsPublished"):
            raise Discrepancy(
                f"{where}: a stage's result is published once, first; every later version is a republication"
            )
        if index == 0:
            continue
        if p.get("version") != index + 1:
            raise Discrepancy(f"{where}: it says version {p.get('version')}, it is version {index + 1}")
        session = sessions.get(p["corrected_session_id"])
        correction = session["corrections"].get(p["correction_id"]) if session else None
        if correction is None or correction["status"] != "in effect":
            raise Discrepancy(
                f"{where}: it follows correction {p['correction_id']} of session {p['corrected_session_id']}, which is "
                f"{correction['status'] if correction else 'not in that session'}: only an approved correction does"
            )
        if correction["judge_id"] != p["corrected_judge_id"] or p["correction_id"] in republished:
            raise Discrepancy(f"{where}: it is not what correction {p['correction_id']} changed, or repeats it")
        republished.add(p["correction_id"])


# -- the result ----------------------------------------------------------------------------
def rederive(basis: dict, sessions: dict) -> list:
    """The standings the sheets in effect give under the stage's rules (docs/audit.md)."""
    stage = basis["stage"]
    weights = {c["criterion_id"]: number(c["weight"], "a criterion's weight") for c in stage["criteria"]}
    limits = {
        c["criterion_id"]: (number(c["max"], "a criterion's maximum"), number(c["step"], "a criterion's step"))
        for c in stage["criteria"]
    }
    scored = []
    for session_id, session in sorted(sessions.items()):
        for entry in session["plan"]["entries"]:
            mine = {j: s for (e, j), s in session["sheets"].items() if e == entry["entry_id"]}
            if not mine:
                raise Discrepancy(f"entry {entry['entry_id']} of session {session_id} has no sheet in the bundle")
            totals, scores = {}, {}
            for judge, sheet in mine.items():
                where = f"sheet {session['origin'][(entry['entry_id'], judge)]}"
                if set(sheet["scores"]) != set(weights):
                    raise Discrepancy(
                        f"{where}: it scores {sorted(sheet['scores'])}, the stage's criteria are {sorted(weights)}"
                    )
                scores[judge] = {c: number(v, where) for c, v in sheet["scores"].items()}
                for criterion, score in scores[judge].items():
                    most, step = limits[criterion]
                    if not 0 <= score <= most or (step > 0 and (score / step).denominator != 1):
                        raise Discrepancy(
                            f"{where}: {criterion} {sheet['scores'][criterion]} is not a score from 0 to {most} "
                            f"in steps of {step}"
                        )
                totals[judge] = sum((weights[c] * scores[judge][c] for c in weights), Fraction(0))
                if totals[judge] != number(sheet["total"], where):
                    raise Discrepancy(f"{where}: its total {sheet['total']} is not the weighted sum of its scores")
            scored.append(
                {
                    "entry_id": entry["entry_id"],
                    "group_id": session["plan"]["group_id"],
                    "totals": totals,
                    "scores": scores,
                }
            )
    return standings(stage, basis["entries"], scored)


def check_result(certificate: dict, publication: dict, basis: dict, sessions: dict) -> int:
    """The standings re-derived from the sheets in effect, against the certified digest: the
    number of rows, or Discrepancy naming the first entry that differs."""
    stage = basis["stage"]
    fingerprint = rule_fingerprint(stage)
    if fingerprint != certificate["rule_sha256"]:
        raise Discrepancy(
            f"the certificate cites rule {certificate['rule_sha256'][:16]}…, but stage {stage['stage_id']} was "
            f"defined ({basis['defined']['event_id']}) with rule {fingerprint[:16]}…"
        )
    table = rederive(basis, sessions)
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


def _known(path: str, keys: list) -> list:
    """(origin, size, root) of the checkpoints you kept: a JSON list of signed notes, or a
    monitor state file; each signed by a key you trust, of its pinned origin."""
    data = read_json(path, path)
    try:
        notes = [v["note"] for v in data.values()] if isinstance(data, dict) else list(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise Malformed(
            f"{path}: not a list of checkpoints nor a monitor state ({type(exc).__name__}: {exc})"
        ) from None
    kept = []
    for note in notes:
        try:
            origin, size, root, key = open_checkpoint(note, keys)
        except Discrepancy as exc:
            raise Discrepancy(f"a checkpoint you kept ({path}): {exc}") from None
        if origin.rpartition("/")[0] != key.name:
            raise Discrepancy(
                f"a checkpoint you kept ({path}) names the origin {origin!r}, not one of {key.name}'s logs"
            )
        kept.append((origin, size, root))
    return kept


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--key", action="append", default=[], help="a verifier key the organiser published")
    parser.add_argument(
        "--trust-bundle-keys",
        action="store_true",
        help="without --key: trust the keys the bundle names (proves it consistent in itself, not whose it is)",
    )
    parser.add_argument("--witness", action="append", default=[], help="a witness's key (C2SP vkey, type 0x04)")
    parser.add_argument("--min-witnesses", type=int, help="how many of the witnesses must have cosigned (default: all)")
    parser.add_argument("--known", help="checkpoints you kept earlier (JSON list of notes, or a monitor state file)")
    args = parser.parse_args(argv)
    WARNINGS.clear()
    if hasattr(sys.stdout, "reconfigure"):  # a hostile name (a lone surrogate) printed, not a traceback
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        keys = [Key(k) for k in args.key]
        witnesses = list({key.text: key for key in (Key(w, kind=4) for w in args.witness)}.values())  # each once
        quorum = len(witnesses) if args.min_witnesses is None else args.min_witnesses
        if not 0 <= quorum <= len(witnesses):
            raise Malformed(f"--min-witnesses {quorum}: give a number from 0 to the {len(witnesses)} witnesses named")
        if not keys and not args.trust_bundle_keys:
            raise Malformed("give the organiser's published verifier key with --key (or --trust-bundle-keys)")
        bundle = read_json(args.bundle, "the bundle")
        named = bundle.get("keys") if isinstance(bundle, dict) else None
        if not keys:
            keys = [Key(k) for k in named] if isinstance(named, list) else []
        elif isinstance(named, list) and not any(k.text in named for k in keys):
            print("note: the bundle names other keys than yours; only yours are trusted", file=sys.stderr)
        known = _known(args.known, keys) if args.known else []
        done = verify(bundle, keys, known, witnesses, quorum)
    except Discrepancy as exc:
        print(f"NOT verified: {exc}")
        return 1
    except (Malformed, OSError, UnicodeError) as exc:
        print(f"NOT verified: cannot read the bundle: {exc}")
        return 2
    print(
        "verified"
        + (
            " with the bundle's own keys, not a key you gave: compare them with the published one"
            if not args.key
            else ""
        )
    )
    for line in done:
        print(f"  {line}")
    if not witnesses:
        WARNINGS.append(
            "no --witness given: the operator holds the signing key, so only kept checkpoints (--known) or "
            "witnesses show this is the log everyone else was shown (docs/audit.md, Witnesses)"
        )
    for line in WARNINGS:
        print(f"warning: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
