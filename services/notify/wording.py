"""The zh-CN wording of every notice kind: ``templates/`` (one file a kind, first line the
subject) and ``templates/sms/`` (one line a kind: a text message is short, not the mail's
subject and body), read once when the service starts, so that an organiser can edit the
wording without touching code and rendering reads no file. Times as people write them
(``when``: 12月5日 09:00)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from jinja2 import DictLoader, Environment, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


class Wording:
    def __init__(self, templates: Mapping[str, str]) -> None:
        self._environment = Environment(
            loader=DictLoader(dict(templates)), undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._environment.filters["when"] = when

    @classmethod
    def load(cls, directory: Path = TEMPLATES) -> Wording:
        """Each ``<kind>.txt``, and its text message ``sms/<kind>.txt`` (as ``sms/<kind>``)."""
        return cls(
            {
                path.relative_to(directory).with_suffix("").as_posix(): path.read_text(encoding="utf-8")
                for path in sorted([*directory.glob("*.txt"), *directory.glob("sms/*.txt")])
            }
        )

    def render(self, kind: str, context: dict) -> tuple[str, str]:
        """(subject, body) of a notice: the template's first line is the subject."""
        text = self._environment.get_template(kind).render(**context)
        subject, _, body = text.partition("\n")
        return subject.strip(), body.lstrip("\n")

    def render_sms(self, kind: str, context: dict) -> str:
        """A notice's text message: its own one line."""
        return self._environment.get_template(f"sms/{kind}").render(**context).strip()


def when(moment: str) -> str:
    """An ISO 8601 time as people write it, in the time zone it was given in: 12月5日 上午9:00,
    as a browser's zh-CN says it too (the pages' Leitai.dated); what is no such time is shown as
    it is."""
    try:
        parsed = datetime.fromisoformat(moment)
    except (TypeError, ValueError):
        return moment
    half = "上午" if parsed.hour < 12 else "下午"
    return f"{parsed.month}月{parsed.day}日 {half}{parsed.hour % 12 or 12}:{parsed:%M}"
