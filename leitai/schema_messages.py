"""marshmallow's own field messages as message ids, and a message as marshmallow formatted it
read back into its id and values.

marshmallow formats its messages before we see them ("Must be greater than or equal to 0 and
less than or equal to 30."), and a service's arrive at the gateway as plain strings across RPC:
matching the text against marshmallow's templates is the one way that works for both, without
restating every field's messages in every schema. The list is of the messages of the field
types and validators our schemas use (``tests/unit/test_messages.py`` makes each of them
fail and checks that what marshmallow says is read back here); a Range's message is one of
eight, written out, since marshmallow composes it from parts.

Pure: the standard library and leitai.messages only.
"""

from __future__ import annotations

import re
from typing import Any

from leitai.messages import N_, placeholders

MARSHMALLOW = (
    # fields
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid aware datetime."),
    N_('"{input}" cannot be formatted as a date.'),
    N_('"{input}" cannot be formatted as a datetime.'),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid email address."),
    # validators
    N_("Must be one of: {choices}."),
    N_("Must be equal to {other}."),
    N_("String does not match expected pattern."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, …, literal
    return re.compile(
        "".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts)), re.DOTALL
    )


def _literal_length(template: str) -> int:
    return len(re.sub(r"\{\w+\}", "", template))


# the most words first: "Must be greater than {min}." would also read "Must be greater than or
# equal to 5." (min: "or equal to 5")
_PATTERNS = [
    (template, _pattern(template))
    for template in sorted((t for t in MARSHMALLOW if placeholders(t)), key=_literal_length, reverse=True)
]


def parsed(message: str) -> tuple[str, dict[str, Any]]:
    """``message``'s id and values: marshmallow's template it was formatted from, or, for any
    other message (one of ours without values), the message itself and none."""
    for template, pattern in _PATTERNS:
        found = pattern.fullmatch(message)
        if found:
            return template, found.groupdict()
    return message, {}
