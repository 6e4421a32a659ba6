"""RPC on nameko, with deadlines, and with the errors that cross it translated at the boundary.

* ``rpc``: nameko's ``@rpc`` entrypoint, except that
  - a request whose deadline has passed is not executed: the caller has given up and told
    its client the outcome is unknown, so it must not take effect minutes later (the broker
    drops such a request by its expiration; this check catches one already delivered);
  - a store outage (the store did not answer, or could not promise a write) leaves the
    service as :class:`~leitai.errors.Unavailable`, which the gateway answers with 503 and
    Retry-After: the outcome is unknown and a retry with the same key is safe;
  - a reply that cannot be sent because the broker went away does not stop the service
    (nameko's would): the request stays unacknowledged, so the broker delivers it again
    after the reconnection, and a retry with the same key answers as the first did.
  Any other failure leaves as nameko sends it.
* ``RpcProxy`` / ``Deadline``: a caller (the gateway) starts a deadline for the work it does
  on a request; every RPC request it sends then carries the deadline (a header) and expires
  at the broker when the deadline passes.
* ``register_errors()``: a process that calls RPC registers the domain errors once at
  start-up, so that it catches ``NotFound`` rather than a ``RemoteError`` naming it.
"""
from __future__ import annotations

import logging
import time

from kombu.exceptions import OperationalError
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from nameko import rpc as nameko_rpc

from leitai.errors import ALL, Unavailable
from leitai.messaging.queue_consumer import QueueConsumer
from leitai.mongo import is_outage

log = logging.getLogger(__name__)
STORE_OUTAGE = "the store is not answering; the outcome is unknown: retry with the same key"
DEADLINE = "leitai_deadline"  # context key (header nameko.leitai_deadline): epoch seconds
EXPIRED = "the request's deadline passed before it could run; it was not executed"


def register_errors() -> None:
    """Idempotent: nameko keeps one registry entry per class name."""
    for error in ALL:
        deserialize_to_instance(error)


def _correlation_id(worker_ctx) -> str | None:
    return (worker_ctx.context_data or {}).get("correlation_id") if worker_ctx else None


# -- the service's side ---------------------------------------------------------------
class _RpcConsumer(nameko_rpc.RpcConsumer):
    queue_consumer = QueueConsumer()

    def handle_result(self, message, result, exc_info):
        try:
            return super().handle_result(message, result, exc_info)
        except (OperationalError, OSError) as exc:
            log.warning("could not send a reply: the broker connection is gone; the request is delivered "
                        "again after the reconnection", extra={
                            "routing_key": message.delivery_info.get("routing_key"), "error": str(exc)[:300],
                            "correlation_id": (message.properties or {}).get("correlation_id")})
            return result, exc_info


class _Rpc(nameko_rpc.Rpc):
    rpc_consumer = _RpcConsumer()

    def handle_message(self, body, message):
        deadline = (message.headers or {}).get(f"nameko.{DEADLINE}")
        if deadline is not None and time.time() > float(deadline):
            log.warning("expired request not executed", extra={
                "routing_key": message.delivery_info.get("routing_key"),
                "late_s": round(time.time() - float(deadline), 3),
                "correlation_id": (message.properties or {}).get("correlation_id")})
            error = Unavailable(EXPIRED)
            self.rpc_consumer.handle_result(message, None, (Unavailable, error, None))
            return
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and is_outage(exc_info[1]):
            log.warning("store outage during a request", extra={
                "method": self.method_name, "error": f"{type(exc_info[1]).__name__}: {exc_info[1]}"[:500],
                "correlation_id": _correlation_id(worker_ctx)})
            error = Unavailable(STORE_OUTAGE, {"retry_after": 2})
            exc_info = (Unavailable, error, exc_info[2])
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = _Rpc.decorator


# -- the caller's side ------------------------------------------------------------------
class _ReplyListener(nameko_rpc.ReplyListener):
    queue_consumer = QueueConsumer()


class _MethodProxy(nameko_rpc.MethodProxy):
    def _call(self, *args, **kwargs):
        deadline = (self.worker_ctx.data or {}).get(DEADLINE)
        if deadline is not None:
            remaining = float(deadline) - time.time()
            if remaining <= 0:
                raise Unavailable(EXPIRED)
            # kombu sends the expiration in whole milliseconds; the broker drops the request
            # if it is still queued then
            self.publisher.expiration = remaining
        return super()._call(*args, **kwargs)


class _ServiceProxy(nameko_rpc.ServiceProxy):
    def __getattr__(self, name):
        return _MethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class RpcProxy(nameko_rpc.RpcProxy):
    """nameko's RpcProxy, whose requests carry the worker's deadline (see ``Deadline``)."""

    rpc_reply_listener = _ReplyListener()

    def get_dependency(self, worker_ctx):
        return _ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **self.options)


class Deadline(DependencyProvider):
    """``self.deadline(seconds)`` in a worker: every RPC request it sends from then on carries
    the deadline and expires at it."""

    def get_dependency(self, worker_ctx):
        def start(seconds: float) -> None:
            worker_ctx.data[DEADLINE] = f"{time.time() + seconds:.3f}"
        return start
