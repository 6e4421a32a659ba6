"""The personal-data vault: people's contact data (e-mail, phone), kept out of the event logs.

The logs are append-only and hash-chained, and their events go to auditors in bundles: nothing
written there can be taken back. So contact data never enters an event. Registration keeps it
here, in a database of its own (``LEITAI_PERSONAL_DATABASE``, collection ``contacts``), mutable
and readable only by registration and notify; events name the person by the id they already
carry (``judge-<judge_id>``, ``contestant-<contestant_id>``, ``organiser`` for the organising
office), which says nothing about how to reach them. Erasing a person empties their record here
and marks it erased (who, when, why); the logs, and every audit of them, stay as they were.
docs/privacy.md says why this design and not crypto-shredding.

Pure code: the people's ids and the vault's interface; leitai/vault.py keeps it in MongoDB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

CONTACT_FIELDS = ("email", "phone")
# anything shaped like an e-mail address or a phone number: a mainland mobile number (eleven
# digits from 13 to 19, with or without +86), a landline with its area code (0391-8181234). A
# run of digits inside a longer one, or in a hex hash, is none: the shapes stand alone
CONTACT_SHAPED = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"|(?<![0-9A-Za-z])(?:\+?86[- ]?)?(?:1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8})(?![0-9A-Za-z])"
)
OFFICE = "organiser"  # the person id of a contest's organising office


def contestant(contestant_id: str) -> str:
    return f"contestant-{contestant_id}"


def judge(judge_id: str) -> str:
    return f"judge-{judge_id}"


def contact_of(record: Mapping[str, Any]) -> dict[str, str]:
    """The contact fields of ``record`` (a judge, an entry, an organiser as a command gave
    them), blanks left out."""
    return {k: record[k] for k in CONTACT_FIELDS if record.get(k)}


def without_contact(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` as an event may carry it: without its contact fields."""
    return {k: v for k, v in record.items() if k not in CONTACT_FIELDS}


def now() -> datetime:
    return datetime.now(UTC)


class PersonalData(Protocol):
    """The vault as the services use it (leitai/vault.py; tests/support/inmemory.py in dicts)."""

    def keep(self, contest_id: str, office: str, person: str, name: str, contact: Mapping[str, str]) -> None: ...
    def contact(self, contest_id: str, person: str) -> dict[str, Any] | None: ...
    def people(self, contest_id: str) -> list[dict[str, Any]]: ...
