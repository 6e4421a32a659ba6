"""Judges scoring over HTTP while, in turn, processes die, the broker's connections drop and the
store restarts; then everything checked from outside. ``make chaos`` runs it long
(bench/chaos.py); the suite runs a short round (tests/e2e/test_chaos.py).

The judges are clients written from docs/api.md alone: every sheet is sent with its
``submission_id`` as its Idempotency-Key, and retried on 5xx, 429 or no answer with growing
pauses, as the retry recipe says. A sheet is *accepted* when a 2xx came back, *refused* on a
4xx, *unknown* if the client gave up. Afterwards: every accepted sheet is counted exactly once
with the scores the judge sent, no refused or unknown one is counted, every stage score
equals an independent computation from the accepted sheets alone, the published standings
follow from those scores, ``leitai replay ranking --verify`` is identical, ``leitai audit``
passes, no message was dead-lettered, and every notice reached its real channel (an SMTP server
process, an SMS gateway) once: nothing the service recorded as sent is missing, nothing arrived
that it did not record, and no notice came twice under two message ids (a message sent again
with its own id, after a kill between the send and its record, is counted apart: a receiver
tells it by its Message-ID / out_id).

The organiser's commands after the faults are clients of docs/api.md too: each is retried with
its key, and publishing waits for the locks by sending their Leitai-Written tokens."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

from composition.product import CATALOGUE
from composition.sinks import SmsGateway
from leitai.consistency import AFTER_HEADER, WRITTEN_HEADER
from leitai.messaging import topology
from leitai.ratelimit import RateLimit
from testkit.boai import CONTEST, CRITERIA, DROP_RULE, JUDGE_TOWNSHIP, PANELS, entries, random_scores, set_up
from testkit.servers import queue_state, wait_until
from testkit.smtp_sink import SmtpSink
from testkit.stack import BIN, ORGANISER_TOKEN, Stack, judge_token

RECOVERY_TIMEOUT_S = 120.0
SMS_API_KEY = "sms-key-of-the-fault-run"


@dataclass
class Offered:
    session: str
    entry: str
    judge: str
    scores: dict[str, str]
    submission_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    outcome: str = "pending"  # accepted, refused, unknown
    status: int | None = None
    attempts: int = 0
    latency: float | None = None  # from the first try to the final answer


@dataclass
class Report:
    replicas: int
    # (fault, seconds until every process was ready, the processes that were ready last)
    faults: list[tuple[str, float, str]] = field(default_factory=list)
    offered: list[Offered] = field(default_factory=list)
    server_errors: int = 0  # 5xx answers the clients saw (each retried)
    lost: list[str] = field(default_factory=list)  # accepted, not counted
    duplicated: list[str] = field(default_factory=list)  # counted more than once
    counted_unaccepted: list[str] = field(default_factory=list)  # refused or unknown, yet counted
    mismatches: list[str] = field(default_factory=list)  # a score, rank or advancement not as computed
    replay_identical: bool = False
    replay_differences: list[str] = field(default_factory=list)  # the last replay's, when it differed
    audit_ok: bool = False
    dead_letters: int = 0
    notices: Counter = field(default_factory=Counter)  # distinct messages received, by channel
    notices_missing: list[str] = field(default_factory=list)  # recorded sent, never received
    notices_stray: list[str] = field(default_factory=list)  # received, not recorded sent
    notices_twice: list[str] = field(default_factory=list)  # one notice under two message ids
    resent: int = 0  # a message received again under its own id (the receiver can tell)

    def count(self, outcome: str) -> int:
        return sum(1 for sheet in self.offered if sheet.outcome == outcome)

    @property
    def clean(self) -> bool:
        return (
            not self.lost
            and not self.duplicated
            and not self.counted_unaccepted
            and not self.mismatches
            and self.count("unknown") == 0
            and self.replay_identical
            and self.audit_ok
            and not self.dead_letters
            and bool(self.notices)
            and not self.notices_missing
            and not self.notices_stray
            and not self.notices_twice
        )

    def table(self) -> str:
        latencies = sorted(s.latency for s in self.offered if s.latency is not None)
        p50 = statistics.median(latencies) if latencies else 0.0
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
        rows = [
            ("replicas of each service and relay", self.replicas),
            ("faults injected", len(self.faults)),
            ("sheets offered", len(self.offered)),
            ("accepted", self.count("accepted")),
            ("refused", self.count("refused")),
            ("unknown (client gave up)", self.count("unknown")),
            ("lost", len(self.lost)),
            ("duplicated", len(self.duplicated)),
            ("counted though not accepted", len(self.counted_unaccepted)),
            ("mismatches", len(self.mismatches)),
            ("5xx answers (retried)", self.server_errors),
            ("latency p50 / p99 (s)", f"{p50:.2f} / {p99:.2f}"),
            ("replay --verify", "identical" if self.replay_identical else "DIFFERS"),
            ("audit", "ok" if self.audit_ok else "FAILED"),
            ("dead letters", self.dead_letters),
            ("notices received (mail / SMS)", f"{self.notices['email']} / {self.notices['sms']}"),
            (
                "notices missing / stray / twice",
                f"{len(self.notices_missing)} / {len(self.notices_stray)} / {len(self.notices_twice)}",
            ),
            ("messages resent under their own id", self.resent),
        ]
        lines = [f"  {name:<36} {value}" for name, value in rows]
        lines += ["  recovery after each fault (ready last):"] + [
            f"    {fault:<34} {seconds:6.1f} s  {last}" for fault, seconds, last in self.faults
        ]
        lines += [f"  replay: {line}" for line in self.replay_differences]
        lines += [
            f"  notice {what}: {which}"
            for what, found in (
                ("missing", self.notices_missing),
                ("stray", self.notices_stray),
                ("twice", self.notices_twice),
            )
            for which in found[:10]
        ]
        return "\n".join(lines)


class Judges:
    """Client threads sending every offered sheet, retrying each with its key. New sheets come at
    ``pace`` a second at most, as a hall of judges scores performance after performance, so
    that the faults fall among them rather than after them."""

    def __init__(
        self, stack: Stack, sheets: list[Offered], workers: int = 4, give_up_after: float = 240.0, pace: float = 4.0
    ) -> None:
        self._stack, self._give_up_after = stack, give_up_after
        self._pace = RateLimit(pace, burst=1)
        self._todo = list(sheets)
        self._lock = threading.Lock()
        self.server_errors = 0
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def start(self) -> Judges:
        for thread in self._threads:
            thread.start()
        return self

    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._todo:
                    return
                while not self._pace.take():
                    time.sleep(self._pace.retry_after())
                sheet = self._todo.pop()
            self._send(sheet)

    def _send(self, sheet: Offered) -> None:
        started, pause = time.monotonic(), 0.5
        while True:
            sheet.attempts += 1
            try:
                code, _ = self._stack.call(
                    "PUT",
                    f"/sessions/{sheet.session}/sheets/{sheet.entry}",
                    {"submission_id": sheet.submission_id, "scores": sheet.scores},
                    judge_token(sheet.judge),
                    headers={"Idempotency-Key": sheet.submission_id},
                )
            except OSError:  # refused, reset or timed out: the outcome is unknown
                code = None
            if code is not None and code < 500 and code != 429:
                sheet.outcome, sheet.status = ("accepted" if code < 300 else "refused"), code
                sheet.latency = time.monotonic() - started
                return
            if code is not None and code >= 500:
                with self._lock:
                    self.server_errors += 1
            if time.monotonic() - started > self._give_up_after:
                sheet.outcome = "unknown"
                return
            time.sleep(pause)  # the client's retry policy (docs/api.md), not a wait for a condition
            pause = min(pause * 2, 4.0)


class Faults:
    """One fault at a time, spread over the judges' work: the n-th of N once n/(N+1) of the
    sheets are accepted, and each only once every process is ready after the one before."""

    def __init__(self, stack: Stack, store, report: Report) -> None:
        self._stack, self._store, self._report = stack, store, report

    def inject(self, plan: list[str], judges: Judges) -> None:
        offered = len(self._report.offered)
        for n, fault in enumerate(plan, start=1):
            due = n * offered // (len(plan) + 1)
            wait_until(
                lambda due=due: self._report.count("accepted") >= due or judges.done(),
                timeout=RECOVERY_TIMEOUT_S,
                interval=0.05,
                what=f"{due} sheets accepted before {fault}",
            )
            started = time.monotonic()
            self._cause(fault)
            last: list[str] = []  # the processes that came back last

            def recovered(last: list[str] = last) -> bool:
                waiting = self._stack.not_ready()
                last[:] = waiting or last
                return not waiting

            try:
                wait_until(
                    recovered, timeout=RECOVERY_TIMEOUT_S, interval=0.2, what=f"every process ready after {fault}"
                )
            except TimeoutError:
                raise AssertionError(f"not ready after {fault}: {self._stack.not_ready()}") from None
            self._report.faults.append((fault, time.monotonic() - started, ", ".join(last)))

    def _cause(self, fault: str) -> None:
        kind, _, target = fault.partition(" ")
        if kind == "kill":
            self._stack.child(target).kill()
            self._stack.respawn(target)
        elif kind == "connections":
            self._stack.vhost.drop_connections()
        elif kind == "store":
            self._store.crash()
            self._store.restart()
        else:
            raise ValueError(f"unknown fault {fault!r}")


def plan_for(stack: Stack, rounds: int = 1, processes: list[str] | None = None) -> list[str]:
    """Each process killed in turn (or those named), the connections dropped, the store restarted."""
    names = processes or [c.name for c in stack.children]
    return [*(f"kill {name}" for name in names), "connections", "store"] * rounds


def offered_sheets(orders: dict, rng: random.Random) -> list[Offered]:
    sheets = [
        Offered(session, entry, judge, random_scores(rng))
        for session, judges in PANELS.items()
        for entry in orders[session]["order"]
        for judge in judges
        if not (JUDGE_TOWNSHIP.get(judge) == "boshan" and session == "s2")
    ]
    rng.shuffle(sheets)
    return sheets


def expected_score(scores: list[dict[str, str]]) -> Decimal:
    """The stage score from raw sheets alone: weighted totals, the drop rule, ROUND_HALF_UP."""
    weights = {c["criterion_id"]: Decimal(c["weight"]) for c in CRITERIA}
    totals = sorted(sum(weights[k] * Decimal(v) for k, v in s.items()) for s in scores)
    tier = max((t for t in DROP_RULE if t["min_sheets"] <= len(totals)), key=lambda t: t["min_sheets"])
    kept = totals[tier["drop_low"] : len(totals) - tier["drop_high"]]
    with localcontext() as context:
        context.prec = 60
        return (sum(kept) / len(kept)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def retried(
    stack: Stack, method: str, path: str, body: dict | None, token: str, after: list[str] = ()
) -> tuple[int, dict, str | None]:
    """One organiser's command through any fault left: retried with its key until it answers.
    ``after``: the tokens of the writes it depends on. Returns the status, the body and the
    command's own Leitai-Written token (None when it wrote nothing)."""
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key, **({AFTER_HEADER: ", ".join(after)} if after else {})}
    return wait_until(
        lambda: _answered(stack, method, path, body, token, headers),
        timeout=RECOVERY_TIMEOUT_S,
        interval=0.5,
        what=f"{method} {path} to answer",
    )


