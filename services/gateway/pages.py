"""The judge's tablet page and the organiser's console: static HTML with a shared script and
style sheet, read once at start-up. Everything they show and do goes through the documented
API with the user's own token; the pages hold no logic the API does not also enforce."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
JUDGE = (STATIC / "judge.html").read_bytes()
CONSOLE = (STATIC / "console.html").read_bytes()
SCRIPT = (STATIC / "pages.js").read_bytes()
STYLE = (STATIC / "pages.css").read_bytes()
