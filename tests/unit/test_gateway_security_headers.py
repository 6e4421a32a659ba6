"""What the gateway serves holds to its Content-Security-Policy, and every answer carries the
security headers: each page it serves has no inline script, event handler or style, and loads
only what the gateway serves; the headers are set for any answer, whichever route (or none)
gave it, and an answer to a credential, or an error, is never cached."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from werkzeug.exceptions import NotFound as NoSuchRoute
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

import services.gateway.service  # noqa: F401  (its endpoints fill ROUTES)
from leitai.certificates import fingerprint
from leitai.errors import NotFound, Unavailable
from leitai.i18n import Languages, catalogues
from services.gateway import live, pages, results_page
from services.gateway.http import (
    CONTENT_SECURITY_POLICY,
    ROUTES,
    SECURITY_HEADERS,
    SecureHttp,
    error_response,
    json_response,
    respond,
    secure_app,
)
from services.gateway.names import Names
from services.gateway.service import GatewayService

# what /pages/<name>.<kind> serves (one route, pages.ASSETS), by the path a page loads it from
STATIC_ROUTES = {f"/pages/{name}": name for name in pages.ASSETS}
HOSTILE = '<script>alert(1)</script><style>*{}</style><b onclick="x()" style="color:red">'


def results() -> bytes:
    digest = "ab" * 32
    standing = {"rank": 1, "name": HOSTILE, "group_id": "g", "stage_score": "92.44", "advanced": True}
    board = {
        "contest_id": "c",
        "stage_id": "semi",
        "name": HOSTILE,
        "standings": [dict(standing, decided_by=HOSTILE), dict(standing, rank=2, advanced=False, decided_by="lot")],
    }
    certificate = {"standings_sha256": digest, "fingerprint": fingerprint(digest), "pending": ["ranking"]}
    return results_page.render(board, certificate, Names())


# every HTML page the gateway serves, by route: a new page fails the test below until listed here
PAGES = {
    "judge_page": lambda: pages.JUDGE,
    "console_page": lambda: pages.CONSOLE,
    "setup_page": lambda: pages.SETUP,
    "hall_page": lambda: pages.HALL,
    "live_page": lambda: live.PAGE,
    "results_page": results,
}


class Inline(HTMLParser):
    """What a page has inline, and what it loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.loads: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>: an inline event handler")
            if name == "style":
                self.found.append(f"<{tag} style=…>: an inline style")
            url = (value or "").strip().lower() if name in ("href", "src", "action", "formaction") else ""
            if url.startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>: a javascript: URL")
        if tag == "style":
            self.found.append("<style>: an inline style sheet")
        if tag == "script":
            self.in_script = True
            if not attributes.get("src"):
                self.found.append("<script> without src: an inline script")
            else:
                self.loads.append(attributes["src"] or "")
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.loads.append(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.found.append(f"<script> with code inside: {data.strip()[:40]!r}")


def test_every_page_the_gateway_serves_is_listed_here():
    assert {r.name for r in ROUTES if r.media_type == "text/html"} == set(PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_a_page_has_no_inline_script_handler_or_style_and_loads_only_what_the_gateway_serves(name):
    parser = Inline()
    parser.feed(PAGES[name]().decode("utf-8"))
    parser.close()
    assert parser.found == []
    assert parser.loads, "a page without its script or style sheet"
    for path in parser.loads:
        assert path in STATIC_ROUTES, f"{name} loads {path}, which the gateway does not serve"
        served = pages.asset(*path.removeprefix("/pages/").rsplit(".", 1))
        assert served.mimetype == ("text/css" if path.endswith(".css") else "text/javascript")


@pytest.mark.parametrize("path", sorted(STATIC_ROUTES))
def test_the_pages_scripts_set_no_inline_style_and_write_no_html(path):
    """What the policy would refuse at run time: a style attribute, HTML written as text, code
    made from strings."""
    text = (pages.STATIC / path.removeprefix("/pages/")).read_text(encoding="utf-8")
    if path.endswith(".js"):
        forbidden = r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|[{,]\s*style\s*:|"
        forbidden += r"setAttribute\(\s*[\"']style|setAttribute\(\s*[\"']on"
        assert re.findall(forbidden, text) == []


def test_every_entrypoint_of_the_gateway_is_served_through_the_secured_web_server():
    entrypoints = [
        entrypoint
        for member in vars(GatewayService).values()
        for entrypoint in getattr(member, "nameko_entrypoints", ())
        if "Http" in type(entrypoint).__name__ or "http" in type(entrypoint).__module__
    ]
    assert len(entrypoints) > len(ROUTES)  # the routes and the live stream
    assert all(type(entrypoint) is SecureHttp for entrypoint in entrypoints)


def answered(response_of, headers: dict[str, str] | None = None, query: str = "") -> Response:
    """``response_of(request)``'s answer as the gateway's WSGI application sends it."""

    def app(environ, start_response):
        return response_of(Request(environ))(environ, start_response)

    return Client(secure_app(app, Languages(catalogues()))).get("/x" + query, headers=headers or {})


def assert_secured(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.getlist(name) == [value], name


ROUTE = {r.name: r for r in ROUTES}


def test_a_public_answer_without_a_credential_is_secured_and_may_be_cached():
    response = answered(lambda request: respond(ROUTE["judge_page"], pages.JUDGE, "r1", []))
    assert_secured(response)
    assert "Cache-Control" not in response.headers and response.headers["Vary"] == "Authorization"
    assert response.headers["X-Request-Id"] == "r1" and response.mimetype == "text/html"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_an_answer_to_a_credential_is_never_cached_public_route_or_not():
    document = lambda request: json_response(200, {"openapi": "3.0.3"})  # noqa: E731
    for headers, query in (({"Authorization": "Bearer " + "o" * 16}, ""), ({}, "?token=" + "s" * 16)):
        response = answered(document, headers, query)
        assert_secured(response)
        assert response.headers.getlist("Cache-Control") == ["no-store"]
    # a route for some roles only: no-store from its answer itself, however the caller was let in
    response = answered(lambda request: respond(ROUTE["list_contests"], {"contests": []}, "r2", ["w1"]))
    assert_secured(response)
    assert response.headers.getlist("Cache-Control") == ["no-store"] and response.headers["Leitai-Written"] == "w1"


@pytest.mark.parametrize("error", [NotFound("no such stage"), Unavailable("down")], ids=repr)
def test_an_error_is_secured_and_never_cached(error):
    response = answered(lambda request: error_response(error, "r3", Languages(catalogues()).for_request([])))
    assert_secured(response)
    assert response.headers.getlist("Cache-Control") == ["no-store"]
    assert response.status_code in (404, 503) and response.json["error"]["request_id"] == "r3"


def test_what_a_route_sets_itself_gives_way_and_nameko_s_own_answers_are_secured_too():
    """The live stream sets its own Cache-Control; an unknown path is answered by werkzeug's
    NotFound, from inside nameko, before any route."""
    stream = lambda request: Response(  # noqa: E731
        iter([b"data: {}\n\n"]),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src *", "X-Frame-Options": "ALLOW"},
    )
    response = answered(stream, query="?token=" + "s" * 16)
    assert_secured(response)
    assert response.headers.getlist("Cache-Control") == ["no-store"] and response.get_data() == b"data: {}\n\n"
    response = answered(lambda request: NoSuchRoute())
    assert response.status_code == 404
    assert_secured(response)
    assert response.headers.getlist("Cache-Control") == ["no-store"]
    # not werkzeug's English page: the API's error, in the reader's language
    assert response.json["error"] == {"code": "not_found", "message": "这里没有这个地址", "fields": None}
