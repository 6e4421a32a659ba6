"""What ``leitai audit`` hands an auditor: checkpoints, proofs, and a stage's bundle.

A bundle (format ``leitai-audit-bundle/1``, docs/audit.md) is one JSON file that needs
nothing else to be checked: the stage's certificate; for every log it cites, the chain of
signed checkpoints from the first to the latest when the bundle was made (each with its
consistency proof from the one before, so that checkpoints an auditor kept can be checked
against it, whether older or newer than the certified one) and every event of every stream
the standings depend on, each with its inclusion proof in the certified tree; the publication
event itself, and those of the versions it replaces; the verifier keys. An auditor runs
tools/verify_bundle.py on it, on their own machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leitai import certificates
from leitai.eventstore import EventStore
from leitai.eventstore.notes import Verifier
from services.ranking.publication import PUBLICATIONS, results_stream
from services.registration.application import contest_stream, record_publication
from services.scoring.application import note_publication

FORMAT = "leitai-audit-bundle/1"
RULES = "leitai-rules/1"  # the rules as docs/audit.md states them


class AuditError(Exception):
    """What was asked cannot be answered (no such event, stage not published, ...)."""


class Pending(AuditError):
    """Not yet: a checkpoint or a record it needs follows within seconds of a publication."""


def publication(ranking: EventStore, contest_id: str, stage_id: str, version: int | None = None) -> tuple[int, dict]:
    """(position, stored document) of the stage's publication: ``version``, or the latest."""
    found = [
        (p, d) for p, d in ranking.stored_stream(results_stream(contest_id, stage_id)) if d["type"] in PUBLICATIONS
    ]
    if not found:
        raise AuditError(f"stage {stage_id} of contest {contest_id} is not published, or not sequenced yet")
    if version is None:
        return found[-1]
    for position, document in found:
        if ranking.current_payload(document).get("version", 1) == version:
            return position, document
    raise AuditError(f"stage {stage_id} of contest {contest_id} has no published version {version} (yet)")


def certificate_of(
    stores: Mapping[str, EventStore], contest_id: str, stage_id: str, version: int | None = None
) -> dict:
    """The certificate of ``version`` (the latest by default), citing the one it replaces."""
    ranking = stores[certificates.PUBLICATION_LOG]

    def published(number: int | None) -> dict:
        position, document = publication(ranking, contest_id, stage_id, number)
        return dict(ranking.current_payload(document), event_position=position)

    return certificates.certified(
        published(version), lambda log, position: stores[log].checkpoint_covering(position), published
    )


