"""``make load``: judges scoring over HTTP against ``leitai up``, at rising offered rates.

``leitai up`` runs every service, relay and the gateway against a fresh store and broker vhost.
A contest is set up over HTTP as an organiser would (docs/api.md): a county of ``--sessions``
townships, 15 entries each, one session per township with a panel of five of the ``--judges``
judges. Then, for each offered rate R of ``--rates`` in turn, sheets are sent for
``--seconds`` seconds, open loop (sheet i is due at i/R seconds, whether or not the earlier
ones were answered, so that a slow system is not hidden by a slower client), session after
session, entry after entry, as judges score contestants one after another; a session is
locked by its head judge once the screen shows all its sheets.

Two latencies per sheet, both from the moment it was due:
* **accepted**: the gateway answered 2xx to its PUT (sent with its submission id as
  Idempotency-Key; a 429, 503 or no answer is an error, and the sheet is sent again);
* **on the screen**: the venue screen's live stream (``/live/.../events``, the same
  server-sent events the big screen shows) counts the sheet among those received.
The ramp stops at the first rate where the goal breaks (p99 accepted under ``--accepted-ms``,
p99 on the screen under ``--visible-ms``, no errors, at least 95% of the offered rate
achieved) and prints that breaking rate. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench import preflight
from composition.product import CATALOGUE
from composition.up import commands
from testkit.servers import ChildProcess, SecantusServer, Vhost, free_port, free_ports, queue_state, wait_until

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
CONTEST, STAGE = "load-2026", "prelim"
COUNTY = "county"  # the office that owns the contest: the organiser's grant names it
ORGANISER, SCREEN = "load-organiser-token", "load-screen-token"
CRITERIA = [
    {"criterion_id": "party", "name": "讲党建", "max": "30", "weight": "1", "step": "0.5"},
    {"criterion_id": "work", "name": "讲工作", "max": "40", "weight": "1.5", "step": "0.5"},
    {"criterion_id": "results", "name": "讲成效", "max": "30", "weight": "1", "step": "0.5"},
]
ENTRIES_PER_SESSION, PANEL = 15, 5


def judge_token(judge: str) -> str:
    return f"load-judge-token-{judge}"


class Client:
    """One keep-alive HTTP connection per thread, as a browser or an app holds one."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._local = threading.local()

    def call(
        self, method: str, path: str, body: dict | None = None, token: str | None = None, headers: dict | None = None
    ) -> tuple[int, dict | str]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(*self._address, timeout=30)
        sent = {
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **(headers or {}),
        }
        try:
            connection.request(method, path, json.dumps(body) if body is not None else None, sent)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self._local.connection = None
            raise
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")


def ok(answer: tuple[int, dict | str]) -> dict:
    code, body = answer
    if code not in (200, 201):
        raise RuntimeError(f"set-up call refused: {code} {body}")
    return body


@dataclass
class Sheet:
    session: str
    entry: str
    judge: str
    scores: dict
    due: float = 0.0
    accepted: float | None = None
    visible: float | None = None
    errors: list[str] = field(default_factory=list)


