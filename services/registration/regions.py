"""The region tree: county/city -> township/subdistrict -> village/community."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from leitai.errors import InvalidInput
from leitai.messages import Text, text

LEVELS = {"county": 0, "township": 1, "village": 2}
CSV_COLUMNS = ("code", "name", "level", "parent")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent: str | None


# a county office's own table says it in Chinese: the same four columns, the levels by their names
CSV_COLUMNS_ZH = ("编码", "名称", "级别", "上级编码")
LEVELS_ZH = {"县": "county", "县（市）": "county", "市": "county", "乡镇": "township", "乡镇（街道）": "township",
             "街道": "township", "村": "village", "社区": "village", "村（社区）": "village"}  # fmt: skip


def parse_csv(csv_text: str) -> list[dict[str, str | None]]:
    """CSV with a header row ``code,name,level,parent`` or ``编码,名称,级别,上级编码`` (UTF-8,
    Chinese names welcome; a level as county/township/village or 县/乡镇/村 and the like). A row
    with too few or too many cells, or text the CSV reader cannot read, is refused by row."""
    # newline="": the csv module reads line ends itself, a carriage return inside a field included
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff"), newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        problems = {"csv": [text("line {line}: {problem}", line=reader.line_num, problem=str(exc))]}
        raise InvalidInput("the CSV cannot be read", problems) from None
    if not rows or tuple(cell.strip() for cell in rows[0]) not in (CSV_COLUMNS, CSV_COLUMNS_ZH):
        problems = {"csv": [text("the header is {header}", header=",".join(rows[0]) if rows else "")]}
        raise InvalidInput(
            "CSV header must be code,name,level,parent",
            problems,
        )
    problems = {
        f"csv.{line}": [text("has {cells} cells, not {columns}", cells=len(row), columns=len(CSV_COLUMNS))]
        for line, row in enumerate(rows[1:], start=2)
        if row and len(row) != len(CSV_COLUMNS)
    }
    if problems:
        raise InvalidInput("the CSV is not a region table", problems)
    return [
        {
            "code": code.strip(),
            "name": name.strip(),
            "level": LEVELS_ZH.get(level.strip(), level.strip()),
            "parent": parent.strip() or None,
        }
        for code, name, level, parent in (row for row in rows[1:] if row)
    ]


def validate_tree(regions: list[dict[str, Any]]) -> dict[str, Region]:
    """Exactly one county/city at the root; every other region's parent exists one level up; no code twice."""
    tree: dict[str, Region] = {}
    problems: dict[str, list[Text]] = {}
    for index, r in enumerate(regions):
        if r["level"] not in LEVELS:  # the JSON body's schema refuses it; a CSV's rows come here unchecked
            problems[f"regions.{index}.level"] = [
                text('must be one of {levels}, not "{level}"', levels=", ".join(LEVELS), level=r["level"])
            ]
        if r["code"] in tree:
            problems[f"regions.{index}.code"] = [text("duplicate code {code}", code=r["code"])]
        tree[r["code"]] = Region(r["code"], r["name"], r["level"], r.get("parent"))
    roots = [r for r in tree.values() if r.level == "county"]
    if len(roots) != 1:
        problems["regions"] = [text("needs exactly one county/city, found {found}", found=len(roots))]
    for index, r in enumerate(regions):
        region = tree[r["code"]]
        if region.level == "county":
            if region.parent:
                problems[f"regions.{index}.parent"] = [text("a county/city has no parent")]
            continue
        parent = tree.get(region.parent or "")
        if parent is None:
            problems[f"regions.{index}.parent"] = [
                text('orphan: parent "{parent}" is not in the tree', parent=region.parent or "")
            ]
        elif region.level in LEVELS and parent.level in LEVELS and LEVELS[parent.level] != LEVELS[region.level] - 1:
            problems[f"regions.{index}.parent"] = [
                text(
                    "a {level}'s parent must be one level up, not a {parent_level}",
                    level=region.level,
                    parent_level=parent.level,
                )
            ]
    if problems:
        raise InvalidInput("region tree is not valid", problems)
    return tree
