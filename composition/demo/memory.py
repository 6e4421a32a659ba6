"""What running over kombu's in-memory transport needs, for the demo on a machine with no broker.

Every connection in the process is made to poll every few milliseconds (kombu's default is
a second a hop), and two things RabbitMQ does that ``memory://`` does not are stood in for:

* nameko answers an RPC with the request's content type, which it reads from the message
  properties; the in-memory transport keeps it beside them, so each answer would fail;
* a retry queue is a queue with a message TTL that dead-letters back to the consumer's
  queue; the in-memory transport ignores queue arguments, so a pump moves each retry
  queue's messages back after (at least) the queue's delay.
"""

from __future__ import annotations

import threading
import time

from kombu import Connection
from kombu.transport import memory as kombu_memory
from nameko import rpc

from leitai.contracts.catalogue import Catalogue
from leitai.messaging import topology

# every connection in the process polls this often (kombu's default is a second a hop, and
# nameko's standalone RPC client passes no transport options to change it)
POLLING_INTERVAL = 0.005
_enabled = False


def enable() -> None:
    """Poll often, and let nameko's RPC responder find the content type where the in-memory
    transport keeps it."""
    global _enabled
    if _enabled:
        return
    kombu_memory.Transport.polling_interval = POLLING_INTERVAL
    original = rpc.Responder.send_response

    def send_response(self, result, exc_info):
        self.message.properties.setdefault("content_type", self.message.content_type)
        return original(self, result, exc_info)

    rpc.Responder.send_response = send_response
    _enabled = True


class RetryPump:
    """Moves each retry queue's messages back to their consumer's queue after the queue's
    delay, as RabbitMQ's TTL and dead-lettering would. ``waiting`` counts those in between."""

    def __init__(self, catalogue: Catalogue, policy: topology.RetryPolicy) -> None:
        self._routes = [
            (topology.retry_queue_name(s.queue_name, n), s.queue_name, policy.delay_ms(n) / 1000)
            for s in catalogue.subscriptions
            for n in range(1, policy.attempts)
        ]
        self._tick = min(policy.delay_ms(1) / 1000, 0.1)
        self._held: list[tuple[float, str, dict]] = []  # (due, queue, raw message)

    @property
    def waiting(self) -> int:
        return len(self._held)

    def run(self, stop: threading.Event) -> None:
        with Connection("memory://") as connection:
            channel = connection.default_channel
            while not stop.is_set():
                clock = time.monotonic()
                for retry_queue, queue, delay in self._routes:
                    while channel._size(retry_queue):
                        self._held.append((clock + delay, queue, channel._get(retry_queue)))
                due = [held for held in self._held if held[0] <= clock]
                self._held = [held for held in self._held if held[0] > clock]
                for _, queue, raw in due:
                    channel._put(queue, raw)  # as it came: body, headers and properties untouched
                stop.wait(self._tick)
