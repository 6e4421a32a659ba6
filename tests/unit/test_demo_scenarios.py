"""The demo's data and its terminal tables: pure code, no servers."""

from decimal import Decimal

from composition.cli import build_parser
from composition.demo import boai, qidong
from composition.demo.scored import Scores
from composition.demo.tables import table, width


def test_tables_line_up_chinese_text():
    lines = table(
        ["名次", "选手", "得分"], [[1, "石鹏", "92.44"], [12, "欧阳建国", "100.00"]], right=(0, 2)
    ).splitlines()
    assert len({width(line) for line in lines}) == 1
    assert width("乡镇（街道）") == 12 and width("92.44") == 5


def test_the_boai_county_has_206_contestants_and_panels_that_respect_recusal():
    county = boai.contest("2021")
    assert len(county.entries) == 206 and len({e["name"] for e in county.entries}) == 206
    township_of = {j.judge_id: j.township_code for j in county.judges}
    prelim, semi, final = county.stages
    for session in prelim.sessions:  # organisers seat no judge from the township itself
        home = session.group_id.removeprefix("g-")
        assert home not in {township_of[j] for j in session.judges + session.reserves}
        assert len(session.judges) == prelim.definition["panel_size"]
    for session in semi.sessions:  # three township secretaries sit, and stand aside for their own
        assert sum(1 for j in session.judges if township_of[j]) == 3 and len(session.reserves) == 2
    assert final.definition["advancement"] == {"overall": 1, "tiebreak": boai.TIEBREAK}


def test_scores_come_from_the_seed_alone_and_fit_each_criterion():
    entry = {"entry_id": "e-boshan-01", "contestant_id": "c-boshan-01"}
    sheet = Scores("2021").sheet("prelim", entry, "J01", True, boai.CRITERIA)
    assert sheet == Scores("2021").sheet("prelim", entry, "J01", True, boai.CRITERIA)
    assert sheet != Scores("2022").sheet("prelim", entry, "J01", True, boai.CRITERIA)
    for criterion in boai.CRITERIA:
        value = Decimal(sheet["scores"][criterion["criterion_id"]])
        assert 0 <= value <= Decimal(criterion["max"]) and value % Decimal(criterion["step"]) == 0
    assert sheet["strengths"] and sheet["suggestions"]  # the head judge always comments


def test_qidong_scores_five_paired_criteria_with_weights_summing_to_a_hundred_points():
    (stage,) = qidong.contest("2021").stages
    criteria = stage.definition["criteria"]
    assert [c["name"][:2] for c in criteria] == ["比站", "比思", "比落", "比服", "比贡"]
    assert sum(Decimal(c["max"]) * Decimal(c["weight"]) for c in criteria) == 100


def test_leitai_demo_hands_its_arguments_to_the_demo():
    args = build_parser().parse_args(["demo", "qidong", "--seed", "7"])
    assert args.demo_args == ["qidong", "--seed", "7"]
