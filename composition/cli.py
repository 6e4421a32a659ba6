"""``leitai``: operate a leitai deployment from the command line.

  leitai relay   [--config F] [--catalogue M:A]     publish stored events to RabbitMQ
  leitai migrate [--config F] [--catalogue M:A]     store indexes and broker topology (idempotent)
  leitai verify  [--config F] [--catalogue M:A]     check the store's hash chain and seals
  leitai dlq list|redrive QUEUE [--config F]        inspect / re-drive a consumer's dead letters
  leitai replay ranking [--verify | --to-position SOURCE=N --keep] [--config F]
  leitai replay ranking --as-of POSITION|TIME --stage CONTEST/STAGE   standings as they stood, rebuilt
                                                    rebuild a read model from the event logs
  leitai audit   [--config F]                       verify every source store, then replay ranking --verify
  leitai audit checkpoint|prove-inclusion|prove-consistency --log L ...   signed checkpoints and proofs
  leitai audit bundle STAGE --contest C -o FILE     a stage's self-contained audit bundle [--version N]
  leitai audit note-publications                    registration and scoring note earlier publications (once)
  leitai audit keygen NAME -o FILE                  a checkpoint signing key
  leitai audit monitor --url U --key K --state F    prove new checkpoints consistent with the last seen
  leitai witness keygen NAME -o FILE                a witness's cosigning key
  leitai witness serve --key F --log 'ORIGIN VKEY' ... --state F --listen HOST:PORT
                                                    cosign the logs' checkpoints (C2SP tlog-witness)
  leitai grant mint --role R --id I --contest C|--office O|--deployment [--label L] [--days N]
                 [--base-url URL] [--qr FILE]       let someone in: a token, its sign-in link and QR code
  leitai grant list [--contest C | --office O]      the minted grants (never their tokens)
  leitai grant revoke GRANT_ID --reason R           let them in no more
  leitai privacy erase|export PERSON --contest C --office O [--reason R]   a person's contact data
  leitai privacy retention [--office O --days N] [--dry-run | --apply]   erase it after each contest
  leitai privacy migrate                            copy it out of events written before the vault
  leitai up [--config-dir config]                   run every service, relay and the gateway
  leitai demo [boai|qidong|lufeng] [--seed S]       run a demo scenario end to end

Settings come from the nameko YAML file given with --config (``${VAR:default}`` works) or,
without it, from the environment: AMQP_URI, MONGO_URL, MONGO_DATABASE, and optionally
LEITAI_RETRY_ATTEMPTS, LEITAI_RETRY_BASE_DELAY, LEITAI_RETRY_FACTOR, LEITAI_RETRY_QUEUE_TYPE, LEITAI_DURABILITY,
LEITAI_ENVIRONMENT, LEITAI_OPS_PORT (the relay's /healthz, /readyz, /metrics), LEITAI_OPS_HOST and
LEITAI_OPS_PUBLIC (where it listens: 127.0.0.1 unless it is to be reached from outside), for the relay
LEITAI_SIGNING_KEY (its checkpoint signing key file), LEITAI_LOG_ORIGIN, LEITAI_TRUSTED_KEYS
(verifier keys of replaced signing keys, space- or comma-separated), LEITAI_WITNESSES (witnesses
that cosign its checkpoints, 'URL VKEY' each, comma- or newline-separated) and
LEITAI_WITNESS_TIMEOUT_S (seconds a call to one may take), for verify and audit
LEITAI_VERIFIER_KEYS (the keys every checkpoint must be signed by), and for replay and audit
LEITAI_SOURCES (JSON: source service -> its database). ``grant`` works in registration's database
(``--config config/registration.yaml``, or MONGO_DATABASE set to it), ``privacy`` in it and the
vault's (LEITAI_PERSONAL_DATABASE).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml
from amqp.exceptions import AMQPError
from kombu import Connection
from marshmallow import ValidationError
from pymongo.errors import PyMongoError

from composition import audit, monitor, privacy, up
from composition.demo.tables import table
from composition.projections import PROJECTIONS
from composition.sinks import Sinks
from leitai import logs, replay
from leitai.config import ConfigurationError, Settings, load_settings, refuse_weak_broker
from leitai.contracts.catalogue import Catalogue
from leitai.contracts.product import REGISTRY
from leitai.domain import folding
from leitai.errors import DomainError, InvalidInput, NotFound
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.eventstore.notes import NoteError, Signer, Verifier
from leitai.eventstore.verify import verify
from leitai.grants import SIGN_IN_PAGES, GrantSchema, sign_in_code, sign_in_link
from leitai.i18n import SOURCE_LANGUAGE, Translator, catalogues
from leitai.messaging import deadletters, topology
from leitai.messaging.relay import Relay, RelayHealth, supervise
from leitai.mongo import connect
from leitai.ops import OpsServer
from leitai.readmodel import ReadModel
from leitai.roles import JUDGE, ORGANISER, ROLES, SCREEN
from leitai.witness.cosignature import Cosigner
from leitai.witness.server import WitnessServer
from leitai.witness.state import State, StateError
from leitai.witness.witness import Witness
from services.ranking.application import Ranking
from services.registration.application import contest_stream
from services.registration.contest import Contest
from services.registration.grants import MAX_DAYS, GrantStore, status

log = logging.getLogger("leitai.cli")
DEFAULT_CATALOGUE = "composition.product:CATALOGUE"
# what verify and audit check checkpoint signatures with (Settings.verifiers)
CHECKPOINT_KEYS = ("LEITAI_VERIFIER_KEYS", "LEITAI_SIGNING_KEY", "LEITAI_TRUSTED_KEYS", "LEITAI_LOG_ORIGIN")


def read_config(path: str | None, environ: Mapping[str, str] = os.environ) -> dict:
    if path:
        from nameko.cli.main import setup_yaml_parser

        setup_yaml_parser()
        try:
            with open(path, encoding="utf-8") as handle:
                config = yaml.safe_load(handle) or {}
        except OSError as exc:
            raise ConfigurationError(f"--config {path}: cannot be read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"--config {path}: not valid YAML: {exc}") from None
        if not isinstance(config, dict):
            raise ConfigurationError(f"--config {path}: must hold a mapping of settings")
        return config
    config = {
        k: environ[k]
        for k in (
            "AMQP_URI",
            "MONGO_URL",
            "MONGO_DATABASE",
            "LEITAI_DURABILITY",
            "LEITAI_ENVIRONMENT",
            "LEITAI_OPS_PORT",
            "LEITAI_OPS_HOST",
            "LEITAI_OPS_PUBLIC",
            "LEITAI_SIGNING_KEY",
            "LEITAI_LOG_ORIGIN",
            "LEITAI_WITNESS_TIMEOUT_S",
            "LEITAI_PERSONAL_DATABASE",
        )
        if k in environ
    }
    for keys in ("LEITAI_TRUSTED_KEYS", "LEITAI_VERIFIER_KEYS", "LEITAI_WITNESSES"):
        if environ.get(keys):
            config[keys] = environ[keys]
    retry = {
        name: environ[f"LEITAI_RETRY_{name.upper()}"]
        for name in ("attempts", "base_delay", "factor", "queue_type")
        if f"LEITAI_RETRY_{name.upper()}" in environ
    }
    if retry:
        config["LEITAI_RETRY"] = retry
    if "LEITAI_SOURCES" in environ:
        try:
            config["LEITAI_SOURCES"] = json.loads(environ["LEITAI_SOURCES"])
        except ValueError:
            raise ConfigurationError("invalid configuration: LEITAI_SOURCES: not JSON") from None
    return config


def load_catalogue(spec: str) -> Catalogue:
    module, _, attribute = spec.partition(":")
    try:
        catalogue = getattr(importlib.import_module(module), attribute or "CATALOGUE")
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"--catalogue {spec}: {exc}") from None
    if not isinstance(catalogue, Catalogue):
        raise ConfigurationError(f"--catalogue {spec} is not a Catalogue")
    return catalogue


def _relay(args, settings: Settings) -> int:
    refuse_weak_broker(settings)
    catalogue = load_catalogue(args.catalogue)
    signing = settings.signing()
    if signing is None:
        log.warning("no signing key: this relay signs no checkpoints", extra={"database": settings.MONGO_DATABASE})
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    db = client[settings.MONGO_DATABASE]
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def ready(relay: Relay) -> None:
        log.info("relay started", extra={"database": settings.MONGO_DATABASE, "checkpoint": relay.checkpoint()})
        print("relay ready", flush=True)

    health = RelayHealth()
    ops = (
        OpsServer(settings.LEITAI_OPS_PORT, health.readiness(), health.liveness, host=settings.LEITAI_OPS_HOST).start()
        if settings.LEITAI_OPS_PORT
        else None
    )
    try:
        supervise(
            lambda: Relay(
                db,
                catalogue,
                settings.AMQP_URI,
                settings.LEITAI_RETRY,
                batch_size=args.batch_size,
                health=health,
                signing=signing,
            ),
            stop,
            ready,
        )
    finally:
        if ops:
            ops.stop()
    client.close()
    return 0


def _migrate(args, settings: Settings) -> int:
    """What a rollout needs before any process starts: each event store's collections and
    indexes (every database LEITAI_SOURCES names, and MONGO_DATABASE), and every exchange and
    queue of the catalogue. Each step creates only what is missing, so it can run again."""
    catalogue = load_catalogue(args.catalogue)
    databases = sorted({*settings.LEITAI_SOURCES.values(), settings.MONGO_DATABASE})
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        for name in databases:
            ensure_indexes(client[name])
            log.info("store migrated", extra={"database": name})
    finally:
        client.close()
    with Connection(settings.AMQP_URI, connect_timeout=10) as connection:
        topology.declare(connection.channel(), catalogue, settings.LEITAI_RETRY)
    log.info("broker topology declared", extra={"subscriptions": len(catalogue.subscriptions)})
    print(
        json.dumps(
            {
                "databases": databases,
                "exchanges": sorted(catalogue.registry.sources()),
                "subscriptions": len(catalogue.subscriptions),
            }
        )
    )
    return 0


def _verify_report(client, database: str, registry, verifiers: list[Verifier]) -> dict:
    report = verify(MongoCommitLog(client[database]), registry, verifiers)
    return {
        "ok": report.ok,
        "checked_commits": report.checked_commits,
        "head_position": report.head_position,
        "pending_commits": report.pending_commits,
        "seals_checked": report.seals_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "signatures_checked": bool(verifiers),
        "first_bad": str(report.first_bad) if report.first_bad else None,
    }


def _verifiers(settings: Settings) -> list[Verifier]:
    verifiers = settings.verifiers()
    if not verifiers:
        log.warning(
            "checkpoint signatures not checked: set LEITAI_VERIFIER_KEYS to the relays' verifier keys "
            "(docs/audit.md); without them a rewrite of the store and its checkpoints together passes"
        )
    return verifiers


def _verify(args, settings: Settings) -> int:
    catalogue = load_catalogue(args.catalogue)
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        summary = _verify_report(client, settings.MONGO_DATABASE, catalogue.registry, _verifiers(settings))
    finally:
        client.close()
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if summary["ok"] else 1


def _audit(args, settings: Settings) -> int:
    """The nightly audit: ``verify`` of every source store, then the ranking read model rebuilt
    from their logs and compared with the live one. Exit 1 if anything is off."""
    catalogue = load_catalogue(args.catalogue)
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        verifiers = _verifiers(settings)
        stores = {
            name: _verify_report(client, database, catalogue.registry, verifiers)
            for name, database in sorted(settings.LEITAI_SOURCES.items())
        }
        kept = _keep_checkpoints(args.keep_checkpoints, _stores(client, settings, catalogue), verifiers, settings)
        differences = _rebuild_and_diff(client, settings, "ranking", catalogue, keep=False)
    finally:
        client.close()
    ok = all(report["ok"] for report in stores.values()) and not differences and not (kept or {}).get("problems")
    print(
        json.dumps(
            {
                "ok": ok,
                "stores": stores,
                "replay": {"read_model": "ranking", "differences": len(differences), "first": differences[:20]},
                **({"checkpoints": kept} if kept is not None else {}),
            },
            ensure_ascii=False,
        )
    )
    if not ok:
        log.error(
            "audit failed",
            extra={
                "bad_stores": sorted(n for n, r in stores.items() if not r["ok"]),
                "replay_differences": len(differences),
            },
        )
    return 0 if ok else 1


def _keep_checkpoints(
    path: str | None, stores: dict[str, EventStore], verifiers: list[Verifier], settings: Settings
) -> dict | None:
    """The monitor's watch over the stores: every checkpoint signed since the last run must be
    consistent with the last one kept in ``path`` (a file the database cannot reach)."""
    if path is None:
        return None
    if not verifiers:
        problem = (
            "--keep-checkpoints: give LEITAI_VERIFIER_KEYS (or LEITAI_SIGNING_KEY): a checkpoint is kept "
            "only once its signature is checked"
        )
        if settings.LEITAI_ENVIRONMENT == "production":
            raise ConfigurationError(problem)
        log.warning(problem)  # a laptop cluster's relays need not sign: nothing to keep
        return {"kept": {}, "problems": [], "skipped": "no verifier keys"}
    try:
        state = monitor.State.load(Path(path))
    except ValueError as exc:
        raise ConfigurationError(f"--keep-checkpoints {exc}") from None
    report = monitor.watch(
        lambda log, after: stores[log].checkpoints(after, monitor.PAGE), verifiers, sorted(stores), state
    )
    state.save(Path(path))
    return {"kept": {log: kept["size"] for log, kept in sorted(state.logs.items())}, "problems": report.problems}


def _stores(client, settings: Settings, catalogue: Catalogue) -> dict[str, EventStore]:
    return {
        name: EventStore(MongoCommitLog(client[db]), catalogue.registry) for name, db in settings.LEITAI_SOURCES.items()
    }


def _audit_action(args, settings: Settings) -> int:
    """``leitai audit checkpoint|prove-inclusion|prove-consistency|bundle``: read from the
    stores LEITAI_SOURCES names, printed (or written) as JSON."""
    catalogue = load_catalogue(args.catalogue)
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        stores = _stores(client, settings, catalogue)
        log_name = getattr(args, "log", None)
        if log_name is not None and log_name not in stores:
            raise ConfigurationError(f"--log {log_name}: LEITAI_SOURCES names {', '.join(sorted(stores))}")
        store = stores[log_name] if log_name is not None else None  # bundle has no --log
        if args.action == "checkpoint":
            assert store is not None  # --log is required
            result = store.checkpoint(args.size)
            if result is None:
                raise audit.AuditError(
                    "no checkpoint signed yet" if args.size is None else f"no checkpoint of size {args.size}"
                )
        elif args.action == "note-publications":
            plans = ReadModel(client[settings.LEITAI_SOURCES["scoring"]])
            result = {"publications": audit.note_publications(stores, plans)}
        elif args.action == "prove-inclusion":
            assert store is not None  # --log is required
            result = audit.inclusion(store, args.event_id, args.size)
        elif args.action == "prove-consistency":
            assert store is not None  # --log is required
            result = audit.consistency(store, args.old_size, args.new_size)
        else:
            keys = [Verifier.decode(k) for k in args.verifier_key] or settings.verifiers()
            if not keys:
                raise ConfigurationError(
                    "bundle: give --verifier-key (the relays' public key), LEITAI_VERIFIER_KEYS or LEITAI_SIGNING_KEY"
                )
            deadline = time.monotonic() + max(args.wait, 0.0)
            while True:  # a relay signs the checkpoints a fresh publication needs at its next seal
                try:
                    result = audit.bundle(
                        stores,
                        args.contest,
                        args.stage_id,
                        keys,
                        args.version,
                        witnessed=bool(settings.LEITAI_WITNESSES),
                    )
                    break
                except audit.Pending:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.5)
    except (audit.AuditError, ValueError) as exc:
        print(f"leitai audit {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    text = json.dumps(result, ensure_ascii=False, indent=1, default=str)
    if getattr(args, "output", None):
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def _keygen(args, settings: Settings) -> int:
    return _new_key(
        Signer.generate(args.name),
        args.output,
        "signing key",
        "keep it secret: a Kubernetes Secret",
        "verifier key (publish it; auditors check checkpoints with it)",
    )


def _new_key(key: Signer | Cosigner, output: str, what: str, keep: str, publish: str) -> int:
    """Write a new private key (never over another) and print its public half."""
    try:
        key.write(output)
    except FileExistsError:
        raise ConfigurationError(f"-o {output}: exists; a {what} is never overwritten") from None
    print(f"wrote the {what} to {output} ({keep})\n{publish}:\n{key.verifier.encoded()}")
    return 0


def _monitor(args, settings: Settings) -> int:
    try:
        state = monitor.State.load(Path(args.state))
    except ValueError as exc:
        raise ConfigurationError(f"--state {exc}") from None
    report = monitor.watch(monitor.over_http(args.url), [Verifier.decode(k) for k in args.key], args.logs, state)
    state.save(Path(args.state))
    for line in report.lines:
        print(line)
    if not report.ok:
        log.error("audit monitor: inconsistent checkpoint", extra={"problems": report.problems})
    return 0 if report.ok else 1


def _witness_keygen(args, settings: Settings) -> int:
    return _new_key(
        Cosigner.generate(args.name),
        args.output,
        "witness key",
        "keep it secret; it never leaves the witness's machine",
        "witness verifier key (give it to the relays' operator and to auditors)",
    )


def _witness_serve(args, settings: Settings) -> int:
    """Everything is checked before the port is opened: a witness that starts answers right."""
    try:
        cosigner = Cosigner.from_file(args.key)
    except NoteError as exc:
        raise ConfigurationError(f"--key {args.key}: {exc}") from None
    logs: dict[str, list[Verifier]] = {}
    for number, entry in enumerate(args.log, start=1):
        origin, key = _witnessed_log(number, entry)
        logs.setdefault(origin, []).append(key)
    try:
        state = State(args.state)
    except StateError as exc:
        raise ConfigurationError(f"--state {exc}") from None
    host, port = _listen(args.listen)
    try:
        server = WitnessServer(Witness(cosigner, logs, state), host, port, args.prefix)
    except OSError as exc:
        raise ConfigurationError(f"--listen {args.listen}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    log.info(
        "witness serving",
        extra={"witness": cosigner.name, "port": server.port, "logs": sorted(logs), "endpoint": server.endpoint},
    )
    print(
        f"witness {cosigner.name} ready: POST http://{host}:{server.port}{server.endpoint}\n"
        f"witness verifier key {cosigner.verifier.encoded()}\nwitnessing {', '.join(sorted(logs))}",
        flush=True,
    )
    stop.wait()
    server.stop()
    return 0


def _witnessed_log(number: int, entry: str) -> tuple[str, Verifier]:
    parts = entry.split()
    if len(parts) != 2:
        raise ConfigurationError(f"--log #{number}: reads 'ORIGIN VERIFIER_KEY' (the log's origin, its relay's key)")
    try:
        return parts[0], Verifier.decode(parts[1])
    except NoteError as exc:
        raise ConfigurationError(f"--log #{number} ({parts[0]}): {exc}") from None


def _listen(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ConfigurationError(f"--listen {address}: reads HOST:PORT (e.g. 0.0.0.0:8380; port 0: any free one)")
    return host.strip("[]"), int(port)


def _dlq(args, settings: Settings) -> int:
    if args.action == "list":
        letters = deadletters.list_dead_letters(settings.AMQP_URI, args.queue, args.limit or 100)
        for letter in letters:
            print(json.dumps(letter.as_dict(), ensure_ascii=False))
        print(f"{len(letters)} dead letter(s) in {args.queue}", file=sys.stderr)
    else:
        moved = deadletters.redrive(settings.AMQP_URI, args.queue, args.limit)
        print(f"re-drove {moved} message(s) to {args.queue}")
    return 0


def _rebuild_and_diff(
    client,
    settings: Settings,
    read_model: str,
    catalogue: Catalogue,
    keep: bool,
    diff: bool = True,
    to_positions: dict[str, int] | None = None,
) -> list[str]:
    """Rebuild ``read_model`` from the source logs into ``<MONGO_DATABASE>_replay``; the
    differences from the live one (none asked for: an empty list)."""
    projection = PROJECTIONS[read_model]
    missing = sorted(set(projection.sources) - set(settings.LEITAI_SOURCES))
    if missing:
        raise ConfigurationError(f"invalid configuration: LEITAI_SOURCES: no database for {', '.join(missing)}")
    scratch_name = f"{settings.MONGO_DATABASE}_replay"
    client.drop_database(scratch_name)
    try:
        scratch = client[scratch_name]
        sources = {name: client[db] for name, db in settings.LEITAI_SOURCES.items()}
        started = time.monotonic()
        rebuilt = replay.rebuild(projection, sources, scratch, catalogue.registry, to_positions=to_positions)
        seconds = time.monotonic() - started
        log.info(
            "read model rebuilt",
            extra={
                "read_model": read_model,
                "events": rebuilt.read,
                "projected": rebuilt.projected,
                "bulk_writes": rebuilt.bulk_writes,
                "seconds": round(seconds, 3),
                "into": scratch_name,
            },
        )
        print(
            f"rebuilt {read_model} from {rebuilt.projected} of {rebuilt.read} events "
            f"({', '.join(f'{n} to {p}' for n, p in sorted(rebuilt.positions.items()))}) in {seconds:.1f} s, "
            f"{rebuilt.read / max(seconds, 1e-9):,.0f} events/s, {rebuilt.bulk_writes} bulk writes, "
            f"into {scratch_name}",
            file=sys.stderr,
        )
        return replay.diff(client[settings.MONGO_DATABASE], scratch, projection.collections) if diff else []
    finally:
        if not keep:
            client.drop_database(scratch_name)


def _positions(items: list[str]) -> dict[str, int]:
    """``--to-position SOURCE=N`` items, as {source: N}."""
    positions = {}
    for item in items:
        source, _, number = item.partition("=")
        if not source or not number.isdigit() or source in positions:
            raise ConfigurationError(f"--to-position {item!r}: give SOURCE=POSITION once a source, e.g. scoring=1200")
        positions[source] = int(number)
    return positions


def _replay(args, settings: Settings) -> int:
    catalogue = load_catalogue(args.catalogue)
    to_positions = _positions(args.to_position or [])
    if to_positions and args.verify:
        raise ConfigurationError(
            "--to-position rebuilds the read model as it stood then; "
            "--verify compares with the live one as it stands now: give one of them"
        )
    if args.as_of is not None:
        return _replay_as_of(args, settings, catalogue)
    try:
        replay.check_positions(PROJECTIONS[args.read_model], to_positions)
    except ValueError as exc:
        raise ConfigurationError(f"--to-position: {exc}") from None
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        differences = _rebuild_and_diff(
            client, settings, args.read_model, catalogue, args.keep, diff=args.verify, to_positions=to_positions
        )
    finally:
        client.close()
    if not args.verify:
        return 0
    for line in differences:
        print(line)
    print("identical" if not differences else f"{len(differences)} difference(s)")
    return 1 if differences else 0


def _replay_as_of(args, settings: Settings, catalogue: Catalogue) -> int:
    """A stage's standings as they stood at a scoring position or a moment, from a rebuild
    of the read model from the logs (not the live one): the JSON the gateway's
    ``?as_of`` gives, so the two can be compared."""
    if args.read_model != "ranking" or not args.stage or args.verify or args.to_position:
        raise ConfigurationError(
            "--as-of: give `replay ranking --as-of POSITION|TIME --stage CONTEST/STAGE` "
            "(without --verify or --to-position)"
        )
    contest_id, _, stage_id = args.stage.partition("/")
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        _rebuild_and_diff(client, settings, "ranking", catalogue, keep=True, diff=False)
        scratch = client[f"{settings.MONGO_DATABASE}_replay"]
        try:
            board = Ranking(EventStore(MongoCommitLog(scratch), catalogue.registry), ReadModel(scratch)).leaderboard(
                {"role": ORGANISER, "id": "replay", "deployment": True}, contest_id, stage_id, as_of=args.as_of
            )
        except DomainError as exc:
            print(f"leitai replay: {exc}", file=sys.stderr)
            return 1
        finally:
            if not args.keep:
                client.drop_database(scratch.name)
    finally:
        client.close()
    print(json.dumps(board, ensure_ascii=False, sort_keys=True))
    return 0


def _up(args, settings: Settings) -> int:
    config_dir = Path(args.config_dir)
    missing = [f"{name}.yaml" for name in (*up.SERVICES, "gateway") if not (config_dir / f"{name}.yaml").is_file()]
    if missing:
        raise ConfigurationError(f"--config-dir {config_dir}: missing {', '.join(missing)}")
    address = str(read_config(str(config_dir / "gateway.yaml")).get("WEB_SERVER_ADDRESS") or "0.0.0.0:8000")
    host, _, port = address.rpartition(":")
    sinks = None
    if args.sinks:  # notices to files on this machine: the children read where from the environment
        sinks = Sinks(Path(args.sinks))
        os.environ.update(sinks.environment())
        print(f"leitai up: mail goes to {sinks.mail.path}, SMS to {sinks.sms.path}", flush=True)
    try:
        return up.run(
            config_dir,
            f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}",
            [_origin(config_dir / f"{service}.yaml") for service in up.PUBLISHERS],
            replicas=args.replicas,
            ops_base=args.ops_base,
        )
    finally:
        if sinks is not None:
            sinks.stop()


def _origin(config: Path) -> str:
    """The origin a relay started with ``config`` names its log by (as its settings work it out)."""
    return load_settings(read_config(str(config)), only=("MONGO_DATABASE", "LEITAI_LOG_ORIGIN")).log_origin


def _demo(args, settings: Settings) -> int:
    # a process of its own: the demo hosts nameko containers, which need eventlet's monkey
    # patching before anything else is imported (this process has imported pymongo already)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "composition.demo", *args.demo_args])


# -- leitai grant ---------------------------------------------------------------------------
# what the store calls a field, as the command's option
GRANT_OPTIONS = {
    "role": "--role",
    "id": "--id",
    "contest": "--contest",
    "office": "--office",
    "deployment": "--deployment",
    "scope": "--contest, --office or --deployment",
    "label": "--label",
    "days": "--days",
    "minted_by": "--by",
    "revoked_by": "--by",
    "reason": "--reason",
}


def _grant(args, settings: Settings) -> int:
    """``leitai grant mint|list|revoke``: registration's minted grants
    (services/registration/grants.py), read and written in its database directly, so that an
    organiser lets a judge in while the services run, and without restarting the gateway."""
    checked = {"mint": _mint_checked, "list": lambda a: {}, "revoke": _revoke_checked}[args.action](args)
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        store = GrantStore.opened(client[settings.MONGO_DATABASE])
        if args.action == "mint":
            _refuse_unknown_holder(client[settings.MONGO_DATABASE], checked["grant"])
            return _mint(args, store, **checked)
        if args.action == "revoke":
            return _revoke(args, store, **checked)
        return _list_grants(args, store)
    except InvalidInput as exc:  # what the store refuses, by the option that gave it
        raise ConfigurationError(f"grant {args.action}: {_by_option(exc)}") from None
    except NotFound as exc:
        raise ConfigurationError(f"grant {args.action}: {exc.message}") from None
    finally:
        client.close()


def _privacy(args, settings: Settings) -> int:
    return privacy.run(args, settings, _operator(getattr(args, "by", None)))


def _refuse_unknown_holder(db, grant: dict) -> None:
    """A grant for a contest names one registration holds, and a judge's a judge registered in
    it (ConfigurationError naming the option): a typo would mint a link that lets no one in."""
    if not grant.get("contest"):
        return
    events = EventStore(MongoCommitLog(db), REGISTRY).read_stream(contest_stream(grant["contest"]))
    contest = folding(lambda: Contest(grant["contest"]))(events)
    if contest.info is None:
        raise ConfigurationError(f"--contest {grant['contest']}: no such contest in this database")
    if grant["role"] == JUDGE and grant["id"] not in contest.judges:
        raise ConfigurationError(f"--id {grant['id']}: no judge of that id is registered in contest {grant['contest']}")


def _by_option(exc: InvalidInput) -> str:
    english = Translator(catalogues(), SOURCE_LANGUAGE).fields(exc.details or {})  # an operator's words
    problems = [
        f"{GRANT_OPTIONS.get(field, field)}: {' '.join(map(str, said if isinstance(said, list) else [said]))}"
        for field, said in sorted(english.items())
    ]
    return "; ".join(problems) or exc.message


def _operator(given: str | None) -> str:
    """Who runs the command: --by, else the login name."""
    if given is not None:
        if not given.strip():
            raise ConfigurationError("--by: say who you are, in words")
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise ConfigurationError("--by: give your name (the login name is not known here)") from None


def _mint_checked(args) -> dict:
    """Everything about ``mint`` that can be wrong, found before anything is written."""
    grant = {"role": args.role, "id": args.id}
    grant |= {k: v for k, v in (("contest", args.contest), ("office", args.office)) if v is not None}
    if args.deployment:
        grant["deployment"] = True
    try:
        GrantSchema().load(grant)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"scope": exc.messages}
        raise ConfigurationError(f"grant mint: {_by_option(InvalidInput('', messages))}") from None
    days = int(args.days) if args.days.isascii() and args.days.isdigit() else 0
    if not 1 <= days <= MAX_DAYS:
        raise ConfigurationError(f"--days {args.days}: a whole number of days from 1 to {MAX_DAYS}")
    base = _base_url(args.base_url) if args.base_url is not None else None
    page = SIGN_IN_PAGES.get(args.role)
    qr = Path(args.qr) if args.qr is not None else None
    if qr is not None:
        if qr.suffix.lower() not in (".png", ".svg"):
            raise ConfigurationError(f"--qr {args.qr}: give a file name ending in .png or .svg")
        if page is None:
            raise ConfigurationError(f"--qr: a {args.role} has no sign-in link (it types the token in)")
        if base is None:
            raise ConfigurationError("--qr: give --base-url too (the gateway's address, the link's beginning)")
        if qr.exists():
            raise ConfigurationError(f"--qr {args.qr}: exists; a sign-in code is never written over")
        if not qr.parent.is_dir():
            raise ConfigurationError(f"--qr {args.qr}: no folder {qr.parent}")
    return {"grant": grant, "days": days, "base": base, "qr": qr, "by": _operator(args.by)}


def _base_url(given: str) -> str:
    parts = urllib.parse.urlsplit(given.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"--base-url {given}: give the gateway's address as the judges reach it, e.g. https://leitai.example.gov.cn"
        )
    return given.strip().rstrip("/")


def _scope_words(grant: Mapping) -> str:
    if grant.get("contest"):
        return f"contest {grant['contest']}"
    if grant.get("office"):
        return f"office {grant['office']}"
    return "the whole deployment"


def _mint(args, store: GrantStore, grant: dict, days: int, base: str | None, qr: Path | None, by: str) -> int:
    minted = store.mint(grant, label=args.label or "", by=by, days=days)
    label = f" ({minted.label})" if minted.label else ""
    print(f"minted {minted.grant_id}: {args.role} {args.id} of {_scope_words(grant)}{label}, until {minted.expires_at}")
    print(f"token (shown this once: only its digest is kept): {minted.token}")
    signed_in = sign_in_link(base, args.role, minted.token) if base else None
    if signed_in is None:
        if args.role == SCREEN:
            print("a screen signs in by typing the token on its page (/live/<contest>/<stage>)")
        else:
            print(
                "no sign-in link: give --base-url (the gateway's address, e.g. https://leitai.example.gov.cn) "
                f"for it and its QR code, or type the token in at {SIGN_IN_PAGES[args.role]}"
            )
        return 0
    print(f"sign-in link: {signed_in}")
    code = sign_in_code(signed_in)
    code.terminal(out=sys.stdout, compact=True, border=2)
    if qr is not None:
        kind = qr.suffix.lower().lstrip(".")
        try:  # it holds the token: for its owner's eyes only, and never over another file
            with os.fdopen(os.open(qr, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                code.save(out, kind=kind, scale=8, border=4)
        except OSError as exc:
            raise ConfigurationError(
                f"--qr {qr}: cannot be written ({exc.strerror or exc}); the grant is minted: "
                f"hand over the link above, or revoke {minted.grant_id}"
            ) from None
        print(f"wrote the sign-in link's QR code to {qr} (it holds the token: delete it once handed over)")
    print("revoke it with: leitai grant revoke " + minted.grant_id + " --reason '…'")
    return 0


def _revoke_checked(args) -> dict:
    if not args.reason.strip():
        raise ConfigurationError("--reason: say why, in words (it is kept with the grant)")
    return {"by": _operator(args.by)}


def _revoke(args, store: GrantStore, by: str) -> int:
    grant, newly = store.revoke(args.grant_id, by, args.reason.strip())
    what = f"{args.grant_id} ({grant['role']} {grant['id']} of {_scope_words(grant)})"
    if newly:
        print(
            f"revoked {what}: the gateway lets its token in no more once its cache of look-ups "
            "(LEITAI_GRANT_CACHE_S, 10 s unless set) has let go of it"
        )
    else:
        print(
            f"{what} was revoked already, at {grant['revoked_at']} by {grant['revoked_by']}: {grant['revoke_reason']}"
        )
    return 0


def _list_grants(args, store: GrantStore) -> int:
    grants = store.list(contest=args.contest, office=args.office)
    if not grants:
        print("no grants" + (f" of {_scope_words(vars(args))}" if args.contest or args.office else ""))
        return 0
    now = datetime.now(UTC)

    def state(grant: dict) -> str:
        found = status(grant, now)
        if found != "revoked":
            return found
        return f"revoked {grant['revoked_at']} by {grant['revoked_by']}: {grant.get('revoke_reason') or ''}"

    print(
        table(
            ("grant", "role", "id", "scope", "label", "minted", "by", "expires", "status"),
            [
                (
                    g["grant_id"],
                    g["role"],
                    g["id"],
                    _scope_words(g),
                    g.get("label", ""),
                    g["minted_at"],
                    g["minted_by"],
                    g["expires_at"],
                    state(g),
                )
                for g in grants
            ],
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leitai", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="nameko YAML config file (default: the environment)")
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    relay = commands.add_parser("relay", help="publish stored events to RabbitMQ")
    relay.add_argument("--catalogue", default=DEFAULT_CATALOGUE, help="module:attribute of the Catalogue")
    relay.add_argument("--batch-size", type=int, default=500)
    relay.set_defaults(
        run=_relay,
        needs=(
            "AMQP_URI",
            "MONGO_URL",
            "MONGO_DATABASE",
            "LEITAI_RETRY",
            "LEITAI_OPS_PORT",
            "LEITAI_SIGNING_KEY",
            "LEITAI_LOG_ORIGIN",
            "LEITAI_TRUSTED_KEYS",
            "LEITAI_WITNESSES",
            "LEITAI_WITNESS_TIMEOUT_S",
        ),
    )

    migrate = commands.add_parser("migrate", help="create store indexes and broker topology (idempotent)")
    migrate.add_argument("--catalogue", default=DEFAULT_CATALOGUE)
    migrate.set_defaults(
        run=_migrate, needs=("AMQP_URI", "MONGO_URL", "MONGO_DATABASE", "LEITAI_RETRY", "LEITAI_SOURCES")
    )

    check = commands.add_parser("verify", help="verify the event store's hash chain and seals")
    check.add_argument("--catalogue", default=DEFAULT_CATALOGUE)
    check.set_defaults(run=_verify, needs=("MONGO_URL", "MONGO_DATABASE", *CHECKPOINT_KEYS))

    auditing = commands.add_parser(
        "audit",
        help="the nightly audit (no action), or checkpoints, proofs, a stage's "
        "bundle, key generation and the checkpoint monitor",
    )
    auditing.add_argument("--catalogue", default=DEFAULT_CATALOGUE)
    auditing.add_argument(
        "--keep-checkpoints",
        metavar="FILE",
        help="keep each log's last checkpoint in FILE and refuse one not consistent with it "
        "(as `audit monitor` does over HTTP)",
    )
    auditing.set_defaults(run=_audit, needs=("MONGO_URL", "MONGO_DATABASE", "LEITAI_SOURCES", *CHECKPOINT_KEYS))
    actions = auditing.add_subparsers(dest="action")
    store_needs = ("MONGO_URL", "MONGO_DATABASE", "LEITAI_SOURCES")
    checkpoint = actions.add_parser("checkpoint", help="a log's latest signed checkpoint, or the one of --size")
    checkpoint.add_argument("--log", required=True, help="registration, scoring or ranking")
    checkpoint.add_argument("--size", type=int)
    inclusion = actions.add_parser("prove-inclusion", help="an event, its position and its inclusion proof")
    inclusion.add_argument("event_id")
    inclusion.add_argument("--log", required=True)
    inclusion.add_argument("--size", type=int, help="the checkpoint to prove against (default: the first holding it)")
    consistent = actions.add_parser("prove-consistency", help="that the tree of OLD_SIZE is a prefix of NEW_SIZE's")
    consistent.add_argument("old_size", type=int)
    consistent.add_argument("new_size", type=int)
    consistent.add_argument("--log", required=True)
    bundled = actions.add_parser(
        "bundle", help="one self-contained file an auditor verifies with tools/verify_bundle.py"
    )
    bundled.add_argument("stage_id")
    bundled.add_argument("--contest", required=True)
    bundled.add_argument("-o", "--output", required=True)
    bundled.add_argument(
        "--version", type=int, help="the published version (default: the latest; 2, 3, … follow corrections)"
    )
    bundled.add_argument(
        "--verifier-key",
        action="append",
        default=[],
        help="the relays' verifier key (default: derived from LEITAI_SIGNING_KEY)",
    )
    bundled.add_argument(
        "--wait",
        type=float,
        default=30.0,
        help="seconds to wait for the checkpoints a fresh publication needs (default 30)",
    )
    noting = actions.add_parser(
        "note-publications",
        help="have registration and scoring note every publication (once): run once after upgrading, "
        "so that stages published before have the notes their bundles run through",
    )
    for action in (checkpoint, inclusion, consistent, bundled, noting):
        action.set_defaults(run=_audit_action, needs=(*store_needs, *CHECKPOINT_KEYS, "LEITAI_WITNESSES"))
    keygen = actions.add_parser("keygen", help="a new checkpoint signing key (file) and its verifier key (printed)")
    keygen.add_argument("name", help="the key's name, e.g. leitai.boai.gov.cn")
    keygen.add_argument("-o", "--output", required=True)
    keygen.set_defaults(run=_keygen, needs=())
    watching = actions.add_parser(
        "monitor",
        help="fetch new checkpoints over HTTP, prove each consistent with the "
        "last one kept; exit 1 on an inconsistent one",
    )
    watching.add_argument("--url", required=True, help="the gateway, e.g. https://leitai.example.gov.cn")
    watching.add_argument(
        "--key", action="append", required=True, help="a verifier key the checkpoints may be signed by"
    )
    watching.add_argument("--state", required=True, help="the file that keeps the last checkpoint seen of each log")
    watching.add_argument("--logs", nargs="+", default=["registration", "scoring", "ranking"])
    watching.set_defaults(run=_monitor, needs=())

    witnessing = commands.add_parser(
        "witness", help="a witness of the logs, run by someone other than the operator (docs/audit.md)"
    )
    witness_actions = witnessing.add_subparsers(dest="action", required=True)
    witness_keygen = witness_actions.add_parser(
        "keygen", help="a new witness key (file) and its verifier key (printed)"
    )
    witness_keygen.add_argument("name", help="the witness's name, e.g. witness.jijian.boai.gov.cn")
    witness_keygen.add_argument("-o", "--output", required=True)
    witness_keygen.set_defaults(run=_witness_keygen, needs=())
    serving = witness_actions.add_parser(
        "serve", help="cosign each log's checkpoints that are consistent with the last it cosigned"
    )
    serving.add_argument("--key", required=True, help="the witness key file (leitai witness keygen)")
    serving.add_argument(
        "--log",
        action="append",
        required=True,
        metavar="'ORIGIN VERIFIER_KEY'",
        help="a log to witness: its origin and its relays' verifier key (repeat for each log, and for each key "
        "of a rotated log)",
    )
    serving.add_argument("--state", required=True, help="the file that keeps the last checkpoint cosigned of each log")
    serving.add_argument("--listen", required=True, metavar="HOST:PORT", help="where to serve add-checkpoint")
    serving.add_argument("--prefix", default="", help="the URL path before /add-checkpoint (default: none)")
    serving.set_defaults(run=_witness_serve, needs=())

    dlq = commands.add_parser("dlq", help="list or re-drive a consumer's dead letters")
    dlq.add_argument("action", choices=("list", "redrive"))
    dlq.add_argument(
        "queue", help="the consumer's queue, e.g. evt-scoring-ScoreSheetSubmitted--ranking.on_score_sheet_submitted"
    )
    dlq.add_argument("--limit", type=int, help="at most this many (list: 100 unless given)")
    dlq.set_defaults(run=_dlq, needs=("AMQP_URI",))

    rebuild = commands.add_parser("replay", help="rebuild a read model from the event logs (and diff it)")
    rebuild.add_argument("read_model", choices=sorted(PROJECTIONS))
    rebuild.add_argument(
        "--verify", action="store_true", help="diff against the live read model; exit 1 if they differ"
    )
    rebuild.add_argument("--keep", action="store_true", help="keep the scratch database <MONGO_DATABASE>_replay")
    rebuild.add_argument(
        "--to-position",
        action="append",
        metavar="SOURCE=N",
        help="stop the SOURCE log at position N (repeat for each source; with --keep, the read model as it stood then)",
    )
    rebuild.add_argument(
        "--as-of",
        metavar="POSITION|TIME",
        help="print a stage's standings as they stood at this scoring log position or ISO 8601 "
        "time (with its zone), rebuilt from the logs; needs --stage",
    )
    rebuild.add_argument("--stage", metavar="CONTEST/STAGE", help="the stage --as-of reads")
    rebuild.add_argument("--catalogue", default=DEFAULT_CATALOGUE)
    rebuild.set_defaults(run=_replay, needs=("MONGO_URL", "MONGO_DATABASE", "LEITAI_SOURCES"))

    granting = commands.add_parser(
        "grant", help="let someone in without a restart: mint a token, list the grants, revoke one"
    )
    grant_actions = granting.add_subparsers(dest="action", required=True)
    grant_needs = ("MONGO_URL", "MONGO_DATABASE")  # registration's database
    mint = grant_actions.add_parser(
        "mint", help="a new grant: prints its token once, its sign-in link and the link's QR code"
    )
    mint.add_argument("--role", required=True, choices=ROLES)
    mint.add_argument("--id", required=True, help="who holds it: the judge's id in the contest, the organiser's …")
    scope = mint.add_mutually_exclusive_group(required=True)
    scope.add_argument("--contest", help="the one contest it reaches (a judge's grant always names one)")
    scope.add_argument("--office", help="the county code of the office whose contests it reaches")
    scope.add_argument("--deployment", action="store_true", help="every contest (the operator's)")
    mint.add_argument("--label", help="whose it is, in words (the judge's name); shown by list")
    mint.add_argument("--days", default="30", help=f"how long it lets its holder in (1-{MAX_DAYS}; 30)")
    mint.add_argument("--base-url", help="the gateway's address as its holder reaches it: prints the sign-in link")
    mint.add_argument("--qr", metavar="FILE", help="also write the link's QR code to FILE (.png or .svg)")
    mint.add_argument("--by", help="who mints it (default: your login name)")
    listing = grant_actions.add_parser("list", help="the grants, with whose they are and their status; no tokens")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--contest", help="only the grants of this contest")
    which.add_argument("--office", help="only the grants of this office (county code)")
    revoking = grant_actions.add_parser("revoke", help="a grant's token lets no one in any more")
    revoking.add_argument("grant_id", help="grant-…, as mint and list print it")
    revoking.add_argument("--reason", required=True, help="why, kept with the grant")
    revoking.add_argument("--by", help="who revokes it (default: your login name)")
    for action in (mint, listing, revoking):
        action.set_defaults(run=_grant, needs=grant_needs)

    privacy.add_parser(commands, _privacy)

    everything = commands.add_parser("up", help="run every service, relay and the gateway until Ctrl-C")
    everything.add_argument("--config-dir", default="config", help="holds registration/scoring/ranking/gateway.yaml")
    everything.add_argument(
        "--sinks",
        metavar="DIR",
        help="send notices to a local SMTP server and SMS stand-in that write DIR/mail.jsonl and DIR/sms.jsonl, "
        "instead of the configured ones",
    )
    everything.add_argument(
        "--replicas",
        type=int,
        default=1,
        choices=range(1, 9),
        metavar="N",
        help="run N of each service and relay (1-8; the gateway stays one)",
    )
    everything.add_argument(
        "--ops-base",
        type=int,
        default=up.OPS_BASE,
        help="first ops port; each process serves /healthz /readyz /metrics on the next one",
    )
    everything.set_defaults(run=_up, needs=())

    demo = commands.add_parser("demo", help="run a demo scenario: boai (default), qidong or lufeng", add_help=False)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER, help="see `leitai demo --help`")
    demo.set_defaults(run=_demo, needs=())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_level)
    try:
        settings = load_settings(read_config(args.config), only=args.needs) if args.needs else Settings()
        return args.run(args, settings)
    except (ConfigurationError, NoteError) as exc:
        print(f"leitai: {exc}", file=sys.stderr)
        return 2
    except PyMongoError as exc:
        print(f"leitai: MongoDB did not answer: {exc.__class__.__name__}: {str(exc).split(',')[0]}", file=sys.stderr)
        return 3
    except (OSError, AMQPError) as exc:
        print(f"leitai: RabbitMQ did not answer: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
