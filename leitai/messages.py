"""What a message a user may read is: an id, which is its English template with named
placeholders (``"session {session_id} is locked"``), and the values of those placeholders.

Pure: the standard library only. The services raise errors with messages of this kind and
never render them for a user; the gateway renders each in the request's language from the
catalogue (leitai/i18n.py). The English, formatted, is what operators' logs say.

Every id is written out as a string literal where it is raised (``InvalidInput("…", …)``,
``text("…", …)``) or where a constant holds it (``N_("…")``): that is how ``pybabel extract``
finds it (the keywords are in pyproject.toml, ``[tool.babel.extract_messages]``).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, TypedDict


class Text(TypedDict):
    """One message among an error's field messages, with its values: plain JSON, so that it
    crosses nameko's RPC as it is (a string among them is a message without values)."""

    msgid: str
    params: dict[str, Any]


Said = str | Text  # one of a field's messages: an id without values, or a Text


def N_(msgid: str) -> str:  # gettext's name for "marked for extraction, not translated here"
    """``msgid`` itself: marks a constant's message for extraction."""
    return msgid


def text(msgid: str, **params: Any) -> Text:
    """A field message with values, e.g. ``text("must be between 0 and {max}", max=30)``."""
    return {"msgid": msgid, "params": params}


def is_text(value: object) -> bool:
    """Whether ``value`` (a leaf of an error's field messages) is a ``Text``, not a field's
    nested messages: a mapping of exactly its two keys, no field of ours being named so."""
    return isinstance(value, Mapping) and set(value) == {"msgid", "params"}


def placeholders(template: str) -> set[str]:
    """The names a template formats, e.g. {"session_id"}."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def formatted(template: str, params: Mapping[str, Any]) -> str:
    """``template`` with ``params`` in its placeholders, a value that is a ``Text`` (a part of
    the message said apart, e.g. a grant's scope) formatted too. A placeholder without a value,
    or a template that is not one (braces of its own), is left as it is written: a message is
    never lost to a mistake in its values."""
    if not params:
        return template
    values = {k: formatted(v["msgid"], v["params"]) if is_text(v) else v for k, v in params.items()}
    try:
        return template.format_map(_Missing(values))
    except (ValueError, IndexError, AttributeError):
        return template


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
