"""Judges and entries from an Excel workbook, as a county office keeps them.

An organiser fills in the template (``template``): one sheet of contestants, one of judges,
people's townships and villages written as their names, not the region tree's codes. ``read``
turns a filled-in workbook into the API's judges and entries: names resolved against the
contest's region tree, ids given where the sheet leaves them blank, every problem of every row
collected (not only the first), each named by its sheet and row as the organiser sees them in
Excel. The registration service then checks the rows again against the contest and registers
all of them or none (``Contest.register_roster``); its problems come back by row too
(``refused_rows``).

A workbook is the sender's: it is read with bounds (rows, columns, cell length), its formulas
are never evaluated (openpyxl reads the cached values), and a file that is no workbook is
refused with a line that says so.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from marshmallow import Schema, ValidationError
from openpyxl import Workbook, load_workbook

from leitai.errors import DomainError, InvalidInput
from leitai.messages import N_, Said, is_text, text
from leitai.schema_messages import parsed
from services.gateway.exports import append

ENTRIES, JUDGES, GUIDE = "选手", "评委", "填写说明"
MAX_ROWS = 2000  # people per sheet: a county's contest has hundreds
MAX_SCANNED = 10 * MAX_ROWS  # rows read per sheet, blank ones included
MAX_UNPACKED = 32 * 1024 * 1024  # bytes the workbook's files may unpack to, all together
MAX_MEMBERS = 200  # files in the workbook's zip (a template has about a dozen)
MAX_COLUMNS = 30
MAX_CELL = 2000
LIST_SEPARATORS = re.compile(r"[、,，;；\s]+")
# mainland mobile (11 digits from 1) or a landline with its area code, with an optional +86
PHONE = re.compile(r"^(?:\+?86[ -]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    required: bool = False
    note: str = ""


ENTRY_COLUMNS = (
    Column("姓名", "name", True),
    Column("乡镇（街道）", "township", True, "写名称，与区划表一致，如“东海街道”"),
    Column("村（社区）", "village", True, "写名称，如“东海社区”"),
    Column("职务或单位", "work_unit"),
    Column("汇报题目", "title", True),
    Column("手机号", "phone", note="用于发送通知；不公开"),
    Column("邮箱", "email", note="用于发送通知；不公开"),
    Column("参赛编号", "entry_id", note="可留空，系统自动编号"),
)
JUDGE_COLUMNS = (
    Column("姓名", "name", True),
    Column("工作单位", "work_unit"),
    Column("所在乡镇（街道）", "township", note="填写后，该评委不评本乡镇的选手（回避）"),
    Column("回避选手", "conflicts", note="需回避的选手姓名或参赛编号，多人用顿号分隔"),
    Column("手机号", "phone", note="用于发送通知；不公开"),
    Column("邮箱", "email", note="用于发送通知；不公开"),
    Column("评委编号", "judge_id", note="可留空，系统自动编号"),
)
SHEETS = {ENTRIES: ENTRY_COLUMNS, JUDGES: JUDGE_COLUMNS}
# the API's fields the sheet fills in from names: the column each came from
RESOLVED = {"village_code": "村（社区）", "township_code": "所在乡镇（街道）"}


def problem_key(sheet: str, row: int) -> str:
    """How a row's problems are keyed in the error's ``fields``: the sheet and the row number
    as Excel shows them."""
    return f"{sheet}:{row}"


# -- the template ---------------------------------------------------------------------------
def template(contest: dict, regions: list[dict]) -> bytes:
    """An empty workbook to fill in: the two sheets with their headers, and a guide that lists
    each column and the county's townships with their villages, as the sheet must name them."""
    book = Workbook()
    guide = book.active
    assert guide is not None  # a new workbook has one sheet, active
    guide.title = GUIDE
    append(guide, [f"{contest['name']}：选手和评委名单"])
    append(guide, ["在“选手”“评委”两张表里逐行填写，每人一行；带 * 的列必填。"])
    append(guide, ["导入时整张表检查一遍，有问题的行全部列出；全部无误才会导入，否则什么也不导入。"])
    append(guide, [])
    for sheet, columns in SHEETS.items():
        append(guide, [f"“{sheet}”表", "说明"])
        for column in columns:
            append(guide, [column.header + ("*" if column.required else ""), column.note])
        append(guide, [])
    append(guide, ["乡镇（街道）", "村（社区）"])
    for township in (r for r in regions if r["level"] == "township" and r["parent"] == contest["county_code"]):
        villages = [r["name"] for r in regions if r["level"] == "village" and r["parent"] == township["code"]]
        append(guide, [township["name"], "、".join(villages)])
    for sheet, columns in SHEETS.items():
        table = book.create_sheet(sheet)
        append(table, [c.header + ("*" if c.required else "") for c in columns])
        table.freeze_panes = "A2"
        for letter, column in zip("ABCDEFGHIJ", columns, strict=False):
            table.column_dimensions[letter].width = max(12, 2 * len(column.header) + 4)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# -- reading a filled-in workbook -------------------------------------------------------------