def _answered(stack, method, path, body, token, headers):
    try:
        code, answer, got = stack.exchange(method, path, body, token, headers=headers)
    except OSError:
        return None
    return None if code >= 500 or code == 429 else (code, answer, got.get(WRITTEN_HEADER))


def check(stack: Stack, report: Report, sinks: NoticeSinks) -> None:
    """Lock, publish and compare everything with what the judges were told, and with what
    reached the contestants."""
    accepted = {(s.session, s.entry, s.judge): s for s in report.offered if s.outcome == "accepted"}
    others = {(s.session, s.entry, s.judge) for s in report.offered if s.outcome != "accepted"}
    scored: dict[str, dict] = {}
    locks: list[str] = []
    for session in PANELS:
        code, locked, written = retried(stack, "POST", f"/sessions/{session}/lock", {}, judge_token(PANELS[session][0]))
        if code == 422:  # a sheet missing or off the median: the organiser locks with a reason
            code, locked, written = retried(
                stack,
                "POST",
                f"/sessions/{session}/lock",
                {"override_reason": "fault run: sheets missing"},
                ORGANISER_TOKEN,
            )
        assert code in (200, 201) and written, locked
        locks.append(written)
        for result in locked["results"]:
            scored[result["entry_id"]] = dict(result, session=session)
            judges = [sheet["judge_id"] for sheet in result["sheets"]]
            report.duplicated += [f"{session}/{result['entry_id']}/{j}" for j in set(judges) if judges.count(j) > 1]
            for judge in judges:
                if (session, result["entry_id"], judge) in others:
                    report.counted_unaccepted.append(f"{session}/{result['entry_id']}/{judge}")
            mine = [
                s.scores for (sess, entry, _), s in accepted.items() if sess == session and entry == result["entry_id"]
            ]
            if mine and Decimal(result["stage_score"]) != expected_score(mine):
                report.mismatches.append(
                    f"{result['entry_id']}: stage score {result['stage_score']} != "
                    f"{expected_score(mine)} from the accepted sheets"
                )
    counted = {(v["session"], entry, sheet["judge_id"]) for entry, v in scored.items() for sheet in v["sheets"]}
    report.lost += [f"{s}/{e}/{j}" for (s, e, j) in accepted if (s, e, j) not in counted]
    standings = _check_published(stack, report, scored, locks)
    _check_logs_and_queues(stack, report)
    _check_notices(stack, report, sinks, standings)


