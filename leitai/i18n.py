"""The message catalogues, and messages rendered in the language a request asks for.

One gettext catalogue per language, ``leitai/locale/<locale>/LC_MESSAGES/leitai.po``, kept
with Babel (CONTRIBUTING.md, "Messages and languages"). The message ids are the English
templates the code raises (leitai/messages.py), so English needs no catalogue: it is what a
message says where its language has none, and what the logs say.

The .po files are read when a process starts, not compiled to .mo when the image is built:
the .po is the one file kept in git and reviewed, reading a few hundred messages with Babel
takes milliseconds, and a compiled copy would be one more artefact that the image, the
editable install and the tests would each have to build, and that could be stale.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from leitai import schema_messages
from leitai.messages import formatted, is_text

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "leitai"
SOURCE_LANGUAGE = "en"  # the message ids' own
DEFAULT_LANGUAGE = "zh_CN"  # the users': county organisers, judges and supervisors read Chinese


class Catalogues:
    """Every catalogue in ``directory``, by locale (e.g. "zh_CN"): msgid -> its translation.
    A message not yet translated (empty, or marked fuzzy) is left out: its id is said."""

    def __init__(self, directory: Path = LOCALE_DIR) -> None:
        self._by_locale: dict[str, dict[str, str]] = {}
        for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            locale = po.parent.parent.name
            with po.open("rb") as file:
                catalog = read_po(file, locale=locale, domain=DOMAIN)
            self._by_locale[locale] = {
                str(m.id): str(m.string)
                for m in catalog
                if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
            }

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._by_locale)

    def translation(self, locale: str, msgid: str) -> str:
        return self._by_locale.get(locale, {}).get(msgid, msgid)

    def negotiate(self, accepted: Iterable[str], default: str) -> str:
        """The locale of a catalogue for the first language in ``accepted`` (the client's, best
        first: Accept-Language's values, e.g. "zh-CN", "zh", "en-US") that has one: the same
        language and region, or else the same language ("zh-TW" reads zh_CN rather than
        nothing); ``default`` when none has."""
        for tag in accepted:
            wanted = tag.replace("-", "_").lower()
            for locale in self.locales:
                if locale.lower() == wanted:
                    return locale
            language = wanted.split("_")[0]
            for locale in self.locales:
                if locale.split("_")[0].lower() == language:
                    return locale
        return default


@functools.cache
def catalogues() -> Catalogues:
    """This process's catalogues, read once, from the package's own locale directory."""
    return Catalogues()


@dataclass(frozen=True)
class Translator:
    """Messages in ``locale``, from ``catalogues``."""

    catalogues: Catalogues
    locale: str

    def message(self, msgid: str, params: Mapping[str, Any] | None = None) -> str:
        """``msgid`` in this language with ``params``, a value that is a ``Text`` in it too."""
        values = {k: self.message(v["msgid"], v["params"]) if is_text(v) else v for k, v in (params or {}).items()}
        return formatted(self.catalogues.translation(self.locale, msgid), values)

    def fields(self, messages: Any) -> Any:
        """An error's field messages, nested as marshmallow nests them, each one rendered: a
        ``Text`` (an id and its values), or a string (one of ours, or marshmallow's formatted:
        leitai/schema_messages.py reads its values back)."""
        if is_text(messages):
            return self.message(messages["msgid"], messages["params"])
        if isinstance(messages, str):
            return self.message(*schema_messages.parsed(messages))
        if isinstance(messages, Mapping):
            return {key: self.fields(value) for key, value in messages.items()}
        if isinstance(messages, list | tuple):
            return [self.fields(value) for value in messages]
        return messages


@dataclass(frozen=True)
class Languages:
    """The languages a process answers in: its catalogues and the deployment's default
    (LEITAI_LANGUAGE), which a request's Accept-Language is negotiated against."""

    catalogues: Catalogues
    default: str = DEFAULT_LANGUAGE

    def __post_init__(self) -> None:
        if self.default not in self.offered:
            raise ValueError(f"no catalogue for {self.default!r}: one of {', '.join(self.offered)}")

    @property
    def offered(self) -> tuple[str, ...]:
        """What a deployment may make its default: a catalogue's language, or the ids' own."""
        return (*self.catalogues.locales, SOURCE_LANGUAGE)

    def for_request(self, accepted: Iterable[str]) -> Translator:
        return Translator(self.catalogues, self.catalogues.negotiate(accepted, self.default))
