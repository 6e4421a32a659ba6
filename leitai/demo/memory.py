"""What running over kombu's in-memory transport needs, for the demo on a machine with no broker.

Two things RabbitMQ does that ``memory://`` does not, stood in for here:

* nameko answers an RPC with the request's content type, which it reads from the message
  properties; the in-memory transport keeps it beside them, so each answer would fail;
* a retry queue is a queue with a message TTL that dead-letters back to the consumer's
  queue; the in-memory transport ignores queue arguments, so a pump moves each retry
  queue's messages back after (at least) the queue's delay.
"""
from __future__ import annotations

import threading

import eventlet
from kombu import Connection
from nameko import rpc

from leitai.contracts.catalogue import Catalogue
from leitai.messaging import topology

# without it, each hop waits for kombu's default poll of a second
TRANSPORT_OPTIONS = {"polling_interval": 0.005}
_enabled = False


def enable() -> None:
    """Let nameko's RPC responder find the content type where the in-memory transport keeps it."""
    global _enabled
    if _enabled:
        return
    original = rpc.Responder.send_response

    def send_response(self, result, exc_info):
        self.message.properties.setdefault("content_type", self.message.content_type)
        return original(self, result, exc_info)

    rpc.Responder.send_response = send_response
    _enabled = True


def pump_retries(catalogue: Catalogue, policy: topology.RetryPolicy, stop: threading.Event) -> None:
    """Move every retry queue's messages back to their consumer's queue, each after its delay."""
    with Connection("memory://", transport_options=TRANSPORT_OPTIONS) as connection:
        channel = connection.channel()
        due = {}
        tick = min(policy.delay_ms(1), 100) / 1000
        while not stop.is_set():
            for subscription in catalogue.subscriptions:
                for retry in range(1, policy.attempts):
                    name = topology.retry_queue_name(subscription.queue_name, retry)
                    waiting = due.setdefault(name, [])
                    while (message := channel.basic_get(name, no_ack=True)) is not None:
                        waiting.append((eventlet.hubs.get_hub().clock() + policy.delay_ms(retry) / 1000, message))
                    while waiting and waiting[0][0] <= eventlet.hubs.get_hub().clock():
                        _, message = waiting.pop(0)
                        channel.basic_publish(message, exchange="", routing_key=subscription.queue_name)
            stop.wait(tick)