class Problems:
    """Every problem found, by sheet and row."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Said]] = {}

    def add(self, sheet: str, row: int, message: Said) -> None:
        self.rows.setdefault(problem_key(sheet, row), []).append(message)

    def raise_any(self) -> None:
        if self.rows:
            by_row = dict(sorted(self.rows.items(), key=lambda kv: (kv[0].split(":")[0], int(kv[0].split(":")[1]))))
            raise InvalidInput(
                "{rows} rows of the workbook have problems; nothing was imported", by_row, rows=len(self.rows)
            )


@dataclass
class Roster:
    """What a workbook registers, and the sheet row each record came from."""

    judges: list[dict]
    entries: list[dict]
    judge_rows: list[int]
    entry_rows: list[int]


def decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        not_base64 = {"workbook": [N_("not base64")]}
        raise InvalidInput("the workbook is not base64", not_base64) from None


def read(
    data: bytes,
    contest: dict,
    regions: list[dict],
    judge_schema: type[Schema],
    entry_schema: type[Schema],
) -> Roster:
    """The judges and entries of workbook ``data`` for ``contest`` (its organiser's view: the
    judges and entries it has already), townships and villages looked up in ``regions``; each
    row also validated by the API's own schema for the record. Raises InvalidInput listing
    every problem, keyed by ``problem_key``."""
    sheets = _sheets(data)
    problems = Problems()
    places = _Places(regions, contest["county_code"])
    entries, entry_rows = _entries(sheets.get(ENTRIES, []), contest, places, entry_schema, problems)
    judges, judge_rows = _judges(sheets.get(JUDGES, []), contest, entries, places, judge_schema, problems)
    problems.raise_any()
    return Roster(judges, entries, judge_rows, entry_rows)


def refused_rows(error: DomainError, roster: Roster) -> DomainError:
    """The service's refusal of a roster (problems by record index) as the sheet's rows."""
    details = error.details or {}
    if not isinstance(details.get("judges"), dict) and not isinstance(details.get("entries"), dict):
        return error
    problems = Problems()
    for part, sheet, rows in (("judges", JUDGES, roster.judge_rows), ("entries", ENTRIES, roster.entry_rows)):
        for index, messages in (details.get(part) or {}).items():
            for message in messages:
                problems.add(sheet, rows[int(index)], message)
    try:
        problems.raise_any()
    except InvalidInput as refused:
        return refused
    return error


def _sheets(data: bytes) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """Each known sheet's filled-in rows: (the row's number in Excel, header -> text)."""
    try:
        _unpacked_within_bounds(data)
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        not_a_workbook = {"workbook": [N_("not an .xlsx workbook")]}
        raise InvalidInput("the file is not an Excel workbook (.xlsx)", not_a_workbook) from None
    found = {name: _rows(book[name], SHEETS[name]) for name in SHEETS if name in book.sheetnames}
    if not found:
        no_sheet = {"workbook": [text("no sheet named {entries} or {judges}", entries=ENTRIES, judges=JUDGES)]}
        raise InvalidInput(
            "the workbook has no sheet named {entries} or {judges}: use the template",
            no_sheet,
            entries=ENTRIES,
            judges=JUDGES,
        )
    return found


def _unpacked_within_bounds(data: bytes) -> None:
    """An .xlsx is a zip: a few kilobytes may unpack to gigabytes (a zip bomb). What it holds is
    measured from its directory before anything is unpacked, and refused past the bounds."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED:
            too_big = {"workbook": [N_("too large once unpacked")]}
            raise InvalidInput("the workbook is too large once unpacked", too_big)