def _check_published(stack: Stack, report: Report, scored: dict[str, dict], locks: list[str]) -> list[dict]:
    """Publish once ranking has seen every lock (their tokens: a 503 "not yet" is retried, a
    422 would be a real refusal), and compare the standings with the locked scores."""
    code, published, _ = retried(
        stack, "POST", f"/contests/{CONTEST}/stages/prelim/results", None, ORGANISER_TOKEN, after=locks
    )
    assert code == 201, published
    code, board, _ = retried(stack, "GET", f"/contests/{CONTEST}/stages/prelim/leaderboard", None, ORGANISER_TOKEN)
    rows = board["standings"]
    for row in rows:
        expected_rank = 1 + sum(1 for other in rows if Decimal(other["stage_score"]) > Decimal(row["stage_score"]))
        if row["stage_score"] != scored[row["entry_id"]]["stage_score"] or row["rank"] != expected_rank:
            report.mismatches.append(f"{row['entry_id']}: published {row['stage_score']} rank {row['rank']}")
    for group in {row["group_id"] for row in rows}:
        in_group = sorted((r for r in rows if r["group_id"] == group), key=lambda r: r["position"])
        if {r["entry_id"] for r in in_group[:3]} != {r["entry_id"] for r in in_group if r["advanced"]}:
            report.mismatches.append(f"{group}: advanced are not the best 3")
    return rows


