"""A synthetic province-size contest log, written straight into the three source stores.

Counties of ``entries_per_county`` entrants each run one stage: the entries are registered,
sessions of 20 are scheduled and opened with a panel of 7, every judge scores every entry
(three weighted criteria), each session is locked with its entries' scores (drop the highest
and the lowest), and each county's stage is published with its standings. Sheet totals,
entries' scores, standings and the publication are made by the services' own pure rules
(scoring's rules, ranking's standings and publication), so a payload a contract refuses
cannot be written here while the services write another. Every payload is
checked against its contract as an append checks it (EventStore.commit); the commits are
sequenced and hash-chained as the relay's sequencer does it (sequence_fields), then inserted
in bulk, so that a log of a million events is written in a minute rather than in hours, and
`leitai verify` and `leitai replay` read it as they read a live one.

About 9.2 events an entrant: ``events_for(entries)`` says how many exactly.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from pymongo.database import Database

from leitai.arithmetic import ROUNDING
from leitai.contracts import NewEvent
from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.eventstore.records import PENDING, Head
from leitai.eventstore.sequencer import sequence_fields
from leitai.version import VERSION
from services.ranking import publication
from services.ranking.board import rule_sha256, standing_row
from services.ranking.standings import Result, standings
from services.scoring import rules

SESSION = 20  # entries a session
PANEL = 7  # judges a panel (the highest and the lowest dropped)
CRITERIA = [
    {"criterion_id": "party", "name": "讲党建", "max": "30", "weight": "1", "step": "0.5"},
    {"criterion_id": "work", "name": "讲工作", "max": "40", "weight": "1.5", "step": "0.5"},
    {"criterion_id": "results", "name": "讲成效", "max": "30", "weight": "1", "step": "0.5"},
]
DROP_RULE = [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}, {"min_sheets": 5, "drop_high": 1, "drop_low": 1}]
RULES = [
    rules.Criterion(**{k: Decimal(v) if k in ("max", "weight", "step") else v for k, v in c.items()}) for c in CRITERIA
]
DROP = [rules.DropTier(**tier) for tier in DROP_RULE]
INSERT_BATCH = 1000  # commits an insert_many carries
EPOCH_ID = uuid.UUID("2c9a4e0e-7f3b-4d1a-9b8e-5a6c7d8e9f01")  # event ids derive from it: a run is repeatable


def events_for(entries: int, entries_per_county: int) -> int:
    """How many events ``entries`` entrants make, in counties of ``entries_per_county``."""
    counties, rest = divmod(entries, entries_per_county)
    sizes = [entries_per_county] * counties + ([rest] if rest else [])
    # a stage and its publication; per session: scheduled, opened, locked; per entry: submitted,
    # PANEL sheets, scored
    return sum(2 + 3 * -(-size // SESSION) + size * (2 + PANEL) for size in sizes)


@dataclass
class _Log:
    """One source store's commits, sequenced as they are made and inserted in batches."""

    db: Database
    store: EventStore
    head: Head = field(default_factory=Head)
    pending: list[dict] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1 << 62)))

    def append(self, stream_id: str, events: list[tuple[str, dict]]) -> None:
        version = self.versions.get(stream_id, 0)
        name = self.db.name
        commit = self.store.commit(
            stream_id,
            version,
            [
                NewEvent(kind, payload, actor="synthetic", event_id=uuid.uuid5(EPOCH_ID, f"{name}:{next(self.ids)}"))
                for kind, payload in events
            ],
        )
        del commit[PENDING]
        commit.update(sequence_fields(commit, self.head.position + 1, self.head.hash))
        self.head.advance(commit)
        self.versions[stream_id] = commit["version"]
        self.pending.append(commit)
        if len(self.pending) >= INSERT_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.db.commits.insert_many(self.pending, ordered=True)
            self.pending = []
        MongoCommitLog(self.db).record_head(self.head.to_doc())


def generate(dbs: dict[str, Database], entries: int, entries_per_county: int = 2000, seed: int = 1) -> int:
    """Write the logs of ``entries`` entrants into ``dbs`` (registration, scoring, ranking);
    returns how many events were written."""
    rng = random.Random(seed)
    logs = {name: _Log(db, EventStore(MongoCommitLog(db), REGISTRY)) for name, db in dbs.items()}
    for db in dbs.values():
        ensure_indexes(db)
    first = 0
    county = 0
    while first < entries:
        county += 1
        _county(logs, f"county-{county:04d}", min(entries_per_county, entries - first), rng)
        first += entries_per_county
    for one in logs.values():
        one.flush()
    return sum(one.head.position for one in logs.values())


