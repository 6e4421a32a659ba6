"""nameko's queue consumer, made to say whether it is consuming and to survive bad messages.

One class serves every consumer a leitai process has (RPC requests, RPC replies, events), so
that readiness can ask each of them one question: is the broker connection open with this
process's consumers registered on it? kombu's consumer loop reconnects by itself; between a
dropped connection and the consumers registered again, ``consuming`` is False.

An undecodable message, which nameko would let raise inside kombu's loop and stop the
consumer, is handed to its entrypoint's ``handle_undecodable`` where it has one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Consumer
from nameko.messaging import QueueConsumer as NamekoQueueConsumer


class QueueConsumer(NamekoQueueConsumer):
    consuming = False

    @property
    def prefetch_count(self) -> int:
        # one value for the channel's consumers: the largest any of them asks (a batching
        # handler asks for its batch), and never fewer than the container's workers
        workers: int = self.container.max_workers
        asked: list[int] = [getattr(p, "prefetch_count", 0) for p in self._providers]
        return max([workers, *asked])

    @contextmanager
    def extra_context(self, connection: Connection, channel: Any) -> Iterator[None]:
        # kombu enters this once the consumers are declared on a fresh connection and leaves
        # it when the connection fails or the consumer stops
        self.consuming = True
        try:
            yield
        finally:
            self.consuming = False

    def get_consumers(self, consumer_cls: type[Consumer], channel: Any) -> list[Consumer]:
        consumers: list[Consumer] = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            if hasattr(provider, "handle_undecodable"):
                consumer.on_decode_error = provider.handle_undecodable
        return consumers