def _rows(table: Any, columns: tuple[Column, ...]) -> list[tuple[int, dict[str, str]]]:
    lines = table.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    header = [_text(v).rstrip("*").strip() for v in next(lines, ())]
    missing = [c.header for c in columns if c.header not in header]
    if missing:
        lacking = {problem_key(table.title, 1): [text("column {column} is missing", column=m) for m in missing]}
        raise InvalidInput(
            "sheet {sheet} lacks the columns {columns}: use the template",
            lacking,
            sheet=table.title,
            columns="、".join(missing),
        )
    at = {c.header: header.index(c.header) for c in columns}
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(lines, start=2):
        if number > MAX_SCANNED:  # blank rows cost time too: a sheet of a million is refused, not read
            _too_many(table.title, number, MAX_SCANNED)
        cells = {h: _text(values[i]) if i < len(values) else "" for h, i in at.items()}
        if not any(cells.values()):
            continue  # a blank row between people is no one
        if len(rows) == MAX_ROWS:
            _too_many(table.title, number, MAX_ROWS)
        rows.append((number, cells))
    return rows


def _too_many(sheet: str, number: int, limit: int) -> NoReturn:
    too_many = {problem_key(sheet, number): [N_("too many rows")]}
    raise InvalidInput("sheet {sheet} has more than {limit} rows", too_many, sheet=sheet, limit=limit)


def _text(value: object) -> str:
    """A cell as the text the organiser sees: a phone number Excel stored as a number is its
    digits, not 13800138000.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())[:MAX_CELL]


class _Places:
    """The county's townships and villages by name (or code)."""

    def __init__(self, regions: list[dict], county: str) -> None:
        self.county = next((r["name"] for r in regions if r["code"] == county), county)
        self.townships = {r["code"]: r for r in regions if r["level"] == "township" and r["parent"] == county}
        self.villages = [r for r in regions if r["level"] == "village" and r["parent"] in self.townships]

    def township(self, text: str) -> dict | None:
        return next((t for t in self.townships.values() if text in (t["name"], t["code"])), None)

    def village(self, township: dict, text: str) -> dict | None:
        return next(
            (v for v in self.villages if v["parent"] == township["code"] and text in (v["name"], v["code"])), None
        )


def _entries(
    rows: list[tuple[int, dict[str, str]]],
    contest: dict,
    places: _Places,
    schema: type[Schema],
    problems: Problems,
) -> tuple[list[dict], list[int]]:
    ids = _Ids("E", 3, [e["entry_id"] for e in contest.get("entries", [])] + [r["参赛编号"] for _, r in rows])
    entries, numbers = [], []
    _twice(ENTRIES, rows, ("参赛编号",), problems)
    _twice(ENTRIES, rows, ("姓名", "乡镇（街道）", "村（社区）"), problems)
    for number, row in rows:
        report = _reporter(ENTRIES, number, problems)
        _required(ENTRY_COLUMNS, row, report)
        village = _village(row, places, report)
        entry_id = row["参赛编号"] or ids.next()
        record = {
            "entry_id": entry_id,
            "contestant_id": entry_id,  # one entry per contestant: the entry's number names the person here
            "name": row["姓名"],
            "village_code": village["code"] if village else "",
            "work_unit": row["职务或单位"],
            "title": row["汇报题目"],
            "phone": row["手机号"],
            "email": row["邮箱"],
        }
        _contact(row, report)
        entries.append(_validated(schema, record, ENTRY_COLUMNS, report, skip={"village_code", "phone"}))
        numbers.append(number)
    return entries, numbers


def _judges(
    rows: list[tuple[int, dict[str, str]]],
    contest: dict,
    new_entries: list[dict],
    places: _Places,
    schema: type[Schema],
    problems: Problems,
) -> tuple[list[dict], list[int]]:
    ids = _Ids("J", 2, [j["judge_id"] for j in contest.get("judges", [])] + [r["评委编号"] for _, r in rows])
    contestants = [*contest.get("entries", []), *new_entries]
    judges, numbers = [], []
    _twice(JUDGES, rows, ("评委编号",), problems)
    for number, row in rows:
        report = _reporter(JUDGES, number, problems)
        _required(JUDGE_COLUMNS, row, report)
        township = _township(row["所在乡镇（街道）"], places, report) if row["所在乡镇（街道）"] else None
        conflicts = []
        for named in filter(None, LIST_SEPARATORS.split(row["回避选手"])):
            matches = [e for e in contestants if named in (e["name"], e["entry_id"], e["contestant_id"])]
            if not matches:
                report(text("no contestant named {name}", name=named))
            elif len({m["contestant_id"] for m in matches}) > 1:
                report(
                    text(
                        "{count} contestants are named {name}: write the entry number instead",
                        count=len(matches),
                        name=named,
                    )
                )
            else:
                conflicts.append(matches[0]["contestant_id"])
        record = {
            "judge_id": row["评委编号"] or ids.next(),
            "name": row["姓名"],
            "work_unit": row["工作单位"],
            "township_code": township["code"] if township else None,
            "conflicts": conflicts,
            "phone": row["手机号"],
            "email": row["邮箱"],
        }
        _contact(row, report)
        judges.append(_validated(schema, record, JUDGE_COLUMNS, report, skip={"phone"}))
        numbers.append(number)
    return judges, numbers