class NoticeSinks:
    """Where the run's notices go: a real SMTP server process and an SMS gateway stand-in."""

    def __init__(self, folder: Path) -> None:
        self.smtp = SmtpSink(folder).start()
        self.sms = SmsGateway(SMS_API_KEY)

    def settings(self) -> dict:
        """LEITAI_NOTIFY for the stack: quick retries, so that an outage is soon made good."""
        return {
            "smtp": {"host": "127.0.0.1", "port": self.smtp.port, "sender": "zzb@boai.example.cn"},
            "sms": {"url": self.sms.url, "api_key": SMS_API_KEY},
            "base_delay": 0.2,
            "max_attempts": 20,
            "lease_seconds": 2,
        }

    def close(self) -> None:
        self.smtp.stop()
        self.sms.close()


@contextmanager
def notice_sinks(folder: Path) -> Iterator[NoticeSinks]:
    sinks = NoticeSinks(folder)
    try:
        yield sinks
    finally:
        sinks.close()


def _check_notices(stack: Stack, report: Report, sinks: NoticeSinks, standings: list[dict]) -> None:
    """Every delivery notify recorded as sent arrived, nothing else arrived, and no notice
    arrived twice under two ids; each contestant of the standings had their result once."""
    results_due = {row["contestant_id"] for row in standings}

    def settled() -> list[dict] | None:
        code, body, _ = retried(stack, "GET", f"/contests/{CONTEST}/deliveries", None, ORGANISER_TOKEN)
        listed = body["deliveries"]
        told = {d["recipient_id"] for d in listed if d["kind"] == "stage_result" and d["channel"] == "email"}
        busy = any(d["status"] in ("pending", "sending") for d in listed)
        return (
            listed
            if not busy and told >= {f"contestant-{c}" for c in results_due} and stack.queues_drained("notify")
            else None
        )

    try:
        deliveries = wait_until(settled, timeout=RECOVERY_TIMEOUT_S, interval=0.5, what="every notice to be sent")
    except TimeoutError:
        report.notices_missing.append("notify did not settle: deliveries still pending or not recorded")
        return
    mails = sinks.smtp.mails()
    texts = sinks.sms.messages()
    arrived = Counter(
        [("email", m["message_id"].strip("<>").split("@")[0]) for m in mails] + [("sms", t["out_id"]) for t in texts]
    )
    sent = {(d["channel"], d["_id"]) for d in deliveries if d["status"] == "sent" and d["channel"] in ("email", "sms")}
    report.notices = Counter(channel for channel, _ in arrived)
    report.resent = sum(n - 1 for n in arrived.values())
    report.notices_missing += [f"{channel} {id_}" for channel, id_ in sorted(sent - set(arrived))]
    report.notices_stray += [f"{channel} {id_}" for channel, id_ in sorted(set(arrived) - sent)]
    # the same words to the same address under two ids: one notice told twice
    once: dict[tuple, set] = {}
    for mail in mails:
        once.setdefault(("email", tuple(mail["to"]), mail["kind"], mail["body"]), set()).add(mail["message_id"])
    for text in texts:
        once.setdefault(("sms", text["to"], text["text"]), set()).add(text["out_id"])
    report.notices_twice += [f"{what[0]} to {what[1]}: {len(ids)} ids" for what, ids in once.items() if len(ids) > 1]
    results = Counter(m["to"][0] for m in {m["message_id"]: m for m in mails if m["kind"] == "stage_result"}.values())
    address = {e["contestant_id"]: e["email"] for e in entries()}
    expected = Counter(address[c] for c in results_due)
    report.notices_missing += [f"stage result mail to {to}" for to in expected - results]
    report.notices_twice += [f"stage result mail to {to}" for to in results - expected]


