"""The roster workbook: the template an organiser fills in, and reading it back (pure: no I/O)."""

import io
import re
import zipfile

import pytest
from openpyxl import load_workbook

from leitai.errors import InvalidInput, RuleViolated
from leitai.i18n import SOURCE_LANGUAGE, Translator, catalogues
from services.gateway import roster
from services.gateway.schemas import EntryCreate, JudgeCreate

REGIONS = [
    {"code": "lufeng", "name": "陆丰市", "level": "county", "parent": None},
    {"code": "dongh", "name": "东海街道", "level": "township", "parent": "lufeng"},
    {"code": "jies", "name": "碣石镇", "level": "township", "parent": "lufeng"},
    {"code": "dongh-1", "name": "东海社区", "level": "village", "parent": "dongh"},
    {"code": "jies-1", "name": "碣石村", "level": "village", "parent": "jies"},
    {"code": "jies-2", "name": "东海社区", "level": "village", "parent": "jies"},  # a name two townships share
]
ENGLISH, CHINESE = Translator(catalogues(), SOURCE_LANGUAGE), Translator(catalogues(), "zh_CN")
CONTEST = {"contest_id": "c", "name": "陆丰市擂台比武", "county_code": "lufeng", "judges": [], "entries": []}


def filled(entries: list[list], judges: list[list], drop: str | None = None) -> bytes:
    """The contest's own template with these rows typed in (``drop``: a column deleted)."""
    book = load_workbook(io.BytesIO(roster.template(CONTEST, REGIONS)))
    for sheet, rows in ((roster.ENTRIES, entries), (roster.JUDGES, judges)):
        for row in rows:
            book[sheet].append(row)
    if drop:
        for sheet in (roster.ENTRIES, roster.JUDGES):
            header = [c.value for c in book[sheet][1]]
            if drop in header:
                book[sheet].delete_cols(header.index(drop) + 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read(data: bytes, contest: dict = CONTEST) -> roster.Roster:
    return roster.read(data, contest, REGIONS, JudgeCreate, EntryCreate)


def test_the_template_guides_with_the_countys_townships_and_villages_by_name():
    book = load_workbook(io.BytesIO(roster.template(CONTEST, REGIONS)))
    assert book.sheetnames == [roster.GUIDE, roster.ENTRIES, roster.JUDGES]
    assert [c.value for c in book[roster.ENTRIES][1]][:3] == ["姓名*", "乡镇（街道）*", "村（社区）*"]
    guide = [[c for c in row if c] for row in book[roster.GUIDE].iter_rows(values_only=True)]
    assert ["东海街道", "东海社区"] in guide and ["碣石镇", "碣石村、东海社区"] in guide


def test_a_filled_in_sheet_reads_as_judges_and_entries_with_codes_and_fresh_ids():
    data = filled(
        [
            ["王海", "东海街道", "东海社区", "书记", "抓党建促振兴", 13800138000, "", ""],
            ["李兰", "碣石镇", "东海社区", "", "网格治理", "", "li@example.cn", "E007"],
        ],
        [["陈明", "市委组织部", "东海街道", "王海、E007", "0660-3312345", "", ""], ["林芳", "", "", "", "", "", "J01"]],
    )
    sheet = read(data)
    assert [(e["entry_id"], e["contestant_id"], e["village_code"]) for e in sheet.entries] == [
        ("E001", "E001", "dongh-1"),
        ("E007", "E007", "jies-2"),  # the township tells the two 东海社区 apart
    ]
    assert sheet.entries[0]["phone"] == "13800138000"  # Excel's number, as its digits
    assert [(j["judge_id"], j["township_code"], j["conflicts"]) for j in sheet.judges] == [
        ("J02", "dongh", ["E001", "E007"]),  # J01 is the sheet's own
        ("J01", None, []),
    ]
    assert sheet.entry_rows == [2, 3] and sheet.judge_rows == [2, 3]


def test_every_bad_row_is_listed_by_sheet_and_row_and_nothing_is_read():
    data = filled(
        [
            ["王海", "东海街道", "东海社区", "", "题目", "12345", "", "E1"],
            ["", "东海街道", "东海社区", "", "题目", "", "", ""],
            ["李兰", "甲子镇", "某村", "", "题目", "", "", "E1"],
            ["张三", "碣石镇", "西村", "", "题目", "", "not-mail", ""],
        ],
        [["陈明", "", "南塘镇", "赵六", "", "", "J 1"]],
    )
    with pytest.raises(InvalidInput) as refused:
        read(data)
    rows = ENGLISH.fields(refused.value.details)
    assert "5 rows of the workbook have problems; nothing was imported" == refused.value.message
    assert rows["选手:2"] == ["参赛编号 E1 is also in row 4", "not a phone number: 12345"]
    assert rows["选手:3"] == ["姓名 is required"]
    assert rows["选手:4"] == ["参赛编号 E1 is also in row 2", "no township named 甲子镇 in 陆丰市"]
    assert rows["选手:5"][0] == "no village or community named 西村 in 碣石镇"
    assert rows["选手:5"][1].startswith("邮箱: ")
    assert rows["评委:2"][:2] == ["no township named 南塘镇 in 陆丰市", "no contestant named 赵六"]
    assert rows["评委:2"][2].startswith("评委编号: ")
    chinese = CHINESE.fields(refused.value.details)  # what the organiser reads
    assert chinese["选手:4"] == ["参赛编号“E1”与第 2 行重复", "陆丰市没有名为“甲子镇”的乡镇（街道）"]
    assert chinese["选手:3"] == ["“姓名”必须填写"]
    assert chinese["选手:5"][1].startswith("“邮箱”：") and not re.search("[A-Za-z]{3,}", chinese["选手:5"][1])


def test_a_missing_column_or_a_file_that_is_no_workbook_says_so():
    with pytest.raises(InvalidInput) as refused:
        read(filled([["王海", "东海街道", "东海社区", "", "题目"]], [], drop="汇报题目*"))
    assert ENGLISH.fields(refused.value.details) == {"选手:1": ["column 汇报题目 is missing"]}
    with pytest.raises(InvalidInput, match="not an Excel workbook"):
        read(b"name,township\n")
    with pytest.raises(InvalidInput, match="not base64"):
        roster.decode("not base64!")


def test_the_services_refusal_by_record_comes_back_by_sheet_row():
    sheet = read(filled([[], ["王海", "东海街道", "东海社区", "", "题目"]], [["陈明"]]))
    refused = roster.refused_rows(
        RuleViolated("2 rows have problems", {"entries": {"0": ["entry E001 exists already"]}, "judges": {"0": ["x"]}}),
        sheet,
    )
    assert isinstance(refused, InvalidInput)
    assert ENGLISH.fields(refused.details) == {"评委:2": ["x"], "选手:3": ["entry E001 exists already"]}  # blank row 2
    other = RuleViolated("define the first stage before registering entries")
    assert roster.refused_rows(other, sheet) is other


def test_a_zip_bomb_or_a_sheet_of_endless_blank_rows_is_refused_before_it_is_read():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"<a>" + b" " * (roster.MAX_UNPACKED + 1) + b"</a>")
    assert len(bomb.getvalue()) < 100_000  # small on the wire
    with pytest.raises(InvalidInput, match="too large once unpacked"):
        read(bomb.getvalue())
    book = load_workbook(io.BytesIO(roster.template(CONTEST, REGIONS)))
    book[roster.ENTRIES].cell(row=roster.MAX_SCANNED + 5, column=1, value="王海")  # far below a sea of blanks
    endless = io.BytesIO()
    book.save(endless)
    with pytest.raises(InvalidInput, match="more than 20000 rows"):
        read(endless.getvalue())
