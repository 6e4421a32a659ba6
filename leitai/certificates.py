"""A published result's certificate: what an outsider needs to check it, in one document.

It names the standings by their digest, the rules by their fingerprint, the software, the
position of every source log the standings were computed at and the head version of each
source stream they depend on (all recorded in the StageResultsPublished event), and, for
each of those logs and for the log holding the publication itself, the first signed
checkpoint whose tree holds that position. A checkpoint is signed at every seal and at once
after a publication, so a certificate is complete a few seconds after it is published;
until then ``pending`` names the logs still waiting for theirs.

``replaces`` is for a corrected result: the certificate of the publication it supersedes.
Pure: the standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

FORMAT = "leitai-certificate/1"
PUBLICATION_LOG = "ranking"
CHECKPOINT_FIELDS = ("origin", "size", "root", "note")


def positions_to_cover(published: Mapping[str, Any]) -> dict[str, int]:
    """Each log a certificate cites, and the position its checkpoint must hold."""
    needed = {source: published["log_positions"][source] for source in published["streams"]}
    needed[PUBLICATION_LOG] = published["event_position"]
    return needed


def fingerprint(standings_sha256: str) -> str:
    """The short form shown on the public results page: the digest's first 16 hex digits."""
    head = standings_sha256[:16]
    return " ".join(head[i : i + 4] for i in range(0, 16, 4))


def certificate(
    published: Mapping[str, Any],
    checkpoints: Mapping[str, Mapping[str, Any] | None],
    replaces: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``published``: the publication (as ``stage_results`` gives it); ``checkpoints``: for
    each log of :func:`positions_to_cover`, the first checkpoint holding that position, or
    None while there is none."""
    needed = positions_to_cover(published)
    return {
        "format": FORMAT,
        "contest_id": published["contest_id"],
        "stage_id": published["stage_id"],
        "standings_sha256": published["standings_sha256"],
        "fingerprint": fingerprint(published["standings_sha256"]),
        "rule_sha256": published["rule_sha256"],
        "software_version": published["software_version"],
        "publication": {"log": PUBLICATION_LOG, "position": published["event_position"]},
        "sources": {
            source: {"position": published["log_positions"][source], "streams": dict(streams)}
            for source, streams in sorted(published["streams"].items())
        },
        "checkpoints": {
            log: {k: found[k] for k in CHECKPOINT_FIELDS} for log in sorted(needed) if (found := checkpoints.get(log))
        },
        "pending": sorted(log for log in needed if not checkpoints.get(log)),
        "replaces": dict(replaces) if replaces else None,
    }


def certified(
    published: Mapping[str, Any],
    covering: Callable[[str, int], Mapping[str, Any] | None],
    earlier: Callable[[int], Mapping[str, Any]],
) -> dict[str, Any]:
    """The certificate of ``published`` and, for a corrected result, of each version it
    replaces down to version 1. ``covering(log, position)``: the first checkpoint of ``log``
    holding ``position``, or None; ``earlier(version)``: that version's publication."""
    checkpoints = {log: covering(log, position) for log, position in positions_to_cover(published).items()}
    version = published.get("version", 1)
    replaces = None if version == 1 else certified(earlier(version - 1), covering, earlier)
    return certificate(published, checkpoints, replaces)
