"""``leitai audit monitor``: an auditor's watch over the logs, from outside the deployment.

It keeps the last checkpoint it accepted of each log in a state file, fetches the newer ones
over the public HTTP API (GET /logs/<log>/checkpoints?after=<size>) and accepts each only if
it is signed by a trusted key and proved consistent with the one before (the consistency
proof the log serves with it). A log that rewrote anything it had checkpointed cannot pass:
the monitor says which checkpoint failed and why, keeps the last good one, and exits 1.

The nightly audit runs the same watch over the stores themselves (``leitai audit
--keep-checkpoints FILE``), with its state on a volume of its own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from leitai.eventstore.merkle import verify_consistency
from leitai.eventstore.notes import Checkpoint, NoteError, Verifier

PAGE = 1000


@dataclass
class State:
    logs: dict[str, dict] = field(default_factory=dict)  # log -> {"origin", "size", "root" (hex), "note"}

    @classmethod
    def load(cls, path: Path) -> State:
        """The state kept in ``path`` (none yet: empty); ValueError naming a file that is not one."""
        if not path.exists():
            return cls()
        try:
            logs = json.loads(path.read_text(encoding="utf-8"))
            if not all(
                isinstance(kept, dict) and {"origin", "size", "root", "note"} <= set(kept) for kept in logs.values()
            ):
                raise ValueError("each log needs origin, size, root and note")
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: not a checkpoint monitor's state ({exc})") from None
        return cls(logs)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.logs, indent=1, ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)  # never a half-written state


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _signed(note: str, keys: list[Verifier]) -> tuple[Checkpoint, Verifier]:
    problems = []
    for key in keys:
        try:
            return Checkpoint.parse(key.open(note)), key
        except NoteError as exc:
            problems.append(str(exc))
    raise NoteError("; ".join(problems))


def accept(log: str, last: dict | None, served: dict, keys: list[Verifier]) -> dict:
    """The new state of ``log`` after ``served``, or NoteError saying why it is refused: the
    rules of docs/audit.md ("Checkpoint rules"), which tools/verify_bundle.py applies too."""
    signed, key = _signed(served["note"], keys)
    if signed.origin != f"{key.name}/{log}":
        raise NoteError(
            f"checkpoint {signed.size}: it names the origin {signed.origin!r}; a {log} checkpoint signed by "
            f"{key.name} names {key.name + '/' + log!r}"
        )
    if (signed.size, signed.root.hex()) != (served["size"], served["root"]):
        raise NoteError(f"checkpoint {served['size']}: the note signs another size or root than served")
    if last is not None:
        if signed.origin != last["origin"]:
            raise NoteError(f"checkpoint {signed.size}: origin {signed.origin!r}, was {last['origin']!r}")
        proof = served.get("consistency") or {}
        if proof.get("from") != last["size"]:
            raise NoteError(
                f"checkpoint {signed.size}: proves consistency from {proof.get('from')}, "
                f"not from the {last['size']} kept"
            )
        try:
            nodes = [bytes.fromhex(h) for h in proof.get("proof", [])]
        except ValueError:
            raise NoteError(f"checkpoint {signed.size}: its consistency proof is not hex") from None
        if not verify_consistency(last["size"], signed.size, bytes.fromhex(last["root"]), signed.root, nodes):
            raise NoteError(
                f"checkpoint {signed.size} is not consistent with checkpoint {last['size']} kept: the log was rewritten"
            )
    return {"origin": signed.origin, "size": signed.size, "root": signed.root.hex(), "note": served["note"]}


Fetch = Callable[[str, int], list[dict]]  # (log, after size) -> the next checkpoints, smallest first


def over_http(url: str) -> Fetch:
    """Checkpoints as the public API serves them (GET /logs/<log>/checkpoints?after=)."""

    def fetch(log: str, after: int) -> list[dict]:
        query = urllib.parse.urlencode({"after": after, "limit": PAGE})
        with urllib.request.urlopen(f"{url.rstrip('/')}/logs/{log}/checkpoints?{query}", timeout=30) as response:
            return json.loads(response.read())["checkpoints"]

    return fetch


def _still_served(kept: dict, served: dict | None) -> None:
    if served is None or served["size"] != kept["size"]:
        raise NoteError(f"checkpoint {kept['size']} kept is no longer served: the log was rewritten")
    if (served["root"], served["note"]) != (kept["root"], kept["note"]):
        raise NoteError(
            f"checkpoint {kept['size']} is served with another root or note than the one kept: the log was rewritten"
        )


def watch(fetch: Fetch, keys: list[Verifier], logs: list[str], state: State) -> Report:
    report = Report()
    for log in logs:
        last, accepted = state.logs.get(log), 0
        try:
            # from the kept checkpoint itself: the log must still serve it, unchanged
            page = fetch(log, last["size"] - 1 if last else 0)
            if last:
                _still_served(last, page[0] if page else None)
            after = last["size"] - 1 if last else 0
            while page:
                for served in page:
                    if not isinstance(served, dict) or type(served.get("size")) is not int:
                        raise NoteError(f"the log served {str(served)[:60]!r} as a checkpoint")
                    if not last or served["size"] > last["size"]:
                        last = accept(log, last, served, keys)
                        state.logs[log] = last
                        accepted += 1
                if page[-1]["size"] <= after:  # a server that pages without moving on is not followed forever
                    raise NoteError(f"the log served checkpoints after {after} that are no newer")
                after = page[-1]["size"]
                page = fetch(log, after) if len(page) == PAGE else []
        except NoteError as exc:
            report.problems.append(f"{log}: {exc}")
            report.lines.append(f"{log}: REFUSED: {exc} (kept checkpoint {last['size'] if last else 'none'})")
            continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            report.problems.append(f"{log}: {exc}")
            report.lines.append(f"{log}: could not be read: {exc}")
            continue
        report.lines.append(f"{log}: {accepted} new checkpoint(s) accepted; at size {last['size'] if last else 0}")
    return report
