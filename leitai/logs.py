"""Structured (one JSON object a line) logging for leitai processes."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from leitai.errors import DomainError

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and isinstance(record.exc_info[1], DomainError):
            # a refusal a service answered with (expected): the caller has it; no traceback
            entry["refused"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1].message}"[:300]
        elif record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
