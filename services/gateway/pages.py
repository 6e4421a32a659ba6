"""The judge's tablet page and the organiser's console: static HTML with a shared script and
style sheet, read once at start-up. Everything they show and do goes through the documented
API with the user's own token; the pages hold no logic the API does not also enforce.

No page carries inline script or style (the gateway's Content-Security-Policy, http.py, allows
neither): each page's script and style sheet are files of static/, served under /pages/ from
here, the big screen's (live.html) and the public results page's (results_page.py) too."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
JUDGE = (STATIC / "judge.html").read_bytes()
CONSOLE = (STATIC / "console.html").read_bytes()
SCRIPT = (STATIC / "pages.js").read_bytes()
STYLE = (STATIC / "pages.css").read_bytes()
JUDGE_SCRIPT = (STATIC / "judge.js").read_bytes()
CONSOLE_SCRIPT = (STATIC / "console.js").read_bytes()
LIVE_SCRIPT = (STATIC / "live.js").read_bytes()
SCREEN_SCRIPT = (STATIC / "screen.js").read_bytes()  # the big screen's token, ticket and stream
LIVE_STYLE = (STATIC / "live.css").read_bytes()
RESULTS_STYLE = (STATIC / "results.css").read_bytes()
