"""The zh-CN wording of every notice kind: ``templates/`` (one file a kind, first line the
subject), read once when the service starts, so that an organiser can edit the wording
without touching code and rendering reads no file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import DictLoader, Environment, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


class Wording:
    def __init__(self, templates: Mapping[str, str]) -> None:
        self._environment = Environment(
            loader=DictLoader(dict(templates)), undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        )

    @classmethod
    def load(cls, directory: Path = TEMPLATES) -> Wording:
        return cls({path.stem: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.txt"))})

    def render(self, kind: str, context: dict) -> tuple[str, str]:
        """(subject, body) of a notice: the template's first line is the subject."""
        text = self._environment.get_template(kind).render(**context)
        subject, _, body = text.partition("\n")
        return subject.strip(), body.lstrip("\n")