def _county(logs: dict[str, _Log], contest: str, size: int, rng: random.Random) -> None:
    registration, scoring, ranking = logs["registration"], logs["scoring"], logs["ranking"]
    townships = [f"{contest}-t{n:02d}" for n in range(1, 13)]
    stage = {
        "contest_id": contest,
        "stage_id": "prelim",
        "name": "乡镇初赛",
        "order": 1,
        "groups": [{"group_id": "all", "name": "全县", "townships": townships}],
        "criteria": CRITERIA,
        "panel_size": PANEL,
        "drop_rule": DROP_RULE,
        "tolerance": None,
        "advancement": {"overall": max(1, size // 10)},
        "lot_seed": f"{contest}-lots",
    }
    registration.append(f"contest-{contest}", [("StageDefined", stage)])
    entries = [
        {
            "contest_id": contest,
            "entry_id": f"e{n:06d}",
            "contestant_id": f"{contest}-c{n:06d}",
            "name": f"书记{n:06d}",
            "township_code": townships[n % len(townships)],
            "village_code": f"{townships[n % len(townships)]}-v{n:04d}",
            "title": f"第{n}村党建工作汇报",
            "stage_id": "prelim",
        }
        for n in range(1, size + 1)
    ]
    for start in range(0, size, 100):
        registration.append(f"contest-{contest}", [("EntrySubmitted", e) for e in entries[start : start + 100]])
    judges = [{"judge_id": f"J{n}", "name": f"评委{n}", "head": n == 1, "reserve": False} for n in range(1, PANEL + 1)]
    results: list[Result] = []
    for number, start in enumerate(range(0, size, SESSION), start=1):
        session = f"{contest}-s{number:04d}"
        seated = entries[start : start + SESSION]
        where = {"contest_id": contest, "session_id": session, "stage_id": "prelim", "group_id": "all"}
        registration.append(
            f"contest-{contest}", [("SessionScheduled", dict(where, starts_at="2021-06-01T09:00:00+08:00"))]
        )
        registration.append(
            f"contest-{contest}",
            [
                (
                    "SessionOpened",
                    dict(
                        where,
                        criteria=CRITERIA,
                        drop_rule=DROP_RULE,
                        tolerance=None,
                        panel=judges,
                        entries=[
                            {
                                "entry_id": e["entry_id"],
                                "contestant_id": e["contestant_id"],
                                "name": e["name"],
                                "township_code": e["township_code"],
                                "order": n,
                            }
                            for n, e in enumerate(seated, start=1)
                        ],
                    ),
                )
            ],
        )
        scored = []
        for entry in seated:
            totals = {}
            for judge in judges:
                sheet = {
                    c.criterion_id: Decimal(rng.randrange(int(c.max * 2) // 2, int(c.max * 2) + 1)) / 2 for c in RULES
                }
                totals[judge["judge_id"]] = rules.sheet_total(RULES, sheet)
                scoring.append(
                    f"session-{session}",
                    [
                        (
                            "ScoreSheetSubmitted",
                            {
                                "contest_id": contest,
                                "session_id": session,
                                "entry_id": entry["entry_id"],
                                "judge_id": judge["judge_id"],
                                "scores": {k: str(v) for k, v in sheet.items()},
                                "total": str(totals[judge["judge_id"]]),
                                "revision": 1,
                            },
                        )
                    ],
                )
            result = rules.aggregate(entry["entry_id"], totals, DROP)
            results.append(
                Result(
                    entry["entry_id"], entry["contestant_id"], entry["name"], "all", result.stage_score, result.sheets
                )
            )
            scored.append(
                (
                    "EntryScored",
                    dict(
                        where,
                        entry_id=entry["entry_id"],
                        sheets=[{"judge_id": j, "total": str(t)} for j, t in result.sheets],
                        recused=[],
                        dropped_high=list(result.dropped_high),
                        dropped_low=list(result.dropped_low),
                        counted_sum=str(result.counted_sum),
                        counted=result.counted,
                        stage_score=str(result.stage_score),
                        rounding=ROUNDING,
                    ),
                )
            )
        scoring.append(
            f"session-{session}",
            [
                *scored,
                (
                    "SessionLocked",
                    dict(
                        where, locked_by="J1", open_flags=0, missing_sheets=0, entries=[e["entry_id"] for e in seated]
                    ),
                ),
            ],
        )
    summary, _ = publication.publish(
        contest,
        "prelim",
        [standing_row(s) for s in standings(results, stage["advancement"], stage["lot_seed"])],
        None,
        rule_sha256(stage),
        {name: one.head.position for name, one in logs.items() if name != "ranking"},
        # the head version of every source stream the standings depend on: the contest's and its sessions'
        {
            "registration": {f"contest-{contest}": registration.versions[f"contest-{contest}"]},
            "scoring": {s: v for s, v in sorted(scoring.versions.items()) if s.startswith(f"session-{contest}-s")},
        },
        VERSION,
    )
    ranking.append(f"stage-{contest}:prelim", [("StageResultsPublished", summary)])
