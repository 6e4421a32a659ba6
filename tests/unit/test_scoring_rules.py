from decimal import Decimal as D

import pytest

from leitai.arithmetic import median, rounded_mean
from leitai.messages import formatted
from services.scoring.rules import Criterion, DropTier, aggregate, drop_counts, score_problems, sheet_total

CRITERIA = [Criterion("party", "讲党建", D(30), D(1), D("0.5")), Criterion("work", "讲工作", D(40), D("1.5"), D("0.5"))]
COMMON = [DropTier(1, 0, 0), DropTier(5, 1, 1)]


def test_the_sheet_total_is_the_weighted_sum():
    assert sheet_total(CRITERIA, {"party": D("28.5"), "work": D("30")}) == D("73.5")


@pytest.mark.parametrize(
    "scores, field, message",
    [
        ({"party": D("31"), "work": D(1)}, "scores.party", "between 0 and 30"),
        ({"party": D("-1"), "work": D(1)}, "scores.party", "between 0 and 30"),
        ({"party": D("10.25"), "work": D(1)}, "scores.party", "multiple of 0.5"),
        ({"party": D(1)}, "scores.work", "missing"),
        ({"party": D(1), "work": D(1), "style": D(1)}, "scores.style", "not a criterion"),
    ],
)
def test_a_bad_score_is_named_by_field(scores, field, message):
    problems = score_problems(CRITERIA, scores)
    assert message in " ".join(formatted(said["msgid"], said["params"]) for said in problems[field])
    named = {c.criterion_id: c.name for c in CRITERIA}.get(field.removeprefix("scores."))
    if named:  # a criterion of the stage: the message names it, in every language
        assert all(said["params"]["criterion"] == named for said in problems[field])


def test_a_good_sheet_has_no_problems():
    assert score_problems(CRITERIA, {"party": D(30), "work": D("0")}) == {}


@pytest.mark.parametrize("sheets, expected", [(1, (0, 0)), (3, (0, 0)), (4, (0, 0)), (5, (1, 1)), (7, (1, 1))])
def test_the_drop_rule_adapts_to_the_sheets_received(sheets, expected):
    assert drop_counts(COMMON, sheets) == expected


def test_diving_style_rule_drops_two_and_two_of_seven():
    assert drop_counts([DropTier(7, 2, 2), DropTier(5, 1, 1)], 7) == (2, 2)


def test_drop_highest_and_lowest_then_mean_rounded_half_up_once():
    totals = {"j1": D("90"), "j2": D("85.5"), "j3": D("88"), "j4": D("70"), "j5": D("87")}
    result = aggregate("e1", totals, COMMON)
    assert result.dropped_high == ("j1",) and result.dropped_low == ("j4",)
    assert (result.counted_sum, result.counted) == (D("260.5"), 3)
    assert result.stage_score == D("86.83")  # 86.8333…


def test_equal_totals_are_dropped_by_judge_id_and_the_score_is_unchanged():
    result = aggregate("e1", {"j5": D(80), "j2": D(80), "j3": D(80), "j4": D(80), "j1": D(80)}, COMMON)
    assert result.dropped_high == ("j5",) and result.dropped_low == ("j1",)
    assert result.stage_score == D("80.00")


@pytest.mark.parametrize(
    "counted_sum, counted, published",
    [
        (D("250.015"), 3, D("83.34")),  # 83.33833… -> up
        (D("0.01"), 8, D("0.00")),  # 0.00125
        (D("1.005"), 1, D("1.01")),  # exactly half a hundredth: half up
        (D("2.675"), 1, D("2.68")),  # where binary floats would give 2.67
        (D("100"), 3, D("33.33")),
    ],
)
def test_publication_rounds_the_exact_mean_half_up(counted_sum, counted, published):
    assert rounded_mean(counted_sum, counted) == published


def test_median_is_exact():
    assert median([D(1), D(4), D(2), D(3)]) == D("2.5")
    assert median([D(5), D(1), D(3)]) == D(3)
