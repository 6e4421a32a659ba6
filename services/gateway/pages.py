"""The pages: the judge's tablet, the organiser's console, the big screen and the hall's
screen: static HTML with shared and own scripts and style sheets, read once at start-up.
Everything they show and do goes through the documented API with the user's own token; the
pages hold no logic the API does not also enforce.

No page carries inline script or style (the gateway's Content-Security-Policy, http.py, allows
neither): each page's script and style sheet are files of static/, served under /pages/ from
``ASSETS``, the big screen's (live.html) and the public results page's (results_page.py) too."""

from __future__ import annotations

from pathlib import Path

from werkzeug.wrappers import Response

from leitai.errors import NotFound

STATIC = Path(__file__).parent / "static"
JUDGE = (STATIC / "judge.html").read_bytes()
CONSOLE = (STATIC / "console.html").read_bytes()
SETUP = (STATIC / "setup.html").read_bytes()
HALL = (STATIC / "hall.html").read_bytes()
KINDS = {"js": "text/javascript", "css": "text/css"}
MEDIA_TYPES = ", ".join(KINDS.values())  # the route's answers, as its OpenAPI operation lists them
# every script and style sheet a page loads, by file name: nothing else is served from static/
ASSETS = {path.name: path.read_bytes() for path in sorted(STATIC.iterdir()) if path.suffix.removeprefix(".") in KINDS}


def asset(name: str, kind: str) -> Response:
    """``name.kind`` of static/, with its media type; NotFound for anything else."""
    body = ASSETS.get(f"{name}.{kind}")
    if body is None:
        raise NotFound("no page file {name}.{kind}", name=name, kind=kind)
    return Response(body, mimetype=KINDS[kind])