def set_up(client: Client, sessions: int, judges: list[str]) -> dict[str, dict]:
    """The contest up to open sessions; returns each session's panel and drawn order."""
    townships = [f"t{n:03d}" for n in range(sessions)]
    tree = [
        {"code": "county", "name": "县", "level": "county", "parent": None},
        {"code": "judges", "name": "评委镇", "level": "township", "parent": "county"},
    ]
    for t in townships:
        tree.append({"code": t, "name": f"第{t[1:]}镇", "level": "township", "parent": "county"})
        tree += [
            {"code": f"{t}-v{v:02d}", "name": f"第{v}村", "level": "village", "parent": t}
            for v in range(1, ENTRIES_PER_SESSION + 1)
        ]
    ok(client.call("PUT", "/regions/county", {"regions": tree}, ORGANISER))
    ok(
        client.call(
            "POST",
            "/contests",
            {
                "contest_id": CONTEST,
                "name": "负载测试擂台比武",
                "tree_id": "county",
                "county_code": COUNTY,
                "format": "knockout",
            },
            ORGANISER,
        )
    )
    ok(
        client.call(
            "POST",
            f"/contests/{CONTEST}/stages",
            {
                "stage_id": STAGE,
                "name": "乡镇初赛",
                "order": 1,
                "panel_size": PANEL,
                "criteria": CRITERIA,
                "groups": [{"group_id": f"g-{t}", "name": t, "townships": [t]} for t in townships],
                "drop_rule": [{"min_sheets": 5, "drop_high": 1, "drop_low": 1}],
                "tolerance": "100",
                "advancement": {"per_group": 1},
            },
            ORGANISER,
        )
    )
    for judge in judges:
        ok(
            client.call(
                "POST",
                f"/contests/{CONTEST}/judges",
                {"judge_id": judge, "name": f"评委{judge}", "township_code": "judges"},
                ORGANISER,
            )
        )
    entries = [
        {
            "entry_id": f"e-{t}-{v:02d}",
            "contestant_id": f"c-{t}-{v:02d}",
            "name": f"书记{t}{v:02d}",
            "village_code": f"{t}-v{v:02d}",
            "title": "党建工作汇报",
        }
        for t in townships
        for v in range(1, ENTRIES_PER_SESSION + 1)
    ]
    for first in range(0, len(entries), 100):
        ok(client.call("POST", f"/contests/{CONTEST}/entries", {"entries": entries[first : first + 100]}, ORGANISER))
    plans = {}
    for n, t in enumerate(townships):
        session = f"s-{t}"
        panel = [judges[(n * PANEL + k) % len(judges)] for k in range(PANEL)]
        ok(
            client.call(
                "POST",
                f"/contests/{CONTEST}/sessions",
                {
                    "session_id": session,
                    "stage_id": STAGE,
                    "group_id": f"g-{t}",
                    "starts_at": "2026-06-01T09:00:00+08:00",
                },
                ORGANISER,
            )
        )
        ok(
            client.call(
                "PUT",
                f"/contests/{CONTEST}/sessions/{session}/panel",
                {"seats": [{"judge_id": j, "head": k == 0} for k, j in enumerate(panel)]},
                ORGANISER,
            )
        )
        drawn = ok(
            client.call("POST", f"/contests/{CONTEST}/sessions/{session}/draw", {"seed": f"seed-{session}"}, ORGANISER)
        )
        ok(client.call("POST", f"/contests/{CONTEST}/sessions/{session}/opening", None, ORGANISER))
        plans[session] = {"panel": panel, "order": drawn["order"]}
    for session in plans:  # scoring learns of an opening by an event
        wait_until(
            lambda session=session: client.call("GET", f"/sessions/{session}/scoring", token=ORGANISER)[0] == 200,
            timeout=120,
            what=f"session {session} to open for scoring",
        )
    return plans


def settled(amqp_uri: str) -> bool:
    """No event waits in any consumer's queue (what set-up caused is done, notices included)."""
    return all(queue_state(amqp_uri, s.queue_name)[0] == 0 for s in CATALOGUE.subscriptions)


