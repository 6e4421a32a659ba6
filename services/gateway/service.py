"""The HTTP gateway: JSON REST over the registration, scoring, ranking and notify services.

Entrypoints only: each maps a route to one RPC call. Who may call a route: its ``action``,
declared once in leitai/access.py, which the services check again. Authentication (auth.py),
validation and error mapping (http.py, once, in ``dispatch``) and the OpenAPI document
(openapi.py) live beside it.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext

import eventlet
from amqp.exceptions import ConnectionError as AMQPConnectionError
from kombu.exceptions import OperationalError
from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from leitai import certificates, consistency, metrics
from leitai.access import ACTIONS
from leitai.dependencies import Operations
from leitai.errors import DomainError, InvalidInput, NotFound, Unavailable
from leitai.formats import FORMATS
from leitai.messages import N_
from leitai.roles import PUBLIC
from leitai.rpc import Deadline, ReadYourWrites, RpcProxy
from services.gateway import exports, invitations, live, names, pages, results_page, roster
from services.gateway import schemas as s
from services.gateway.auth import Settings
from services.gateway.http import (
    check_params,
    client_address,
    endpoint,
    error_response,
    http,
    idempotency,
    json_response,
    new_request_id,
    read_body,
    respond,
)
from services.gateway.openapi import document
from services.gateway.places import KnownPlaces
from services.gateway.settings import INTERNAL_EDGE, PUBLIC_EDGE
from services.gateway.tickets import ScreenTickets

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 3
BROKER_ERRORS = (OperationalError, AMQPConnectionError, ConnectionError)
BROKER_OUTAGE = N_("the message broker is not answering; the outcome is unknown: retry with the same key")
INTERNAL = N_("internal error")


class GatewayService:
    name = "gateway"
    settings = Settings()
    registration = RpcProxy("registration")
    scoring = RpcProxy("scoring")
    ranking = RpcProxy("ranking")
    notify = RpcProxy("notify")
    config = Config()
    deadline = Deadline()
    read_your_writes = ReadYourWrites()
    ops = Operations()
    screens = live.Screens()  # one poller per watched stage, shared by its live streams
    tickets = ScreenTickets()  # the big screen's: how its stream knows it without a token in the URL
    places = KnownPlaces()  # what a route's contest or session is, for the check of a grant's scope

    def dispatch(self, route, fn, request, params):
        started = time.monotonic()
        response = self._answer(route, fn, request, params)
        metrics.GATEWAY_SECONDS.labels(route.name).observe(time.monotonic() - started)
        metrics.GATEWAY_REQUESTS.labels(route.name, str(response.status_code)).inc()
        return response

    def _answer(self, route, fn, request, params):
        request_id = new_request_id(request)
        translator = self.settings.translator(request.accept_languages.values())
        self.translator = translator  # a service instance serves one request: a route renders read messages with it
        try:
            authenticator = self.settings.authenticator
            address = client_address(request, self.settings.trusted_proxies)
            self.deadline(self.settings.rpc_timeout)  # a minted token's look-up is an RPC of this request
            lookup = self.registration.grant_holder if 429 in route.errors else None  # /health/live: no RPC
            actor = self.settings.identify(request.headers.get("Authorization"), address, lookup)  # limit, then permit
            if 429 in route.errors:  # what a route may answer is its contract: only /health/live is free
                self.settings.admit(actor, address)
            presented = bool(request.headers.get("Authorization"))
            actor = authenticator.permit(actor, route.roles, to=route.to, presented=presented)
            check_params(params)
            if PUBLIC not in route.roles:  # the grant reaches what the route names (the services check again)
                self.places.reach(actor, params, self.registration.contest_place, self.scoring.session_place)
            body = read_body(route, request)
            actor = dict(actor, request_id=request_id)
            keyed = idempotency(route, request, actor, params, body)
            if keyed:
                actor["idempotency"] = keyed
            # only tokens this gateway sealed (400 otherwise), and only those still in date
            after = self.settings.after(request.headers.get(consistency.AFTER_HEADER))
            # nameko's RPC waits for ever on a service that is down: a request gets a deadline,
            # which its RPC requests carry, so that none of them runs after the client was told
            seconds = self.settings.rpc_timeout
            self.deadline(seconds)
            with (
                self.settings.waiting(actor, address) if after else nullcontext(0.0) as wait_s,
                eventlet.Timeout(
                    seconds,
                    Unavailable(
                        "no answer within {seconds} s; the outcome is unknown: retry with the same key",
                        seconds=format(seconds, "g"),
                    ),
                ),
            ):
                if after:  # a client waits for its writes in at most waits_per_client requests at once
                    self.read_your_writes.after(after, wait_s)
                result = fn(self, actor, body, **params)
            # Response schemas document the shape (schemathesis holds us to it); the body is
            # the service's result as JSON, Decimals and dates as strings.
            return respond(route, result, request_id, self.settings.sealed(self.read_your_writes.written()))
        except DomainError as error:
            log.info(
                "refused",
                extra={
                    "request_id": request_id,
                    "route": route.name,
                    "error": type(error).__name__,
                    "reason": error.message,
                },
            )
            return error_response(error, request_id, translator)
        except BROKER_ERRORS as error:  # the request may or may not have reached its service
            log.warning(
                "broker unavailable",
                extra={
                    "request_id": request_id,
                    "route": route.name,
                    "error": f"{type(error).__name__}: {error}"[:300],
                },
            )
            return error_response(Unavailable(BROKER_OUTAGE), request_id, translator)
        except Exception:  # a bug or an outage: logged with the request id, never leaked to the client
            log.exception("failed", extra={"request_id": request_id, "route": route.name})
            return json_response(
                500,
                {
                    "error": {
                        "code": "internal",
                        "message": translator.message(INTERNAL),
                        "message_id": INTERNAL,
                        "fields": None,
                        "request_id": request_id,
                    }
                },
            )

    # -- service -------------------------------------------------------------------
    @endpoint(
        "GET",
        "/openapi.json",
        roles={PUBLIC},
        summary="This document",
        errors=(429,),
        edges=(INTERNAL_EDGE, PUBLIC_EDGE),
    )
    def openapi(self, actor, body):
        return document(self.settings.edge)

    @endpoint(
        "GET",
        "/health/live",
        roles={PUBLIC},
        summary="Liveness",
        response=s.Health,
        errors=(),
        edges=(INTERNAL_EDGE, PUBLIC_EDGE),
    )
    def live(self, actor, body):
        return {"status": "ok"}

    @endpoint(
        "GET",
        "/health/ready",
        roles={PUBLIC},
        summary="Readiness: broker, services and their stores",
        response=s.Health,
        errors=(429, 503),
        edges=(INTERNAL_EDGE, PUBLIC_EDGE),
    )
    def ready(self, actor, body):
        checks = {}
        for name, proxy in (
            ("registration", self.registration),
            ("scoring", self.scoring),
            ("ranking", self.ranking),
            ("notify", self.notify),
        ):
            try:
                with eventlet.Timeout(READY_TIMEOUT_S):
                    checks[name] = proxy.health()
            except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - any failure means not ready
                checks[name] = f"unavailable: {type(exc).__name__}"
        if any(v != "ok" for v in checks.values()):
            raise Unavailable("not ready", checks)
        return {"status": "ok", "checks": checks}

    # -- regions -------------------------------------------------------------------
    @endpoint(
        "PUT",
        "/regions/<string:tree_id>",
        action="import_regions",
        body=s.RegionsImport,
        response=s.RegionsImported,
        summary="Import a region tree (JSON list or CSV text code,name,level,parent)",
    )
    def import_regions(self, actor, body, tree_id):
        if ("regions" in body) == ("csv" in body):
            problems = {"_body": [N_("exactly one of regions, csv")]}
            raise InvalidInput("give either regions or csv", problems)
        return self.registration.import_regions(actor, tree_id, body.get("regions"), body.get("csv"))

    @endpoint("GET", "/regions/<string:tree_id>", roles={PUBLIC}, response=s.RegionTree, summary="A region tree")
    def get_regions(self, actor, body, tree_id):
        return self.registration.get_regions(tree_id)

    # -- contests ------------------------------------------------------------------
    @endpoint(
        "POST",
        "/contests",
        action="create_contest",
        body=s.ContestCreate,
        response=s.Record,
        status=201,
        summary="Create a contest",
    )
    def create_contest(self, actor, body):
        return self.registration.create_contest(actor, body)

    @endpoint(
        "GET",
        "/me",
        action="see_self",
        response=s.Me,
        summary="The grant the request presented: its role, holder and scope (never its token), for a page to "
        "show what that grant may do",
    )
    def me(self, actor, body):
        return {k: actor[k] for k in ("role", "id", "contest", "office", "deployment") if k in actor}

    @endpoint(
        "GET",
        "/formats",
        action="see_formats",
        response=s.Formats,
        summary="The formats a contest starts from (Boai's knock-out, Qidong's five paired criteria, Lufeng's "
        "meetings, blank): stages, criteria and rules to fill the set-up forms with",
    )
    def formats(self, actor, body):
        return {"formats": [dict(definition, key=key) for key, definition in FORMATS.items()]}

    @endpoint(
        "GET",
        "/contests",
        action="list_contests",
        response=s.Contests,
        summary="Every contest with its stages and how far each has got (sessions open and locked, the "
        "published version)",
    )
    def list_contests(self, actor, body):
        return {"contests": self.ranking.contests(actor)}

    @endpoint(
        "GET",
        "/contests/<string:contest_id>",
        roles={PUBLIC},
        response=s.ContestView,
        summary="A contest with its stages, judges, entries and sessions (contacts for organisers only)",
    )
    def get_contest(self, actor, body, contest_id):
        return self.registration.get_contest(actor, contest_id)

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/advancement-changes/<string:change_id>/decision",
        action="decide_advancement",
        body=s.AdvancementDecision,
        response=s.AdvancementDecisionOut,
        summary="Decide a change of who advances that a correction made after the next stage had started "
        "(follow, admit or keep, with the reason); the same decision again answers with the record",
    )
    def decide_advancement(self, actor, body, contest_id, change_id):
        return self.registration.decide_advancement(actor, contest_id, change_id, body)

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/stages",
        action="define_stage",
        body=s.StageCreate,
        response=s.Record,
        status=201,
        summary="Define a stage: groups, criteria, panel, drop rule, advancement",
    )
    def define_stage(self, actor, body, contest_id):
        return self.registration.define_stage(actor, contest_id, body)

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/judges",
        action="register_judge",
        body=s.JudgeCreate,
        response=s.Record,
        status=201,
        summary="Register a judge",
    )
    def register_judge(self, actor, body, contest_id):
        return self.registration.register_judge(actor, contest_id, body)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/roster.xlsx",
        action="register_roster",
        media_type=exports.XLSX,
        summary="The Excel template for the contest's judges and entries, with a guide listing its townships "
        "and villages by name",
    )
    def roster_template(self, actor, body, contest_id):
        basis = self.registration.roster_basis(actor, contest_id)
        return roster.template(basis["contest"], basis["regions"])

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/roster",
        action="register_roster",
        body=s.RosterImport,
        response=s.RosterImported,
        status=201,
        summary="Register the judges and entries of a filled-in template (all or none; 400 lists every row's "
        "problems by sheet and row)",
    )
    def register_roster(self, actor, body, contest_id):
        basis = self.registration.roster_basis(actor, contest_id)
        data = roster.decode(body["workbook"])
        sheet = roster.read(data, basis["contest"], basis["regions"], s.JudgeCreate, s.EntryCreate)
        try:
            records = self.registration.register_roster(actor, contest_id, sheet.judges, sheet.entries)
        except DomainError as refused:
            raise roster.refused_rows(refused, sheet) from None
        return {"judges": len(sheet.judges), "entries": len(sheet.entries), "records": records}

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/invitations",
        action="invite",
        body=s.InvitationCreate,
        response=s.Invitation,
        status=201,
        summary="Invite a judge (or a hall's screen): a grant for this contest, its token shown this once, "
        "the sign-in link and its QR code; a judge's earlier grant stops working",
    )
    def invite(self, actor, body, contest_id):
        base_url = body.pop("base_url")
        return invitations.handed_over(self.registration.invite(actor, contest_id, body), base_url)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/invitations",
        action="invite",
        response=s.Grants,
        summary="The contest's grants and their status (active, expired, revoked); never a token",
    )
    def list_invitations(self, actor, body, contest_id):
        return {"invitations": self.registration.invitations(actor, contest_id)}

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/invitations/<string:grant_id>/revocation",
        action="invite",
        body=s.Revocation,
        response=s.Grant,
        summary="Revoke one of the contest's grants: its link lets no one in from now on",
    )
    def revoke_invitation(self, actor, body, contest_id, grant_id):
        return self.registration.revoke_invitation(actor, contest_id, grant_id, body["reason"])

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/entries",
        action="submit_entries",
        body=s.EntriesCreate,
        response=s.Records,
        status=201,
        summary="Register entries (one or many, all or none)",
    )
    def submit_entries(self, actor, body, contest_id):
        return {"records": self.registration.submit_entries(actor, contest_id, body["entries"])}

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/entries/<string:entry_id>/withdrawal",
        action="withdraw_entry",
        body=s.Withdrawal,
        response=s.Record,
        summary="Withdraw an entry before its session opens",
    )
    def withdraw_entry(self, actor, body, contest_id, entry_id):
        return self.registration.withdraw_entry(actor, contest_id, entry_id, body["reason"])

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/sessions",
        action="schedule_session",
        body=s.SessionCreate,
        response=s.Record,
        status=201,
        summary="Schedule a session (time, place or video room)",
    )
    def schedule_session(self, actor, body, contest_id):
        return self.registration.schedule_session(actor, contest_id, body)

    @endpoint(
        "PUT",
        "/contests/<string:contest_id>/sessions/<string:session_id>/panel",
        action="seat_panel",
        body=s.PanelSeat,
        response=s.Record,
        summary="Seat the panel (one head judge; reserves allowed)",
    )
    def seat_panel(self, actor, body, contest_id, session_id):
        return self.registration.seat_panel(actor, contest_id, session_id, body["seats"])

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/sessions/<string:session_id>/draw",
        action="draw_order",
        body=s.Draw,
        response=s.Record,
        status=201,
        summary="Draw the order of appearance by lot",
    )
    def draw_order(self, actor, body, contest_id, session_id):
        return self.registration.draw_order(actor, contest_id, session_id, body.get("seed"))

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/sessions/<string:session_id>/opening",
        action="open_session",
        response=s.Record,
        summary="Open the session for scoring",
    )
    def open_session(self, actor, body, contest_id, session_id):
        return self.registration.open_session(actor, contest_id, session_id)

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/forum-series",
        action="create_series",
        body=s.SeriesCreate,
        response=s.Record,
        status=201,
        summary="Create a forum series (recurring themed meetings)",
    )
    def create_series(self, actor, body, contest_id):
        return self.registration.create_series(actor, contest_id, body)

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/forum-series/<string:series_id>/meetings",
        action="schedule_meeting",
        body=s.MeetingCreate,
        response=s.Record,
        status=201,
        summary="Schedule a meeting of a forum series",
    )
    def schedule_meeting(self, actor, body, contest_id, series_id):
        return self.registration.schedule_meeting(actor, contest_id, dict(body, series_id=series_id))

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/meetings/<string:meeting_id>/record",
        action="record_meeting",
        body=s.MeetingRecord,
        response=s.Record,
        status=201,
        summary="Record a meeting that took place: presentations, attendance, evaluators' comments",
    )
    def record_meeting(self, actor, body, contest_id, meeting_id):
        return self.registration.record_meeting(actor, contest_id, dict(body, meeting_id=meeting_id))

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/participation",
        action="see_participation",
        response=s.Participation,
        summary="Each presenter's record over the contest's forum meetings",
    )
    def participation(self, actor, body, contest_id):
        return {"participants": self.registration.participation(contest_id)}

    # -- scoring -------------------------------------------------------------------
    @endpoint(
        "PUT",
        "/sessions/<string:session_id>/sheets/<string:entry_id>",
        action="submit_sheet",
        body=s.SheetSubmit,
        response=s.SheetOut,
        summary="Submit or revise the calling judge's score sheet for an entry",
    )
    def submit_sheet(self, actor, body, session_id, entry_id):
        return self.scoring.submit_sheet(
            actor, session_id, entry_id, body["submission_id"], body["scores"], body["strengths"], body["suggestions"]
        )

    @endpoint(
        "POST",
        "/sessions/<string:session_id>/lock",
        action="lock_session",
        body=s.Lock,
        response=s.LockResult,
        summary="Lock the session (head judge or organiser) and publish its scores",
    )
    def lock_session(self, actor, body, session_id):
        return self.scoring.lock_session(actor, session_id, body["override_reason"])

    @endpoint(
        "POST",
        "/sessions/<string:session_id>/corrections",
        action="propose_correction",
        body=s.CorrectionCreate,
        response=s.CorrectionOut,
        status=201,
        summary="Propose a correction of a locked sheet of a published stage (change a score, void a sheet, "
        "add a missing one), with the reason; it takes effect when a second person approves it",
    )
    def propose_correction(self, actor, body, session_id):
        return self.scoring.propose_correction(actor, session_id, body)

    @endpoint(
        "GET",
        "/sessions/<string:session_id>/corrections",
        action="see_corrections",
        response=s.CorrectionsOut,
        summary="The session's corrections and where each stands",
    )
    def corrections(self, actor, body, session_id):
        return {"corrections": self.scoring.corrections(actor, session_id)}

    @endpoint(
        "POST",
        "/sessions/<string:session_id>/corrections/<string:correction_id>/decision",
        action="decide_correction",
        body=s.CorrectionDecision,
        response=s.CorrectionOut,
        summary="Approve (a second person, never the proposer), reject (with the reason) or withdraw (the "
        "proposer) a correction",
    )
    def decide_correction(self, actor, body, session_id, correction_id):
        return self.scoring.decide_correction(actor, session_id, correction_id, body)

    @endpoint(
        "GET",
        "/judges/me/sessions",
        action="see_judge_desk",
        response=s.JudgeDesk,
        summary="The calling judge's sessions as their tablet shows them: the order of appearance, who is on "
        "stage, the criteria, which entries they may score (recusal), sheets received, their own sheets",
    )
    def judge_desk(self, actor, body):
        desk = self.scoring.judge_desk(actor)
        for session in desk["sessions"]:  # why the judge stands aside, in their language
            for entry in session["entries"]:
                if entry["recused"]:
                    entry["recused"] = self.translator.message(entry["recused"]["msgid"], entry["recused"]["params"])
        return desk

    @endpoint(
        "GET",
        "/sessions/<string:session_id>/scoring",
        action="see_session_scoring",
        response=s.SessionStatus,
        summary="Sheets, tolerance flags and missing sheets of a session",
    )
    def session_status(self, actor, body, session_id):
        return self.scoring.session_status(actor, session_id)

    @endpoint(
        "GET",
        "/sessions/<string:session_id>/hall",
        action="see_hall",
        response=s.Hall,
        summary="现场亮分: the session as it runs, for the hall's screen: each entry once its panel is complete "
        "(each seat's total, the drops, the score), and the running standings",
    )
    def hall(self, actor, body, session_id):
        return self.scoring.hall(actor, session_id)

    @endpoint(
        "GET",
        "/sessions/<string:session_id>/results",
        roles={PUBLIC},
        response=s.SessionResults,
        summary="A session's scores with their working and comments: public once its stage is published "
        "(organisers and the session's head judge see them from the lock on)",
    )
    def session_results(self, actor, body, session_id):
        return self.scoring.session_results(actor, session_id)

    # -- ranking -------------------------------------------------------------------
    @endpoint(
        "POST",
        "/contests/<string:contest_id>/stages/<string:stage_id>/results",
        action="publish_results",
        response=s.StageResults,
        status=201,
        summary="Publish a stage's results and advancement (all its sessions locked)",
    )
    def publish_stage(self, actor, body, contest_id, stage_id):
        return self.ranking.publish_stage(actor, contest_id, stage_id)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/results",
        roles={PUBLIC},
        body=s.VersionQuery,
        response=s.StageResults,
        summary="A stage's published results and advancement list: the latest version, or ?version=N "
        "(a corrected result is published again; every version stays readable)",
        edges=(PUBLIC_EDGE,),
    )
    def stage_results(self, actor, body, contest_id, stage_id):
        published = self.ranking.stage_results(contest_id, stage_id, body.get("version"))
        return dict(published, certificate=self._certificate(published))

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/certificate",
        roles={PUBLIC},
        body=s.VersionQuery,
        response=s.Certificate,
        summary="A published result's certificate: standings digest, rule fingerprint, software and the "
        "signed checkpoint of every log it was computed from (docs/audit.md); a corrected result's "
        "cites the one it replaces",
        edges=(PUBLIC_EDGE,),
    )
    def certificate(self, actor, body, contest_id, stage_id):
        return self._certificate(self.ranking.stage_results(contest_id, stage_id, body.get("version")))

    def _certificate_if_published(self, contest_id: str, stage_id: str) -> dict | None:
        try:
            return self._certificate(self.ranking.stage_results(contest_id, stage_id))
        except NotFound:
            return None  # live standings: no certificate until published

    def _certificate(self, published: dict) -> dict:
        return certificates.certified(
            published,
            lambda log, position: self._log(log).checkpoint_covering(position),
            lambda version: self.ranking.stage_results(published["contest_id"], published["stage_id"], version),
        )

    # -- the logs' signed checkpoints -------------------------------------------------
    def _log(self, log: str):
        proxies = {"registration": self.registration, "scoring": self.scoring, "ranking": self.ranking}
        if log not in proxies:
            raise NotFound('no log "{log}": the logs are {logs}', log=log, logs=", ".join(sorted(proxies)))
        return proxies[log]

    @endpoint(
        "GET",
        "/logs/<string:log>/checkpoints",
        roles={PUBLIC},
        body=s.CheckpointQuery,
        response=s.Checkpoints,
        summary="A log's signed checkpoints, smallest first (after= a size, limit=)",
        edges=(PUBLIC_EDGE,),
    )
    def checkpoints(self, actor, body, log):
        return {"checkpoints": self._log(log).checkpoints(body.get("after", 0), body.get("limit", 100))}

    @endpoint(
        "GET",
        "/logs/<string:log>/checkpoints/latest",
        roles={PUBLIC},
        response=s.CheckpointOut,
        summary="A log's latest signed checkpoint",
        edges=(PUBLIC_EDGE,),
    )
    def latest_checkpoint(self, actor, body, log):
        return self._log(log).checkpoint(None)

    @endpoint(
        "GET",
        "/logs/<string:log>/checkpoints/<string:size>",
        roles={PUBLIC},
        response=s.CheckpointOut,
        summary="A log's signed checkpoint of a tree size",
        edges=(PUBLIC_EDGE,),
    )
    def checkpoint(self, actor, body, log, size):
        if not (size.isascii() and size.isdigit()) or int(size) > s.LARGEST_SIZE:
            problems = {"size": [N_("a tree size, e.g. 1200")]}
            raise InvalidInput("the size is not a tree size", problems)
        return self._log(log).checkpoint(int(size))

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/leaderboard",
        roles={PUBLIC},
        body=s.BoardQuery,
        response=s.Leaderboard,
        summary="Standings by stage, group or criterion: live for organisers and the venue screen, "
        "published for everyone else",
    )
    def leaderboard(self, actor, body, contest_id, stage_id):
        return self.ranking.leaderboard(
            actor, contest_id, stage_id, body.get("group"), body.get("criterion"), body.get("as_of")
        )

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/entries/<string:entry_id>/working",
        roles={PUBLIC},
        response=s.Working,
        summary="An entry's full working: every sheet, dropped, total; public once the stage is published "
        "(organisers and the session's head judge see it from the lock on)",
    )
    def entry_working(self, actor, body, contest_id, stage_id, entry_id):
        return self.ranking.entry_working(actor, contest_id, stage_id, entry_id)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/results.csv",
        action="export_results",
        body=s.ExportQuery,
        media_type="text/csv",
        summary="A stage's standings (kind=results), all its sheets (kind=sheets) or its judges' calibration "
        "(kind=calibration) as CSV, Chinese headers",
    )
    def export_csv(self, actor, body, contest_id, stage_id):
        named = self._names(actor, contest_id, stage_id)
        if body.get("kind") == "calibration":
            return exports.to_csv(
                exports.CALIBRATION_HEADERS,
                exports.calibration_rows(self.ranking.calibration(actor, contest_id, stage_id), named),
            )
        export = self.ranking.export(contest_id, stage_id)
        if body.get("kind", "results") == "sheets":
            return exports.to_csv(exports.sheet_headers(export), exports.sheet_rows(export, named))
        return exports.to_csv(
            exports.RESULT_HEADERS,
            exports.result_rows(export, named),
            self._certificate_if_published(contest_id, stage_id),
        )

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/results.xlsx",
        action="export_results",
        media_type=exports.XLSX,
        summary="A stage's standings and all its sheets as an Excel workbook, Chinese headers",
    )
    def export_xlsx(self, actor, body, contest_id, stage_id):
        return exports.to_xlsx(
            self.ranking.export(contest_id, stage_id),
            self._names(actor, contest_id, stage_id),
            self._certificate_if_published(contest_id, stage_id),
            self.ranking.calibration(actor, contest_id, stage_id),
        )

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/stages/<string:stage_id>/appeals",
        action="file_appeal",
        body=s.AppealCreate,
        response=s.AppealOut,
        status=201,
        summary="File a contestant's appeal (申诉) against the stage's published result; the contestant is told",
    )
    def file_appeal(self, actor, body, contest_id, stage_id):
        return self.ranking.file_appeal(actor, contest_id, stage_id, body)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/appeals",
        action="see_appeals",
        response=s.AppealsOut,
        summary="The stage's appeals and their decisions",
    )
    def appeals(self, actor, body, contest_id, stage_id):
        return {"appeals": self.ranking.appeals(actor, contest_id, stage_id)}

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/stages/<string:stage_id>/appeals/<string:appeal_id>/decision",
        action="decide_appeal",
        body=s.AppealDecision,
        response=s.AppealOut,
        summary="Decide an appeal once: upheld or dismissed, with the reason; the contestant is told",
    )
    def decide_appeal(self, actor, body, contest_id, stage_id, appeal_id):
        return self.ranking.decide_appeal(actor, contest_id, stage_id, appeal_id, body)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/stages/<string:stage_id>/calibration",
        action="see_calibration",
        response=s.Calibration,
        summary="How each judge scored against the panel: severity, spread, agreement, drops, flags; "
        "each panel's Kendall's W (docs/calibration.md)",
    )
    def calibration(self, actor, body, contest_id, stage_id):
        return self.ranking.calibration(actor, contest_id, stage_id)

    # -- pages: the judge's tablet and the organiser's console ---------------------------
    @endpoint(
        "GET",
        "/judge",
        roles={PUBLIC},
        media_type="text/html",
        summary="The judge's scoring page (tablet and phone); the token comes as #token=… or is asked for",
    )
    def judge_page(self, actor, body):
        return pages.JUDGE

    @endpoint(
        "GET",
        "/console",
        roles={PUBLIC},
        media_type="text/html",
        summary="The organiser's console; the token comes as #token=… or is asked for",
    )
    def console_page(self, actor, body):
        return pages.CONSOLE

    @endpoint(
        "GET",
        "/console/setup",
        roles={PUBLIC},
        media_type="text/html",
        summary="比武设置: the organiser's set-up of a contest, from its region tree to its sessions open; signed in "
        "as on the console",
    )
    def setup_page(self, actor, body):
        return pages.SETUP

    # each page's script and style sheet, none inline (the Content-Security-Policy, http.py)
    @endpoint(
        "GET",
        "/pages/<string:name>.<string:kind>",
        roles={PUBLIC},
        media_type=pages.MEDIA_TYPES,
        summary="The pages' scripts and style sheets (pages.js, pages.css, judge.js, console.js, reviews.js, setup.js, "
        "live.js, screen.js, live.css, results.css, hall.js): static files of services/gateway/static",
        errors=(400, 404, 429),
        edges=(INTERNAL_EDGE, PUBLIC_EDGE),
    )
    def page_asset(self, actor, body, name, kind):
        return pages.asset(name, kind)

    # -- the venue's big screen ------------------------------------------------------
    @endpoint(
        "GET",
        "/live/<string:contest_id>/<string:stage_id>",
        roles={PUBLIC},
        media_type="text/html",
        summary="The big-screen page (1920x1080); open it as /live/{contest_id}/{stage_id}#token=<screen or "
        "organiser token> (or type the token in); a token in the query string is refused (400)",
        errors=(400, 429),
    )
    def live_page(self, actor, body, contest_id, stage_id):
        self.tickets.no_token_in_url()
        return live.PAGE

    @endpoint(
        "GET",
        "/hall/<string:session_id>",
        roles={PUBLIC},
        media_type="text/html",
        summary="现场亮分: the hall's screen of a session (1920x1080); open it as /hall/{session_id}#token=<screen or "
        "organiser token> (or type the token in); a token in the query string is refused (400)",
        errors=(400, 429),
    )
    def hall_page(self, actor, body, session_id):
        self.tickets.no_token_in_url()
        return pages.HALL

    @endpoint(
        "POST",
        "/live/<string:contest_id>/<string:stage_id>/ticket",
        action="open_live_screen",
        response=s.LiveTicket,
        summary="The big screen's ticket for the stage's live stream: sent with the screen's (or an organiser's) "
        "token, it answers with a cookie (HttpOnly, SameSite=Strict, for the stream's path only, a minute long) "
        "holding a signed ticket, never the token, by which the stream knows the screen",
    )
    def live_ticket(self, actor, body, contest_id, stage_id):
        self.ranking.live(contest_id, stage_id)  # 404 now, rather than on the stream
        return self.tickets.ticket(actor, contest_id, stage_id)

    @endpoint(
        "GET",
        "/results/<string:contest_id>/<string:stage_id>",
        roles={PUBLIC},
        media_type="text/html",
        summary="The public results page of a published stage, with its certificate's fingerprint",
        edges=(PUBLIC_EDGE,),
    )
    def results_page(self, actor, body, contest_id, stage_id):
        published = self.ranking.stage_results(contest_id, stage_id)
        board = self.ranking.leaderboard(actor, contest_id, stage_id)
        return results_page.render(
            dict(board, standings=published["standings"]),
            self._certificate(published),
            self._names(actor, contest_id, stage_id),
        )

    def _names(self, actor: dict, contest_id: str, stage_id: str) -> names.Names:
        """The contest's ids by their names, as ``actor`` may see them (the public: no judges)."""
        contest = self.registration.get_contest(actor, contest_id)
        return names.of_contest(contest, self.registration.get_regions(contest["tree_id"])["regions"], stage_id)

    @http("GET", "/live/<string:contest_id>/<string:stage_id>/events")
    def live_events(self, request, contest_id, stage_id):
        """Server-sent events (not in the OpenAPI document: a stream that does not end).
        EventSource cannot send headers: the page's ticket comes as a cookie (POST …/ticket,
        tickets.py); a program may send its token in the Authorization header. Never ?token=."""
        request_id = new_request_id(request)
        try:
            watching = ACTIONS["see_live_standings"]
            address = client_address(request, self.settings.trusted_proxies)
            self.deadline(self.settings.rpc_timeout)  # a minted token's look-up is an RPC of this request

            def identify(authorization: str) -> dict | None:
                return self.settings.identify(authorization, address, self.registration.grant_holder)

            actor = self.settings.authenticator.permit(
                self.tickets.watcher(identify, contest_id, stage_id),
                watching.roles,
                watching.to,
                presented=bool(request.headers.get("Authorization")),
            )
            self.settings.admit(actor, address)
            check_params({"contest_id": contest_id, "stage_id": stage_id})
            # ranking's stream takes no actor: the grant's scope is checked here alone
            self.places.reach(actor, {"contest_id": contest_id}, self.registration.contest_place, None)
            self.ranking.live(contest_id, stage_id)  # 404 now, rather than inside the stream
            release = self.settings.hold_stream(actor, address)  # 429 beyond the client's streams
        except DomainError as error:
            return error_response(error, request_id, self.settings.translator(request.accept_languages.values()))
        # eventlet's WSGI server holds writes back until 4 KiB: an event must leave at once
        request.environ["eventlet.minimum_write_chunk_size"] = 0
        return Response(
            self.screens.stream(contest_id, stage_id, release),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # -- notices -------------------------------------------------------------------
    @endpoint(
        "GET",
        "/contests/<string:contest_id>/deliveries",
        action="manage_notices",
        body=s.DeliveryQuery,
        response=s.Deliveries,
        summary="The delivery log: by recipient, status or kind",
    )
    def deliveries(self, actor, body, contest_id):
        return {
            "deliveries": self.notify.deliveries(
                actor, contest_id, body.get("recipient"), body.get("status"), body.get("kind")
            )
        }

    @endpoint(
        "POST",
        "/contests/<string:contest_id>/deliveries/<string:delivery_id>/retry",
        action="manage_notices",
        response=s.DeliveryOut,
        summary="Send a failed delivery again",
    )
    def retry_delivery(self, actor, body, contest_id, delivery_id):
        return self.notify.retry_delivery(actor, contest_id, delivery_id)

    @endpoint(
        "PUT",
        "/contests/<string:contest_id>/recipients/<string:recipient_id>/preferences",
        action="manage_notices",
        body=s.Preferences,
        response=s.PreferencesOut,
        summary="A contestant's or judge's channels (recipient ids: contestant-<id>, judge-<id>)",
    )
    def set_preferences(self, actor, body, contest_id, recipient_id):
        return self.notify.set_preferences(actor, contest_id, recipient_id, body)

    @endpoint(
        "GET",
        "/contests/<string:contest_id>/recipients/<string:recipient_id>/inbox",
        action="manage_notices",
        response=s.Inbox,
        summary="A recipient's in-app inbox",
    )
    def inbox(self, actor, body, contest_id, recipient_id):
        return {"messages": self.notify.inbox(actor, contest_id, recipient_id)}
