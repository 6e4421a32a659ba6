"""Where notices go: e-mail over SMTP, an HTTP SMS gateway, the in-app inbox."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError


class TemporaryFailure(Exception):
    """Try again later (server down, 4xx, timeout)."""


class PermanentFailure(Exception):
    """Trying again will not help (address refused, 5xx)."""


class Email:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        user: str = "",
        password: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.user, self.password, self.timeout = starttls, user, password, timeout

    def send(self, delivery: dict) -> None:
        message = EmailMessage()
        message["From"], message["To"] = self.sender, delivery["address"]
        message["Subject"] = delivery["subject"]
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{delivery['_id']}@leitai>"  # the same on a resend: receivers can tell
        message["X-Leitai-Kind"] = delivery["kind"]
        message.set_content(delivery["body"])
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(
                f"recipient refused: {exc.recipients}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise (PermanentFailure if exc.smtp_code >= 500 else TemporaryFailure)(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None


class Sms:
    """JSON POST {to, text, out_id} with the API key as a bearer token, as SMS gateways take it."""

    def __init__(self, url: str, api_key: str, timeout: float = 10.0) -> None:
        self.url, self.api_key, self.timeout = url, api_key, timeout

    def send(self, delivery: dict) -> None:
        body = json.dumps(
            {
                "to": delivery["address"],
                "text": f"【擂台比武】{delivery['body']}",  # an SMS delivery's body is its own short text
                "out_id": delivery["_id"],
            },
            ensure_ascii=False,
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise (PermanentFailure if 400 <= exc.code < 500 and exc.code != 429 else TemporaryFailure)(
                f"SMS gateway {exc.code}: {exc.read()[:200]!r}"
            ) from None
        except OSError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None


class Inbox:
    def __init__(self, db: Database) -> None:
        self._collection = db["inbox"]

    def send(self, delivery: dict) -> None:
        try:
            self._collection.insert_one(
                {
                    "_id": delivery["_id"],
                    "contest_id": delivery["contest_id"],
                    "recipient_id": delivery["recipient_id"],
                    "kind": delivery["kind"],
                    "subject": delivery["subject"],
                    "body": delivery["body"],
                    "at": delivery["created_at"],
                }
            )
        except DuplicateKeyError:
            pass  # delivered before the lease ran out: once is enough
