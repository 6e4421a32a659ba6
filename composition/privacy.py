"""``leitai privacy``: a person's erasure and export, the offices' retention, and the migration
of contact data out of logs written before the vault (services/registration/privacy.py does
the work; docs/privacy.md). Run with registration's config: its database and the vault's.

Refusals (an unknown person, another office's contest) are said in the users' language from
the message catalogue, exit 2, and change nothing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.database import Database

from leitai.config import ConfigurationError, Settings
from leitai.contracts.product import REGISTRY
from leitai.errors import DomainError
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.i18n import DEFAULT_LANGUAGE, Translator, catalogues
from leitai.mongo import connect
from leitai.vault import MongoPersonalData
from services.notify.deliveries import DELIVERIES
from services.registration.privacy import Privacy

NEEDS = ("MONGO_URL", "MONGO_DATABASE", "LEITAI_PERSONAL_DATABASE")  # registration's database and the vault


class Refused(ConfigurationError):
    """What the service layer refused, in the users' words (the CLI exits 2 on it)."""


def add_parser(commands: Any, run: Any) -> None:
    """``leitai privacy …``; ``run`` is the CLI's runner of it (it resolves ``--by``)."""
    privacy = commands.add_parser(
        "privacy", help="people's contact data: erase or export a person's, retention, migrate old logs"
    )
    actions = privacy.add_subparsers(dest="action", required=True)
    person = "judge-<judge id>, contestant-<contestant id> or organiser (the contest's office)"
    erase = actions.add_parser("erase", help="erase a person's contact data (recorded: who, by whom, why)")
    export = actions.add_parser("export", help="everything leitai holds about a person, as JSON")
    for action in (erase, export):
        action.add_argument("person", metavar="PERSON", help=person)
        action.add_argument("--contest", required=True, help="the contest they took part in")
        action.add_argument("--office", required=True, help="your office's county code: the contest must be its")
    erase.add_argument("--reason", required=True, help="why (the request, its date): recorded, never the data")
    erase.add_argument("--by", help="who erases (default: your login name)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (a new file, readable by you only)")
    export.add_argument(
        "--notify-database", metavar="NAME", help="notify's database (NOTIFY_DATABASE): add the notices sent to them"
    )
    retention = actions.add_parser("retention", help="erase contact data N days after each contest (per office)")
    retention.add_argument("--office", help="set: the office (county code) the setting is for")
    retention.add_argument("--days", type=int, help="set: days after the contest's last registration event (1-3650)")
    retention.add_argument("--dry-run", action="store_true", help="list who would be erased now, erase nobody")
    retention.add_argument("--apply", action="store_true", help="erase everyone due now (the CronJob's)")
    retention.add_argument("--by", help="who sets it (default: your login name)")
    actions.add_parser("migrate", help="copy contact data from events written before the vault into it (once)")
    for action in actions.choices.values():
        action.set_defaults(run=run, needs=NEEDS)


def run(args: Any, settings: Settings, by: str) -> int:
    client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
    try:
        db = client[settings.MONGO_DATABASE]
        vault = MongoPersonalData.opened(client[settings.LEITAI_PERSONAL_DATABASE])
        privacy = Privacy(EventStore(MongoCommitLog(db), REGISTRY), vault, db)
        if args.action == "export":
            notify = client[args.notify_database] if args.notify_database else None
            return _export(args, privacy, notify)
        return {"erase": _erase, "retention": _retention, "migrate": _migrate}[args.action](args, privacy, vault, by)
    except DomainError as exc:
        raise Refused(
            f"privacy {args.action}: {Translator(catalogues(), DEFAULT_LANGUAGE).message(exc.msgid, exc.params)}"
        ) from None
    finally:
        client.close()


def _erase(args: Any, privacy: Privacy, vault: MongoPersonalData, by: str) -> int:
    if not args.reason.strip():
        raise ConfigurationError("--reason: say why, in words (it is recorded)")
    done = privacy.erase(args.office, args.contest, args.person, by, args.reason.strip())
    who = f"{args.person} of contest {args.contest}"
    if done["erased"]:
        print(
            f"erased the contact data of {who}: recorded in the registration log (PersonalDataErased, stream "
            f"privacy-{args.contest}); notify empties their deliveries once the relay has published it"
        )
    else:
        earlier = done["already"]
        print(f"{who} was erased already, on {earlier['at']:%Y-%m-%d} by {earlier['by']}: {earlier['reason']}")
    return 0


NOTICE_FIELDS = (
    "_id",
    "kind",
    "channel",
    "address",
    "subject",
    "body",
    "status",
    "last_error",
    "created_at",
    "sent_at",
)


def _export(args: Any, privacy: Privacy, notify: Database[Any] | None) -> int:
    """What registration and the vault hold, and with ``notify`` (its database) the notices sent
    to them: notify keeps those, registration never sees them."""
    held = privacy.export(args.office, args.contest, args.person)
    if notify is not None:
        found = notify[DELIVERIES].find(
            {"contest_id": args.contest, "recipient_id": args.person}, sort=[("created_at", 1), ("_id", 1)]
        )
        held["notices"] = [{k: d[k] for k in NOTICE_FIELDS if k in d} for d in found]
    text = json.dumps(held, ensure_ascii=False, indent=2, default=str) + "\n"
    if not args.output:
        print(text, end="")
        return 0
    try:  # a person's data: for the requester's eyes only, and never over another file
        with os.fdopen(os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise ConfigurationError(f"--output {args.output}: cannot be written ({exc.strerror or exc})") from None
    print(f"wrote what leitai holds about {args.person} of contest {args.contest} to {Path(args.output)}")
    return 0


def _retention(args: Any, privacy: Privacy, vault: MongoPersonalData, by: str) -> int:
    if args.days is not None or args.office:
        if args.days is None or not args.office or not 1 <= args.days <= 3650:
            raise ConfigurationError("--office and --days (1-3650) together set an office's retention")
        vault.set_retention(args.office, args.days, by)
        print(f"office {args.office}: contact data erased {args.days} days after each contest's last event")
    if not (args.dry_run or args.apply):
        for setting in vault.retention():
            print(f"office {setting['_id']}: {setting['days']} days (set by {setting['set_by']})")
        return 0
    due = privacy.retention(datetime.now(UTC), dry_run=args.dry_run)
    verb = "would erase" if args.dry_run else "erased"
    for person in due:
        where = f"office {person['office']}, due {person['due']:%Y-%m-%d}"
        print(f"{verb} {person['person']} of contest {person['contest_id']} ({where})")
    print(f"{verb} {len(due)} person(s)" + (" (dry run: nothing changed)" if args.dry_run else ""))
    return 0


def _migrate(args: Any, privacy: Privacy, vault: MongoPersonalData, by: str) -> int:
    copied = privacy.migrate()
    print(
        f"copied the contact data of {copied} person(s) from events written before the vault into it; "
        "those events still hold it (docs/privacy.md, Migration)"
    )
    return 0
