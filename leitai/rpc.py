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
  - a request sent with ``Leitai-After`` tokens (leitai/consistency.py) runs once this
    service has consumed the writes they name, or, past ``LEITAI_CATCH_UP_S`` (or the
    request's deadline, or the wait its caller allowed it), is answered
    :class:`~leitai.errors.Unavailable` without running;
  - the reply carries the tokens of what the request wrote.
  Any other failure leaves as nameko sends it.
* ``RpcProxy`` / ``Deadline``: a caller (the gateway) starts a deadline for the work it does
  on a request; every RPC request it sends then carries the deadline (a header) and expires
  at the broker when the deadline passes.
* ``ReadYourWrites``: a caller names the writes its requests must see (every RPC request
  then carries them), and collects the tokens of what its requests wrote.
* ``register_errors()``: a process that calls RPC registers the domain errors once at
  start-up, so that it catches ``NotFound`` rather than a ``RemoteError`` naming it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kombu.exceptions import OperationalError
from kombu.message import Message
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider

from leitai import consistency
from leitai.config import load_settings
from leitai.consistency import Written
from leitai.errors import ALL, DomainError, InvalidInput, Unavailable
from leitai.messages import N_
from leitai.messaging.queue_consumer import QueueConsumer
from leitai.mongo import is_outage
from leitai.seen import SeenEvents

if TYPE_CHECKING:
    from nameko.containers import WorkerContext

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
STORE_OUTAGE = N_("the store is not answering; the outcome is unknown: retry with the same key")
DEADLINE = "leitai_deadline"  # context key (header nameko.leitai_deadline): epoch seconds
EXPIRED = N_("the request's deadline passed before it could run; it was not executed")
AFTER = "leitai_after"  # context key (header nameko.leitai_after): the Leitai-After tokens
AFTER_WAIT = "leitai_after_wait"  # context key: the seconds the request may wait for them (none: any)
WRITTEN = "leitai_written"  # reply key: the tokens of what the request wrote
NOT_CAUGHT_UP = N_(
    "{service} has not yet seen the write named in Leitai-After (it was not executed): "
    "retry after a moment, with the same key and tokens"
)


def register_errors() -> None:
    """Idempotent: nameko keeps one registry entry per class name."""
    for error in ALL:
        deserialize_to_instance(error)


def _correlation_id(worker_ctx: WorkerContext | None) -> str | None:
    found: str | None = (worker_ctx.context_data or {}).get("correlation_id") if worker_ctx else None
    return found


# -- the service's side ---------------------------------------------------------------
class _ReplyPublisher(Publisher):
    """Publishes a reply with the tokens of what the request wrote beside nameko's fields."""

    def __init__(self, *args: Any, written: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written = written

    def publish(self, payload: dict[str, Any], **kwargs: Any) -> None:
        super().publish(dict(payload, **{WRITTEN: self.written}) if self.written else payload, **kwargs)


class _RpcConsumer(nameko_rpc.RpcConsumer):
    queue_consumer = QueueConsumer()

    def handle_result(
        self, message: Message, result: Any, exc_info: ExcInfo | None, written: list[str] | None = None
    ) -> tuple[Any, ExcInfo | None]:
        config = self.container.config
        responder = nameko_rpc.Responder(
            config[AMQP_URI_CONFIG_KEY],
            nameko_rpc.get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        responder.publisher_cls = functools.partial(_ReplyPublisher, written=written or [])
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except (OperationalError, OSError) as exc:
            log.warning(
                "could not send a reply: the broker connection is gone; the request is delivered "
                "again after the reconnection",
                extra={
                    "routing_key": message.delivery_info.get("routing_key"),
                    "error": str(exc)[:300],
                    "correlation_id": (message.properties or {}).get("correlation_id"),
                },
            )
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info


class _Rpc(nameko_rpc.Rpc):
    rpc_consumer = _RpcConsumer()
    seen = SeenEvents()

    def setup(self) -> None:
        super().setup()
        self.catch_up_s = load_settings(self.container.config, only=("LEITAI_CATCH_UP_S",)).LEITAI_CATCH_UP_S

    def handle_message(self, body: dict[str, Any], message: Message) -> None:
        headers = message.headers or {}
        deadline = headers.get(f"nameko.{DEADLINE}")
        if deadline is not None and time.time() > float(deadline):
            log.warning(
                "expired request not executed",
                extra={
                    "routing_key": message.delivery_info.get("routing_key"),
                    "late_s": round(time.time() - float(deadline), 3),
                    "correlation_id": (message.properties or {}).get("correlation_id"),
                },
            )
            self._refuse(message, Unavailable(EXPIRED))
            return
        after = headers.get(f"nameko.{AFTER}")
        if after:
            try:
                writes = consistency.after(after)
            except InvalidInput as error:
                self._refuse(message, error)
                return
            if not self.seen.caught_up(writes):  # the usual case is answered here, without a thread
                bound = min(
                    self.catch_up_s,
                    float("inf") if deadline is None else float(deadline) - time.time(),
                    float(headers.get(f"nameko.{AFTER_WAIT}", "inf")),
                )
                if bound <= 0:  # no wait allowed: "not yet", at once
                    self._not_caught_up(message, 0)
                    return
                self.container.spawn_managed_thread(
                    functools.partial(self._when_caught_up, body, message, writes, bound)
                )
                return
        super().handle_message(body, message)

    def _when_caught_up(self, body: dict[str, Any], message: Message, writes: list[Written], bound: float) -> None:
        if self.seen.wait(writes, bound):
            super().handle_message(body, message)
            return
        self._not_caught_up(message, bound)

    def _not_caught_up(self, message: Message, waited: float) -> None:
        log.warning(
            "not caught up with the write a request depends on",
            extra={
                "method": self.method_name,
                "waited_s": round(waited, 3),
                "correlation_id": (message.properties or {}).get("correlation_id"),
            },
        )
        self._refuse(message, Unavailable(NOT_CAUGHT_UP, {"retry_after": 1}, service=self.container.service_name))

    def _refuse(self, message: Message, error: Exception) -> None:
        self.rpc_consumer.handle_result(message, None, (type(error), error, None))

    def handle_result(
        self, message: Message, worker_ctx: WorkerContext, result: Any, exc_info: ExcInfo | None
    ) -> tuple[Any, ExcInfo | None]:
        if exc_info is not None and is_outage(exc_info[1]):
            log.warning(
                "store outage during a request",
                extra={
                    "method": self.method_name,
                    "error": f"{type(exc_info[1]).__name__}: {exc_info[1]}"[:500],
                    "correlation_id": _correlation_id(worker_ctx),
                },
            )
            error = Unavailable(STORE_OUTAGE, {"retry_after": 2})
            exc_info = (Unavailable, error, exc_info[2])
        return self.rpc_consumer.handle_result(message, result, exc_info, written=consistency.taken())


def rpc(fn: F, /) -> F:
    """nameko's decorator, as leitai uses it: bare, on a service's method. A DomainError is the
    answer the caller gets (a refusal, a 404), expected: nameko logs it as a warning, and
    leitai.logs writes it in one line, without a traceback."""
    return cast(F, _Rpc.decorator(expected_exceptions=DomainError)(fn))


# -- the caller's side ------------------------------------------------------------------
class _ReplyListener(nameko_rpc.ReplyListener):
    queue_consumer = QueueConsumer()


class _MethodProxy(nameko_rpc.MethodProxy):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reply = self._call(*args, **kwargs)
        result = reply.result()
        _written_by(self.worker_ctx).extend(reply.resp_body.get(WRITTEN) or ())
        return result

    def _call(self, *args: Any, **kwargs: Any) -> Any:  # nameko's RpcReply
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
    def __getattr__(self, name: str) -> _MethodProxy:
        return _MethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class RpcProxy(nameko_rpc.RpcProxy):
    """nameko's RpcProxy, whose requests carry the worker's deadline (see ``Deadline``)."""

    rpc_reply_listener = _ReplyListener()

    def get_dependency(self, worker_ctx: WorkerContext) -> _ServiceProxy:
        return _ServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **self.options)


class Deadline(DependencyProvider):
    """``self.deadline(seconds)`` in a worker: every RPC request it sends from then on carries
    the deadline and expires at it."""

    def get_dependency(self, worker_ctx: WorkerContext) -> Callable[[float], None]:
        def start(seconds: float) -> None:
            worker_ctx.data[DEADLINE] = f"{time.time() + seconds:.3f}"

        return start


def _written_by(worker_ctx: WorkerContext) -> list[str]:
    # on the worker context itself, not in its data: that would travel with every request
    if not hasattr(worker_ctx, WRITTEN):
        setattr(worker_ctx, WRITTEN, [])
    written: list[str] = getattr(worker_ctx, WRITTEN)
    return written


class ReadYourWrites(DependencyProvider):
    """``self.read_your_writes`` in a worker: ``after(header, wait_s)`` makes every RPC request
    it sends from then on wait for the writes the ``Leitai-After`` header names (InvalidInput if
    it names none properly), each for at most ``wait_s`` seconds (0: answer "not yet" at once
    rather than wait; None: as long as the service's LEITAI_CATCH_UP_S and the deadline allow);
    ``written()`` is the tokens of what its requests wrote."""

    def get_dependency(self, worker_ctx: WorkerContext) -> _Writes:
        return _Writes(worker_ctx)


class _Writes:
    def __init__(self, worker_ctx: WorkerContext) -> None:
        self._worker_ctx = worker_ctx

    def after(self, header: str, wait_s: float | None = None) -> None:
        consistency.after(header)
        self._worker_ctx.data[AFTER] = header
        if wait_s is not None:
            self._worker_ctx.data[AFTER_WAIT] = f"{max(wait_s, 0):.3f}"

    def written(self) -> list[str]:
        return list(_written_by(self._worker_ctx))