def sheets_of(plans: dict[str, dict]) -> list[Sheet]:
    """Every sheet of every session, in the order a contest produces them."""
    sheets = []
    for session, plan in plans.items():
        for n, entry in enumerate(plan["order"]):
            for k, judge in enumerate(plan["panel"]):
                score = 20 + (n * 7 + k * 3) % 20  # a spread, on the criteria's steps
                sheets.append(
                    Sheet(
                        session,
                        entry,
                        judge,
                        {"party": str(score * 30 // 40), "work": str(score), "results": str(score * 30 // 40)},
                    )
                )
    return sheets


class Screen:
    """The venue screen's live stream, read as the big screen reads it: for each (session,
    entry), when it first showed n sheets received."""

    def __init__(self, host: str, port: int, plans: dict[str, dict]) -> None:
        self._address = (host, port)
        self._entry_at = {(s, n + 1): e for s, plan in plans.items() for n, e in enumerate(plan["order"])}
        self.shown: dict[tuple[str, str], list[float]] = defaultdict(list)  # n-th sheet shown at shown[...][n-1]
        self.complete: set[str] = set()  # sessions whose every sheet the screen showed
        self._expected = {s: len(plan["order"]) * PANEL for s, plan in plans.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> Screen:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _read(self) -> None:
        connection = http.client.HTTPConnection(*self._address, timeout=60)
        # a program's way to the stream: its token in the header (the page's is a ticket in a cookie)
        connection.request("GET", f"/live/{CONTEST}/{STAGE}/events", headers={"Authorization": f"Bearer {SCREEN}"})
        response = connection.getresponse()
        while not self._stop.is_set():
            line = response.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                self._saw(json.loads(line[6:]), time.perf_counter())

    def _saw(self, state: dict, at: float) -> None:
        totals: dict[str, int] = defaultdict(int)
        for row in state["progress"]:
            entry = self._entry_at[(row["session_id"], row["order"])]
            shown = self.shown[(row["session_id"], entry)]
            shown.extend([at] * (row["received"] - len(shown)))
            totals[row["session_id"]] += row["received"]
        for session, received in totals.items():
            if received >= self._expected[session]:
                self.complete.add(session)


@dataclass
class Step:
    rate: float
    sheets: list[Sheet]
    elapsed: float

    def latencies(self, what: str) -> list[float]:
        return sorted((getattr(s, what) - s.due) * 1000 for s in self.sheets if getattr(s, what) is not None)

    @property
    def errors(self) -> int:
        return sum(len(s.errors) for s in self.sheets)

    @property
    def achieved(self) -> float:
        return sum(1 for s in self.sheets if s.accepted is not None) / self.elapsed

    def figures(self) -> dict:
        accepted, visible = self.latencies("accepted"), self.latencies("visible")
        return {
            "offered_per_s": self.rate,
            "achieved_per_s": round(self.achieved, 1),
            "sheets": len(self.sheets),
            "errors": self.errors,
            "not_shown": len(self.sheets) - len(visible),
            **{f"accepted_p{p}_ms": round(percentile(accepted, p)) for p in (50, 95, 99)},
            **{f"visible_p{p}_ms": round(percentile(visible, p)) for p in (50, 95, 99)},
        }


def percentile(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


class Run:
    def __init__(self, client: Client, screen: Screen, plans: dict[str, dict], workers: int) -> None:
        self.client = client
        self.screen = screen
        self.plans = plans
        self.pool = ThreadPoolExecutor(workers)
        self.locked: set[str] = set()

    def step(self, sheets: list[Sheet], rate: float, settle_s: float = 10.0) -> Step:
        started = time.perf_counter()
        futures = []
        for i, sheet in enumerate(sheets):
            sheet.due = started + i / rate
            pause = sheet.due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # the schedule itself, not a synchronisation
            futures.append(self.pool.submit(self._send, sheet))
        for future in futures:
            future.result()
        elapsed = max(time.perf_counter() - started, len(sheets) / rate)
        deadline = time.perf_counter() + settle_s
        while time.perf_counter() < deadline and not self._shown_all(sheets):
            self._lock_completed()
            time.sleep(0.05)
        self._lock_completed()
        for sheet in sheets:
            sheet.visible = self._shown_at(sheet)
        return Step(rate, sheets, elapsed)

    def _send(self, sheet: Sheet) -> None:
        submission = str(uuid.uuid4())
        body = {"submission_id": submission, "scores": sheet.scores}
        for _ in range(20):
            try:
                code, answer = self.client.call(
                    "PUT",
                    f"/sessions/{sheet.session}/sheets/{sheet.entry}",
                    body,
                    judge_token(sheet.judge),
                    {"Idempotency-Key": submission},
                )
            except OSError as exc:
                code, answer = 0, str(exc)
            if code in (200, 201):
                sheet.accepted = time.perf_counter()
                return
            sheet.errors.append(f"{code}: {str(answer)[:200]}")
            if 400 <= code < 500 and code != 429:
                return
            time.sleep(0.2)

    def _shown_at(self, sheet: Sheet) -> float | None:
        """When the screen first showed as many sheets of the entry as had been accepted by the
        time this one was."""
        if sheet.accepted is None:
            return None
        rank = sum(1 for s in self._of_entry(sheet) if s.accepted is not None and s.accepted <= sheet.accepted)
        shown = self.screen.shown.get((sheet.session, sheet.entry), [])
        return max(shown[rank - 1], sheet.accepted) if len(shown) >= rank else None

    def _of_entry(self, sheet: Sheet) -> list[Sheet]:
        return self.by_entry[(sheet.session, sheet.entry)]

    def _shown_all(self, sheets: list[Sheet]) -> bool:
        return all(self._shown_at(s) is not None for s in sheets if s.accepted is not None)

    def _lock_completed(self) -> None:
        """The head judge locks a session once the screen shows all its sheets (it then leaves
        the screen's progress for its standings)."""
        for session in sorted(self.screen.complete - self.locked):
            head = self.plans[session]["panel"][0]
            try:
                code, body = self.client.call(
                    "POST", f"/sessions/{session}/lock", {}, judge_token(head), {"Idempotency-Key": f"lock-{session}"}
                )
            except OSError as exc:
                code, body = 0, exc
            if code in (200, 201):
                self.locked.add(session)
            else:
                print(f"   lock of {session} not done ({code} {body}); tried again later", flush=True)


def start_up(workdir: Path, url: str, amqp_uri: str, judges: list[str]) -> tuple[ChildProcess, int, str]:
    prefix = f"leitai_load_{uuid.uuid4().hex[:6]}"
    port = free_port()
    tokens = {
        ORGANISER: {"role": "organiser", "id": "org1", "office": COUNTY},
        SCREEN: {"role": "screen", "id": "hall", "contest": CONTEST},
        **{judge_token(j): {"role": "judge", "id": j, "contest": CONTEST} for j in judges},
    }
    env = {
        "AMQP_URI": amqp_uri,
        "MONGO_URL": url,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        **{f"{s.upper()}_DATABASE": f"{prefix}_{s}" for s in ("registration", "scoring", "ranking", "notify")},
        "LEITAI_TOKENS": json.dumps(tokens),
        "LEITAI_RATE_PER_SECOND": "100000",
        "LEITAI_RATE_BURST": "100000",
        "LEITAI_ENVIRONMENT": "bench",  # a local broker's guest:guest and the example SMS key: refused in production
    }
    ops_base = free_ports(len(commands(ROOT / "config")))
    up = ChildProcess(
        [str(BIN / "leitai"), "up", "--config-dir", str(ROOT / "config"), "--ops-base", str(ops_base)],
        env=env,
        name="up",
    ).start()
    wait_until(lambda: "leitai up: ready" in up.output() or not up.alive(), timeout=180, what="leitai up")
    if not up.alive():
        raise RuntimeError(f"leitai up failed:\n{up.output()[-3000:]}")
    return up, port, prefix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judges", type=int, default=12)
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[10, 25, 50, 75, 100],
        help="offered sheets a second, in turn, until the goal breaks",
    )
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each step")
    parser.add_argument("--accepted-ms", type=float, default=250.0)
    parser.add_argument("--visible-ms", type=float, default=1000.0)
    parser.add_argument("--workers", type=int, default=64, help="concurrent requests at most")
    args = parser.parse_args()
    if args.judges < PANEL:
        parser.error(f"--judges: a panel seats {PANEL} judges, so at least {PANEL} are needed")
    needed = sum(int(r * args.seconds) for r in args.rates)
    sessions = -(-needed // (ENTRIES_PER_SESSION * PANEL))
    judges = [f"J{n:02d}" for n in range(1, args.judges + 1)]
    preflight.require(broker=True)
    url = os.environ.get("LEITAI_BENCH_MONGO_URL")
    server = None if url else SecantusServer(os.environ["LEITAI_SECANTUSD"]).start()
    vhost = Vhost("leitai_load").create()
    up = None
    steps: list[dict] = []
    breaking = None
    try:
        up, port, _ = start_up(Path(tempfile.mkdtemp(prefix="leitai-load-")), url or server.url, vhost.uri, judges)
        client = Client("127.0.0.1", port)
        print(
            f"leitai load: {args.judges} judges, {sessions} sessions of {ENTRIES_PER_SESSION} entries; "
            f"rates {args.rates}/s, {args.seconds:.0f} s each; goal p99 accepted < {args.accepted_ms:.0f} ms, "
            f"p99 on the screen < {args.visible_ms:.0f} ms",
            flush=True,
        )
        set_up_started = time.perf_counter()
        plans = set_up(client, sessions, judges)
        set_up_s = time.perf_counter() - set_up_started
        wait_until(
            lambda: settled(vhost.uri) and (time.sleep(1) or settled(vhost.uri)),
            timeout=600,
            interval=1,
            what="the events of the set-up to be consumed",
        )
        print(
            f"   contest set up over HTTP in {set_up_s:.0f} s, its events consumed after "
            f"{time.perf_counter() - set_up_started:.0f} s",
            flush=True,
        )
        sheets = sheets_of(plans)
        screen = Screen("127.0.0.1", port, plans).start()
        run = Run(client, screen, plans, args.workers)
        run.by_entry = defaultdict(list)
        for sheet in sheets:
            run.by_entry[(sheet.session, sheet.entry)].append(sheet)
        print(
            f"{'offered/s':>9} {'achieved/s':>10} {'errors':>6}   accepted p50/p95/p99 ms   on screen p50/p95/p99 ms",
            flush=True,
        )
        for rate in args.rates:
            count = int(rate * args.seconds)
            step, sheets = run.step(sheets[:count], rate), sheets[count:]
            f = step.figures()
            steps.append(f)
            print(
                f"{rate:>9.0f} {f['achieved_per_s']:>10.1f} {f['errors']:>6}   "
                f"{f['accepted_p50_ms']:>6} {f['accepted_p95_ms']:>6} {f['accepted_p99_ms']:>6}       "
                f"{f['visible_p50_ms']:>6} {f['visible_p95_ms']:>6} {f['visible_p99_ms']:>6}"
                + (f"   ({f['not_shown']} not shown)" if f["not_shown"] else ""),
                flush=True,
            )
            if (
                f["errors"]
                or f["not_shown"]
                or f["accepted_p99_ms"] >= args.accepted_ms
                or f["visible_p99_ms"] >= args.visible_ms
                or f["achieved_per_s"] < 0.95 * rate
            ):
                breaking = rate
                break
        screen.stop()
        held = [f["offered_per_s"] for f in steps if f["offered_per_s"] != breaking]
        print(f"goal held up to {max(held):.0f} sheets/s" if held else "goal not held at the lowest rate", end="")
        print(f"; breaks at {breaking:.0f} sheets/s" if breaking else "; not broken within the ramp")
        print(json.dumps({"load": steps, "breaking_rate": breaking, "held_rate": max(held) if held else None}))
        return 0
    finally:
        if up and up.alive():
            up.process.send_signal(signal.SIGINT)  # up stops its children, as Ctrl-C does
            up.process.wait(60)
        vhost.delete()
        if server:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
