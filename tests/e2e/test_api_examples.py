"""docs/api-examples.md holds an example of every route, and each is what the API answers now:
a change of the contract, or of an answer's words, fails here until `make api-examples` is run.
docs/api.md links each route to its example, so that a reader finds it from the route."""

from __future__ import annotations

import difflib
import re

from testkit.api_examples import PAGE, record
from testkit.api_markdown import anchor


def test_every_route_has_an_example_and_each_is_what_the_api_answers_now(tmp_path, mongo_url):
    page, uncovered = record(tmp_path, mongo_url)
    assert not uncovered, f"routes of the OpenAPI document with no example (testkit/api_tour.py): {uncovered}"
    written = PAGE.read_text()
    diff = "".join(
        difflib.unified_diff(written.splitlines(True), page.splitlines(True), "written", "recorded now", n=1)
    )
    assert written == page, f"docs/api-examples.md is not what the API answers now; run `make api-examples`:\n{diff}"
    routes = {anchor(route) for route in re.findall(r"^\| \[`([^`]+)`\]", page, re.MULTILINE)}
    linked = set(re.findall(r"\]\(api-examples\.md#([\w-]+)\)", (PAGE.parent / "api.md").read_text()))
    assert linked <= routes, f"docs/api.md links examples that do not exist: {sorted(linked - routes)}"
    assert routes <= linked, f"routes whose example docs/api.md does not link: {sorted(routes - linked)}"
