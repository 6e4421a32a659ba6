"""Running a multi-stage contest over HTTP, and an independent reference computation."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext

from testkit.servers import wait_until
from testkit.stack import ORGANISER_TOKEN, Stack, judge_token, ok

ORG = ORGANISER_TOKEN
AFTER = "Leitai-After"


def run_session(
    stack: Stack, contest: str, session: str, stage: str, group: str, judges: list[str], sheets_for
) -> tuple[dict, str]:
    """Schedule, seat, draw, open; judges submit in shuffled order; the head judge locks.
    Returns the sheets and the lock's Leitai-Written token."""
    ok(
        stack.call(
            "POST",
            f"/contests/{contest}/sessions",
            {"session_id": session, "stage_id": stage, "group_id": group, "starts_at": "2021-06-01T09:00:00+08:00"},
            ORG,
        )
    )
    ok(
        stack.call(
            "PUT",
            f"/contests/{contest}/sessions/{session}/panel",
            {"seats": [{"judge_id": j, "head": n == 0} for n, j in enumerate(judges)]},
            ORG,
        )
    )
    drawn = ok(stack.call("POST", f"/contests/{contest}/sessions/{session}/draw", {}, ORG))
    opened = written(stack.exchange("POST", f"/contests/{contest}/sessions/{session}/opening", None, ORG))
    submissions = [(entry, judge) for entry in drawn["order"] for judge in judges]
    random.Random(session).shuffle(submissions)  # arrival order is not the order of appearance
    sheets = {}
    for entry, judge in submissions:
        scores = sheets_for(entry, judge)
        # scoring learns of the opening by an event: the token makes the sheet wait for it
        ok(
            stack.call(
                "PUT",
                f"/sessions/{session}/sheets/{entry}",
                {"submission_id": str(uuid.uuid4()), "scores": scores},
                judge_token(judge, contest),
                headers={AFTER: opened},
            )
        )
        sheets[(entry, judge)] = scores
    return sheets, written(stack.exchange("POST", f"/sessions/{session}/lock", {}, judge_token(judges[0], contest)))


def written(answer: tuple) -> str:
    """The Leitai-Written token of a write that succeeded."""
    code, body, headers = answer
    assert code in (200, 201), body
    return headers["Leitai-Written"]


def publish(stack: Stack, contest: str, stage: str, after: Sequence[str] = ()) -> dict:
    """Publish, once ranking has seen the locks: those named by ``after`` (their tokens), else
    whatever the organiser locked, by trying until it is publishable."""
    path = f"/contests/{contest}/stages/{stage}/results"
    if after:
        return ok(stack.call("POST", path, None, ORG, headers={AFTER: ", ".join(after)}), (201,))

    def attempt():
        code, body = stack.call("POST", path, None, ORG)
        assert code in (201, 422), body
        return body if code == 201 else None

    return wait_until(attempt, what=f"stage {stage} to be publishable")


def wait_for_stage_entries(stack: Stack, contest: str, stage: str, count: int) -> list[dict]:
    def entries():
        view = ok(stack.call("GET", f"/contests/{contest}", token=ORG))
        found = [e for e in view["entries"] if e["stage_id"] == stage]
        return found if len(found) == count else None

    return wait_until(entries, what=f"{count} entries to reach stage {stage}")


# -- the reference computation, written apart from the services ------------------------------
def reference_standings(
    sheets: dict, criteria: list[dict], drop_rule: list[dict], groups: dict[str, str], advancement: dict, lot_seed: str
) -> list[tuple[str, Decimal, bool]]:
    """(entry, stage score, advanced) in final order, from raw sheets alone."""
    by_entry: dict[str, dict[str, dict]] = {}
    for (entry, judge), scores in sheets.items():
        by_entry.setdefault(entry, {})[judge] = scores
    rows = []
    for entry, judged in by_entry.items():
        totals = {
            j: sum(Decimal(c["weight"]) * Decimal(s[c["criterion_id"]]) for c in criteria) for j, s in judged.items()
        }
        ranked = sorted(totals, key=lambda j: (totals[j], j))
        tier = max((t for t in drop_rule if t["min_sheets"] <= len(ranked)), key=lambda t: t["min_sheets"])
        counted = ranked[tier["drop_low"] : len(ranked) - tier["drop_high"]]
        with localcontext() as context:
            context.prec = 60
            score = (sum(totals[j] for j in counted) / len(counted)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            values = sorted(totals.values())
            middle = len(values) // 2
            median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
            keys = []
            for rule in advancement["tiebreak"]:
                if rule["kind"] == "median_total":
                    keys.append(-median)
                elif rule["kind"] == "criterion":
                    keys.append(-sum(Decimal(judged[j][rule["criterion_id"]]) for j in counted) / len(counted))
                else:
                    keys.append(hashlib.sha256(f"{lot_seed}:{entry}".encode()).hexdigest())
        rows.append(((-score, *keys, entry), entry, score))
    ordered = [(entry, score) for _, entry, score in sorted(rows)]
    advanced = set()
    if advancement.get("per_group"):
        for group in set(groups.values()):
            advanced |= {e for e, _ in [x for x in ordered if groups[x[0]] == group][: advancement["per_group"]]}
    if advancement.get("overall"):
        advanced |= {e for e, _ in [x for x in ordered if x[0] not in advanced][: advancement["overall"]]}
    return [(entry, score, entry in advanced) for entry, score in ordered]
