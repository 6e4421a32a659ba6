"""A stage's results and sheets as CSV and XLSX, with Chinese headers.

What a contestant, an organiser or a judge typed (names, townships, criteria) goes into a file
an organiser opens in Excel or WPS: it is written as text, never as a formula (OWASP's CSV
injection guidance). In CSV a text cell that begins with one of ``FORMULA_START`` gets a
leading ``'``; in XLSX every text cell is stored as a string, and such a cell is also marked
quote-prefixed, as Excel marks a cell typed with a leading ``'``, so that editing it later does
not turn it into a formula either. Numbers (scores, ranks, counts) stay numbers: a negative
score is a number, but the text "-1+2" is text.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from services.gateway.names import Names

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def as_text(value: object) -> object:
    """A CSV cell: text that a spreadsheet would take for a formula, with a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


RESULT_HEADERS = [
    "名次",
    "组内名次",
    "排序",
    "选手编号",
    "姓名",
    "乡镇",
    "分组",
    "最后得分",
    "是否晋级",
    "去掉最高分(评委)",
    "去掉最低分(评委)",
    "并列决胜依据",
]


def result_rows(export: dict, names: Names) -> list[list]:
    return [
        [
            r["rank"],
            r["group_rank"],
            r["position"],
            r["entry_id"],
            r["name"],
            names.township(r["township"]),
            names.group(r["group_id"]),
            Decimal(r["stage_score"]),
            "晋级" if r["advanced"] else "",
            "、".join(names.judge(j) for j in r["dropped_high"]),
            "、".join(names.judge(j) for j in r["dropped_low"]),
            names.decided_by(r["decided_by"]),
        ]
        for r in export["standings"]
    ]


def sheet_headers(export: dict) -> list[str]:
    criteria = [f"{c['name']}(满分{c['max']},权重{c['weight']})" for c in export["stage"]["criteria"]]
    return ["场次", "选手编号", "姓名", "评委", *criteria, "合计", "修订次数"]


def sheet_rows(export: dict, names: Names) -> list[list]:
    ids = [c["criterion_id"] for c in export["stage"]["criteria"]]
    return [
        [
            names.session(s["session_id"]),
            s["entry_id"],
            s["name"],
            names.judge(s["judge_id"]),
            *(Decimal(s["scores"][i]) for i in ids),
            Decimal(s["total"]),
            s["revision"],
        ]
        for s in export["sheets"]
    ]


CALIBRATION_HEADERS = [
    "场次",
    "评委",
    "评分表数",
    "偏差合计",
    "宽严度(平均偏差)",
    "离散度(标准差)",
    "与名次一致性(斯皮尔曼系数)",
    "被去掉最高分次数",
    "被去掉最低分次数",
    "分差提示次数",
    "本场评委组一致性(肯德尔系数)",
]


def calibration_rows(calibration: dict, names: Names) -> list[list]:
    """The stage's judges (场次 全阶段), then each session's, with its panel's Kendall's W."""

    def row(session: str, judge: dict, w: str | None) -> list:
        return [
            session,
            names.judge(judge["judge_id"]),
            judge["sheets"],
            Decimal(judge["deviation_sum"]),
            Decimal(judge["severity"]),
            Decimal(judge["spread"]),
            "" if judge["agreement"] is None else Decimal(judge["agreement"]),
            judge["dropped_high"],
            judge["dropped_low"],
            judge["flags"],
            "" if w is None else Decimal(w),
        ]

    rows = [row("全阶段", judge, None) for judge in calibration["judges"]]
    for session in calibration["sessions"]:
        name = names.session(session["session_id"])
        rows += [row(name, judge, session["kendalls_w"]) for judge in session["judges"]]
    return rows


def certificate_rows(certificate: dict) -> list[list]:
    """A published result's certificate (docs/audit.md), as label / value rows."""
    rows = [
        ["成绩校验指纹", certificate["fingerprint"]],
        ["成绩摘要(SHA-256)", certificate["standings_sha256"]],
        ["规则指纹(SHA-256)", certificate["rule_sha256"]],
        ["软件版本", certificate["software_version"]],
    ]
    rows += [
        [f"签名检查点({log})", checkpoint["size"], checkpoint["root"]]
        for log, checkpoint in certificate["checkpoints"].items()
    ]
    rows += [[f"签名检查点({log})", "待签名"] for log in certificate["pending"]]
    return rows


def to_csv(headers: list[str], rows: list[list], certificate: dict | None = None) -> bytes:
    """``certificate``: a published result's, written under the table after an empty row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([as_text(h) for h in headers])
    writer.writerows([[str(as_text(v)) for v in row] for row in rows])
    if certificate is not None:
        writer.writerow([])
        writer.writerows([[str(as_text(v)) for v in row] for row in certificate_rows(certificate)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the BOM lets Excel read the Chinese as UTF-8


def append(table: Worksheet, row: list) -> None:
    """``row`` at the end of ``table``, its text as text: openpyxl takes a string that begins
    with "=" for a formula (and "#N/A" for an error value) unless told it is a string."""
    table.append(row)
    for cell in table[table.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_START):
                cell.quotePrefix = True


def to_xlsx(export: dict, names: Names, certificate: dict | None = None, calibration: dict | None = None) -> bytes:
    book = Workbook()
    results = book.active
    assert results is not None  # a new workbook has one sheet, active
    results.title = "成绩"
    append(results, RESULT_HEADERS)
    for row in result_rows(export, names):
        append(results, row)
    sheets = book.create_sheet("评分表")
    append(sheets, sheet_headers(export))
    for row in sheet_rows(export, names):
        append(sheets, row)
    for table in (results, sheets):
        table.freeze_panes = "A2"
    if calibration is not None:
        judges = book.create_sheet("评委校准")
        append(judges, CALIBRATION_HEADERS)
        for row in calibration_rows(calibration, names):
            append(judges, row)
        judges.freeze_panes = "A2"
    if certificate is not None:
        proof = book.create_sheet("成绩证书")
        for row in certificate_rows(certificate):
            append(proof, row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
