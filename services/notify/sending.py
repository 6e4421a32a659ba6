"""Sending what is due: each delivery claimed under a lease, sent by its channel at the
channel's pace, and its outcome recorded, even across a store outage (deliveries.py says how
nothing is sent twice)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import eventlet

from leitai import metrics
from leitai.mongo import is_outage
from leitai.ratelimit import RateLimit
from services.notify import channels
from services.notify.deliveries import Deliveries

log = logging.getLogger(__name__)


class Sender:
    """``by_channel``: channel name -> an object whose ``send(delivery)`` sends it or raises
    channels.TemporaryFailure / PermanentFailure; ``rates``: channel name -> messages a second.
    Anything else a channel raises (a bug, a notice it cannot encode) is logged with the
    delivery's id and counts as a temporary failure: retried with the backoff, failed after the
    last attempt, never left "sending"; a store outage is waited out (``send_due``)."""

    def __init__(self, deliveries: Deliveries, by_channel: Mapping[str, Any], rates: Mapping[str, float]) -> None:
        self.deliveries = deliveries
        self.channels = dict(by_channel)
        self.rates = {name: RateLimit(rate) for name, rate in rates.items()}
        self._outcomes: deque[Callable[[], None]] = deque()  # channel answers not recorded yet
        self._store_down = False

    def send_due(self, limit: int = 100) -> int:
        """Send what is due; returns how many went out. A store outage raises, and the
        outcomes not yet recorded are recorded first thing in the next round."""
        try:
            return self._send_due(limit)
        except Exception as exc:
            if not is_outage(exc):
                raise
            if not self._store_down:  # once an outage, not ten times a second
                log.warning("store outage: sending waits for it", extra={"error": f"{type(exc).__name__}: {exc}"[:500]})
            self._store_down = True
            return 0

    def _send_due(self, limit: int) -> int:
        self._record_outcomes()  # before anything new is claimed
        self._store_down = False
        sent = 0
        self.deliveries.recover()  # once a round, not once a delivery
        for delivery in self.deliveries.claim_due(limit):
            bucket = self.rates.get(delivery["channel"])
            while bucket is not None and not bucket.take():
                eventlet.sleep(0.02)
            outcome = metrics.NOTICES.labels(delivery["channel"], "sent")
            try:
                self.channels[delivery["channel"]].send(delivery)
            except channels.PermanentFailure as exc:
                outcome = metrics.NOTICES.labels(delivery["channel"], "failed")
                self._outcomes.append(partial(self.deliveries.failed, delivery, str(exc)))
            except channels.TemporaryFailure as exc:
                outcome = metrics.NOTICES.labels(delivery["channel"], "failed_for_now")
                self._outcomes.append(partial(self.deliveries.failed_for_now, delivery, str(exc)))
            except Exception as exc:  # noqa: BLE001 - a bug, or a notice its channel cannot encode: recorded
                if is_outage(exc):  # the store's (the inbox writes to it): send_due waits it out
                    raise
                outcome = metrics.NOTICES.labels(delivery["channel"], "failed_for_now")
                reason = f"unexpected {type(exc).__name__}: {exc}"[:500]
                log.exception(
                    "sending failed unexpectedly; the delivery is retried later, then failed",
                    extra={
                        "delivery_id": delivery["_id"],
                        "channel": delivery["channel"],
                        "kind": delivery.get("kind"),
                        "attempt": delivery["attempts"],
                    },
                )
                self._outcomes.append(partial(self.deliveries.failed_for_now, delivery, reason))
            else:
                self._outcomes.append(partial(self.deliveries.sent, delivery))
                sent += 1
            outcome.inc()
            self._record_outcomes()
        return sent

    def _record_outcomes(self) -> None:
        """Record each channel's answer, oldest first. What the store does not take now (an
        outage) stays here and is recorded when it answers again: a message that went out is
        then marked sent before its lease runs out, and is not sent a second time."""
        while self._outcomes:
            self._outcomes[0]()
            self._outcomes.popleft()
