"""A notice its channel raises on (a bug, a subject the e-mail header refuses) is never left
"sending": each attempt is recorded as failed for now with the reason, logged once with the
delivery's id, retried with the backoff and failed after the last attempt; the round goes on
to the next delivery and the timer's loop never sees the exception."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest

from services.notify.channels import Email
from services.notify.deliveries import Deliveries, Policy
from services.notify.sending import Sender

pytestmark = pytest.mark.integration
ATTEMPTS = 3


class RaisingChannel:
    """An SMS channel with a bug: it raises ValueError for every notice it is handed."""

    def __init__(self) -> None:
        self.asked: Counter = Counter()

    def send(self, delivery: dict) -> None:
        self.asked[delivery["_id"]] += 1
        raise ValueError(f"cannot encode notice {delivery['_id']}")


class CountingChannel:
    def __init__(self) -> None:
        self.sent: Counter = Counter()

    def send(self, delivery: dict) -> None:
        self.sent[delivery["_id"]] += 1


def notice(delivery_id: str, channel: str, subject: str = "成绩") -> dict:
    return {
        "_id": delivery_id,
        "event_id": delivery_id,
        "contest_id": "c",
        "recipient_id": "r",
        "name": "书记",
        "channel": channel,
        "kind": "stage_result",
        "address": "r@example.cn",
        "subject": subject,
        "body": "…",
        "status": "pending",
    }


def test_a_notice_its_channel_raises_on_is_retried_then_failed_logged_once_an_attempt(db, caplog):
    deliveries = Deliveries(db, Policy(max_attempts=ATTEMPTS, base_delay=0.05, lease_seconds=60))
    deliveries.ensure_indexes()
    sms, inbox = RaisingChannel(), CountingChannel()
    # a real e-mail channel (its server is never reached): a subject with a line feed makes the
    # header raise ValueError before anything is sent
    email = Email("127.0.0.1", 9, "leitai@example.cn", timeout=1)
    sender = Sender(deliveries, {"email": email, "sms": sms, "inbox": inbox}, rates={})
    deliveries.create(notice("bad-subject", "email", subject="成绩\nBcc: everyone@example.cn"))
    deliveries.create(notice("sms-bug", "sms"))
    deliveries.create(notice("fine", "inbox"))

    with caplog.at_level(logging.INFO, logger="services.notify.sending"):
        assert sender.send_due() == 1  # raises nothing; the good one went out in the same round
        first = {d["_id"]: d for d in deliveries.find({})}
        assert first["fine"]["status"] == "sent" and inbox.sent == {"fine": 1}
        for delivery_id, error in (("bad-subject", "ValueError: Header values"), ("sms-bug", "ValueError: cannot")):
            assert first[delivery_id]["status"] == "pending", first[delivery_id]  # not "sending"
            assert first[delivery_id]["attempts"] == 1 and error in first[delivery_id]["last_error"]
            assert "lease_until" not in first[delivery_id]
        assert first["sms-bug"]["due_at"] > first["sms-bug"]["created_at"]  # later: the backoff

        deadline = time.monotonic() + 30
        while any(d["status"] != "failed" for d in deliveries.find({"_id": {"$in": ["bad-subject", "sms-bug"]}})):
            assert time.monotonic() < deadline, deliveries.find({})
            sender.send_due()
            time.sleep(0.05)

    done = {d["_id"]: d for d in deliveries.find({})}
    for delivery_id in ("bad-subject", "sms-bug"):
        assert done[delivery_id]["attempts"] == ATTEMPTS
        assert done[delivery_id]["last_error"].startswith(f"gave up after {ATTEMPTS} attempts: unexpected ValueError")
    assert sms.asked == {"sms-bug": ATTEMPTS} and inbox.sent == {"fine": 1}
    logged = [r for r in caplog.records if r.name == "services.notify.sending"]
    assert all(r.levelno == logging.ERROR and r.exc_info for r in logged)
    assert Counter(r.delivery_id for r in logged) == {"bad-subject": ATTEMPTS, "sms-bug": ATTEMPTS}
    assert sender.send_due() == 0  # nothing left: a failed delivery waits for an organiser's retry
