"""RPC on nameko, with the errors that cross it translated at the boundary.

* ``rpc``: nameko's ``@rpc`` entrypoint, except that a store outage (the store did not answer,
  or could not promise a write) leaves the service as :class:`~leitai.errors.Unavailable`,
  which the gateway answers with 503 and Retry-After: the outcome is unknown and a retry with
  the same key is safe. Any other failure leaves as nameko sends it.
* ``register_errors()``: a process that calls RPC (the gateway, the demo) registers the domain
  errors once at start-up, so that it catches ``NotFound`` rather than a ``RemoteError``
  naming it.
"""
from __future__ import annotations

import logging

from nameko.exceptions import deserialize_to_instance
from nameko.rpc import Rpc

from leitai.errors import ALL, Unavailable
from leitai.mongo import is_outage

log = logging.getLogger(__name__)
STORE_OUTAGE = "the store is not answering; the outcome is unknown: retry with the same key"


def register_errors() -> None:
    """Idempotent: nameko keeps one registry entry per class name."""
    for error in ALL:
        deserialize_to_instance(error)


class _Rpc(Rpc):
    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and is_outage(exc_info[1]):
            log.warning("store outage during a request", extra={
                "method": self.method_name, "error": f"{type(exc_info[1]).__name__}: {exc_info[1]}"[:500],
                "correlation_id": (worker_ctx.context_data or {}).get("correlation_id") if worker_ctx else None})
            error = Unavailable(STORE_OUTAGE, {"retry_after": 2})
            exc_info = (Unavailable, error, exc_info[2])
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = _Rpc.decorator
