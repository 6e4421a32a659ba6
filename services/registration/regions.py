"""The region tree: county/city -> township/subdistrict -> village/community."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from leitai.errors import InvalidInput

LEVELS = {"county": 0, "township": 1, "village": 2}
CSV_COLUMNS = ("code", "name", "level", "parent")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent: str | None


def parse_csv(text: str) -> list[dict[str, str | None]]:
    """CSV with a header row ``code,name,level,parent`` (UTF-8, Chinese names welcome). A row
    with too few or too many cells, or text the CSV reader cannot read, is refused by row."""
    # newline="": the csv module reads line ends itself, a carriage return inside a field included
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InvalidInput("the CSV cannot be read", {"csv": [f"line {reader.line_num}: {exc}"]}) from None
    if not rows or tuple(cell.strip() for cell in rows[0]) != CSV_COLUMNS:
        raise InvalidInput("CSV header must be code,name,level,parent", {"csv": [f"header is {rows[:1]}"]})
    problems = {
        f"csv.{line}": [f"has {len(row)} cells, not {len(CSV_COLUMNS)}"]
        for line, row in enumerate(rows[1:], start=2)
        if row and len(row) != len(CSV_COLUMNS)
    }
    if problems:
        raise InvalidInput("the CSV is not a region table", problems)
    return [
        {"code": code.strip(), "name": name.strip(), "level": level.strip(), "parent": parent.strip() or None}
        for code, name, level, parent in (row for row in rows[1:] if row)
    ]


def validate_tree(regions: list[dict[str, Any]]) -> dict[str, Region]:
    """Exactly one county/city at the root; every other region's parent exists one level up; no code twice."""
    tree: dict[str, Region] = {}
    problems: dict[str, list[str]] = {}
    for index, r in enumerate(regions):
        if r["level"] not in LEVELS:  # the JSON body's schema refuses it; a CSV's rows come here unchecked
            problems[f"regions.{index}.level"] = [f"must be one of {', '.join(LEVELS)}, not {r['level']!r}"]
        if r["code"] in tree:
            problems[f"regions.{index}.code"] = [f"duplicate code {r['code']}"]
        tree[r["code"]] = Region(r["code"], r["name"], r["level"], r.get("parent"))
    roots = [r for r in tree.values() if r.level == "county"]
    if len(roots) != 1:
        problems["regions"] = [f"needs exactly one county/city, found {len(roots)}"]
    for index, r in enumerate(regions):
        region = tree[r["code"]]
        if region.level == "county":
            if region.parent:
                problems[f"regions.{index}.parent"] = ["a county/city has no parent"]
            continue
        parent = tree.get(region.parent or "")
        if parent is None:
            problems[f"regions.{index}.parent"] = [f"orphan: parent {region.parent!r} is not in the tree"]
        elif region.level in LEVELS and parent.level in LEVELS and LEVELS[parent.level] != LEVELS[region.level] - 1:
            problems[f"regions.{index}.parent"] = [
                f"a {region.level}'s parent must be one level up, not a {parent.level}"
            ]
    if problems:
        raise InvalidInput("region tree is not valid", problems)
    return tree
