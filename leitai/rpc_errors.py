"""Domain errors cross nameko RPC as themselves: a process that calls RPC (the gateway, the
demo) registers them once at start-up, so that it catches ``NotFound`` rather than a
``RemoteError`` naming it."""
from nameko.exceptions import deserialize_to_instance

from leitai.errors import ALL


def register() -> None:
    """Idempotent: nameko keeps one registry entry per class name."""
    for error in ALL:
        deserialize_to_instance(error)