def _reporter(sheet: str, number: int, problems: Problems):
    return lambda message: problems.add(sheet, number, message)


def _required(columns: Iterable[Column], row: dict[str, str], report) -> None:
    for column in columns:
        if column.required and not row[column.header]:
            report(text("{column} is required", column=column.header))


def _village(row: dict[str, str], places: _Places, report) -> dict | None:
    if not row["乡镇（街道）"] or not row["村（社区）"]:
        return None
    township = _township(row["乡镇（街道）"], places, report)
    if township is None:
        return None
    village = places.village(township, row["村（社区）"])
    if village is None:
        report(
            text(
                "no village or community named {village} in {township}",
                village=row["村（社区）"],
                township=township["name"],
            )
        )
    return village


def _township(name: str, places: _Places, report) -> dict | None:
    """The county's township called ``name``; None, and a problem reported, if it has none."""
    township = places.township(name)
    if township is None:
        report(text("no township named {township} in {county}", township=name, county=places.county))
    return township


def _contact(row: dict[str, str], report) -> None:
    if row["手机号"] and not PHONE.match(row["手机号"]):
        report(text("not a phone number: {phone}", phone=row["手机号"]))


def _twice(sheet: str, rows: list[tuple[int, dict[str, str]]], headers: tuple[str, ...], problems: Problems) -> None:
    """Rows that say the same of ``headers`` (all filled in): each is told the others."""
    seen: dict[tuple[str, ...], list[int]] = {}
    for number, row in rows:
        key = tuple(row[h] for h in headers)
        if all(key):
            seen.setdefault(key, []).append(number)
    for key, numbers in seen.items():
        for number in numbers if len(numbers) > 1 else ():
            others = ", ".join(str(n) for n in numbers if n != number)
            twice = text(
                "{columns} {values} is also in row {rows}", columns="/".join(headers), values=" ".join(key), rows=others
            )
            problems.add(sheet, number, twice)


def _validated(
    schema: type[Schema], record: dict, columns: tuple[Column, ...], report, skip: Iterable[str] = ()
) -> dict:
    """``record`` as the API's schema loads it; its messages named by the sheet's columns. A
    field already reported by the sheet's own checks (``skip``, a missing cell) is not again."""
    header_of = {c.field: c.header for c in columns} | RESOLVED
    try:
        loader = schema()
        return loader.dump(loader.load(record))
    except ValidationError as exc:
        for field, messages in exc.normalized_messages().items():
            header = header_of.get(field, field)
            if field in skip or (record.get(field) == "" and _is_required(columns, header)):
                continue
            for message in messages if isinstance(messages, list) else [str(messages)]:
                report(text("{column}: {problem}", column=header, problem=_said(message)))
        return record


def _said(message: Any) -> Said:
    """A schema's message as a value of ours: marshmallow's formatted English read back into
    its id and values (leitai/schema_messages.py), so that it is said in the reader's language."""
    if is_text(message):
        return message
    msgid, params = parsed(str(message))
    return text(msgid, **params)  # a Text, never a bare string: a value is said in the reader's language only so


def _is_required(columns: Iterable[Column], header: str) -> bool:
    return any(c.header == header and c.required for c in columns)


class _Ids:
    """Fresh ids with ``prefix`` and at least ``width`` digits, none of them ``taken``."""

    def __init__(self, prefix: str, width: int, taken: Iterable[str]) -> None:
        self.prefix, self.width, self.taken = prefix, width, set(taken)
        self.counter = 0

    def next(self) -> str:
        candidate = ""
        while not candidate or candidate in self.taken:
            self.counter += 1
            candidate = f"{self.prefix}{self.counter:0{self.width}d}"
        self.taken.add(candidate)
        return candidate