def bundle(
    stores: Mapping[str, EventStore],
    contest_id: str,
    stage_id: str,
    keys: list[Verifier],
    version: int | None = None,
    witnessed: bool = False,
) -> dict:
    """The bundle of ``version`` of the stage's result (the latest by default). A later
    version's standings depend on the corrections in its session streams, which it cites.
    ``witnessed``: the relays have witnesses, so wait (Pending) until each log's latest
    checkpoint, which holds every event the bundle proves, carries their cosignatures."""
    cert = certificate_of(stores, contest_id, stage_id, version)
    if cert["pending"]:
        raise Pending(
            f"the certificate waits for a checkpoint of {', '.join(cert['pending'])}; "
            "a relay signs one at its next seal: try again in a few seconds"
        )
    ranking = stores[certificates.PUBLICATION_LOG]
    results = list(ranking.stored_stream(results_stream(contest_id, stage_id)))
    published = str(next(d["event_id"] for p, d in results if p == cert["publication"]["position"]))
    # each source stream runs through the service's own note of this publication (the contest's
    # record, each session's note), so that nothing the stream held before it can be left out;
    # the ranking log holds the stage's results stream up to this version's publication: every
    # version it replaces, and nothing left out between them (the verifier requires it whole)
    noted = {
        "registration": _through_note(
            stores["registration"], contest_stream(contest_id), "StageResultsRecorded", published
        ),
        "scoring": [
            item
            for stream in sorted(cert["sources"]["scoring"]["streams"])
            for item in _through_note(stores["scoring"], stream, "StageResultsNoted", published)
        ],
        certificates.PUBLICATION_LOG: [(p, d) for p, d in results if p <= cert["publication"]["position"]],
    }
    logs: dict[str, dict[str, Any]] = {}
    for log, checkpoint in cert["checkpoints"].items():
        store = stores[log]
        chain = store.chain()
        wanted = noted[log]
        # every event proved in the latest checkpoint: consistent with the certified one (the
        # chain proves it), and the only one that may hold the notes
        size = chain[-1]["size"]
        if any(size < position for position, _ in wanted):
            raise Pending(
                f"the {log} log's note of the publication waits for a checkpoint; "
                "a relay signs one at its next seal: try again in a few seconds"
            )
        if witnessed and not chain[-1].get("cosignatures"):
            raise Pending(f"the {log} log's checkpoint {size} waits for its witnesses' cosignatures")
        tree = store.tree(size)
        logs[log] = {
            "origin": _origin(checkpoint),
            "checkpoints": [
                {k: c[k] for k in ("size", "root", "note", "consistency", "cosignatures") if k in c} for c in chain
            ],
            "events": [
                {"position": p, "event": d, "proof": [h.hex() for h in tree.inclusion_proof(p - 1, size)]}
                for p, d in sorted(wanted, key=lambda pd: pd[0])
            ],
        }
    stage = next(
        (
            e["event"]["payload"]
            for e in logs.get("registration", {}).get("events", ())
            if e["event"]["type"] == "StageDefined" and e["event"]["payload"]["stage_id"] == stage_id
        ),
        None,
    )
    return {
        "format": FORMAT,
        "contest_id": contest_id,
        "stage_id": stage_id,
        "certificate": cert,
        "keys": [k.encoded() for k in keys],
        "rules": {"spec": RULES, "stage": stage},
        "logs": logs,
    }


def note_publications(stores: Mapping[str, EventStore], plans: Any) -> int:
    """Every publication in the ranking log recorded by registration and noted by scoring, as
    their handlers do from now on: once each (the handlers are idempotent), so that a stage
    published before they did has the notes its bundle must run through. ``plans``: scoring's
    read model of the sessions. Returns the publications seen."""
    seen = 0
    for batch in stores[certificates.PUBLICATION_LOG].read_all():
        for event in batch:
            if event.type in PUBLICATIONS:
                record_publication(stores["registration"], event)
                note_publication(stores["scoring"], plans, event)
                seen += 1
    return seen


def _through_note(store: EventStore, stream: str, kind: str, published: str) -> list[tuple[int, dict]]:
    """(position, stored document) of ``stream`` from version 1 through the service's note of
    the publication ``published`` (``kind``: registration's record in the contest's stream,
    scoring's note in a session's)."""
    held = []
    for position, document in store.stored_stream(stream):
        held.append((position, document))
        if document["type"] == kind and store.current_payload(document)["publication_event_id"] == published:
            return held
    raise Pending(f"{stream} holds no {kind} of the publication yet: try again in a few seconds")


def _origin(checkpoint: dict) -> str:
    return checkpoint["note"].split("\n", 1)[0]


def inclusion(store: EventStore, event_id: str, size: int | None = None) -> dict:
    found = store.stored_event(event_id)
    if found is None:
        raise AuditError(f"no sequenced event {event_id} in this log")
    position, document = found
    checkpoint = store.checkpoint(size) if size else store.checkpoint_covering(position)
    if checkpoint is None or checkpoint["size"] < position:
        raise AuditError(f"no checkpoint {'of size ' + str(size) if size else 'holds position ' + str(position)} yet")
    proof = store.tree(checkpoint["size"]).inclusion_proof(position - 1, checkpoint["size"])
    return {"position": position, "event": document, "checkpoint": checkpoint, "proof": [h.hex() for h in proof]}


def consistency(store: EventStore, old: int, new: int) -> dict:
    first, second = store.checkpoint(old), store.checkpoint(new)
    missing = [size for size, c in ((old, first), (new, second)) if c is None]
    if missing:
        raise AuditError(f"no checkpoint of size {', '.join(map(str, missing))}")
    proof = store.tree(new).consistency_proof(old, new)
    return {"old": first, "new": second, "proof": [h.hex() for h in proof]}