def _check_logs_and_queues(stack: Stack, report: Report) -> None:
    def replay() -> bool:
        run = subprocess.run(
            [str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), "replay", "ranking", "--verify"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        report.replay_differences = run.stdout.splitlines()[:20] if run.returncode else []
        return run.returncode == 0

    try:  # the live read model converges once the last events are consumed
        report.replay_identical = wait_until(replay, timeout=60, interval=1.0, what="replay to be identical")
    except TimeoutError:
        report.replay_identical = False
    audit = subprocess.run(
        [str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), "audit"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report.audit_ok = audit.returncode == 0 and json.loads(audit.stdout)["ok"]
    report.dead_letters = sum(
        queue_state(stack.amqp_uri, topology.dead_letter_queue_name(s.queue_name))[0] for s in CATALOGUE.subscriptions
    )


def run(
    stack: Stack,
    store,
    sinks: NoticeSinks,
    plan: list[str] | None = None,
    seed: int = 2021,
    workers: int = 4,
    pace: float = 4.0,
) -> Report:
    """The whole fault run on a started stack whose store (``store``) it may restart and whose
    notices go to ``sinks`` (notice_sinks); ``pace``: new sheets a second (slower for a longer
    plan, so that every fault meets traffic)."""
    report = Report(stack.replicas)
    orders = set_up(stack)
    report.offered = offered_sheets(orders, random.Random(seed))
    judges = Judges(stack, report.offered, workers, pace=pace).start()
    Faults(stack, store, report).inject(plan if plan is not None else plan_for(stack), judges)
    judges.join()
    report.server_errors = judges.server_errors
    check(stack, report, sinks)
    return report
