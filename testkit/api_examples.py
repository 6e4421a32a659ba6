"""docs/api-examples.md, recorded from a stack of its own: ``make api-examples`` writes it,
``python -m testkit.api_examples --check`` says whether it is still true (tests/e2e do too)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from testkit.api_markdown import render
from testkit.api_record import Recorder
from testkit.api_tour import examples_stack, walk
from testkit.servers import ROOT, SecantusServer

PAGE = ROOT / "docs" / "api-examples.md"


def record(folder: Path, mongo_url: str) -> tuple[str, list[str]]:
    """The page, and the routes of the OpenAPI document it has no example of."""
    with examples_stack(folder, mongo_url) as stack:
        rec = walk(stack)
        document = stack.call("GET", "/openapi.json")[1]
    summaries = {
        f"{method.upper()} {path}": operation["summary"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    return render(rec, summaries), missing(rec, summaries)


def missing(rec: Recorder, summaries: dict[str, str]) -> list[str]:
    return sorted(set(summaries) - {e.route for e in rec.exchanges})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with docs/api-examples.md, write nothing")
    args = parser.parse_args()
    executable = os.environ.get("LEITAI_SECANTUSD") or str(ROOT / ".tools/secantus/bin/secantusd-py")
    server = SecantusServer(executable).start()
    try:
        with tempfile.TemporaryDirectory(prefix="leitai-api-examples-") as folder:
            page, uncovered = record(Path(folder), server.url)
    finally:
        server.stop()
    if uncovered:
        print(f"no example of: {', '.join(uncovered)}", file=sys.stderr)
        return 1
    if args.check:
        if PAGE.read_text() != page:
            print(f"{PAGE.relative_to(ROOT)} is out of date: make api-examples", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
