import hashlib
import random
from decimal import Decimal as D
from fractions import Fraction

from services.ranking.standings import Result, standings

CHAIN = [{"kind": "median_total"}, {"kind": "criterion", "criterion_id": "work"}, {"kind": "lot"}]


def result(entry, score, group="g1", totals=(80, 80, 80), work=Fraction(30)):
    return Result(entry, f"c-{entry}", entry, group, D(score), tuple(D(t) for t in totals), {"work": work})


def test_standard_competition_ranking_and_the_chain_orders_the_tied():
    table = standings(
        [
            result("a", "90"),
            result("b", "85", totals=(80, 84, 90)),
            result("c", "85", totals=(80, 82, 90)),
            result("d", "70"),
        ],
        {"per_group": 2, "tiebreak": CHAIN},
        "seed",
    )
    assert [(s.result.entry_id, s.rank, s.advanced) for s in table] == [
        ("a", 1, True),
        ("b", 2, True),
        ("c", 2, False),
        ("d", 4, False),
    ]
    assert table[2].decided_by == "median_total"


def test_a_tie_exactly_at_the_cut_off_falls_through_the_chain_to_the_criterion_then_the_lot():
    by_criterion = standings(
        [result("x", "85", work=Fraction(31)), result("y", "85", work=Fraction(32))],
        {"per_group": 1, "tiebreak": CHAIN},
        "seed",
    )
    assert [s.result.entry_id for s in by_criterion if s.advanced] == ["y"]
    assert by_criterion[1].decided_by == "criterion:work"

    by_lot = standings([result("x", "85"), result("y", "85")], {"per_group": 1, "tiebreak": CHAIN}, "seed")
    winner = min("xy", key=lambda e: hashlib.sha256(f"seed:{e}".encode()).hexdigest())
    assert [s.result.entry_id for s in by_lot if s.advanced] == [winner] and by_lot[1].decided_by == "lot"


def test_all_tied_at_the_cut_off_advance_when_the_stage_says_so():
    table = standings(
        [result("a", "90"), result("b", "85"), result("c", "85")],
        {"per_group": 2, "on_tie": "all_advance", "tiebreak": CHAIN},
        "seed",
    )
    assert [s.advanced for s in table] == [True, True, True]


def test_per_group_then_overall_wildcards():
    results = [
        result("a1", "95", "g1"),
        result("a2", "94", "g1"),
        result("a3", "70", "g1"),
        result("b1", "80", "g2"),
        result("b2", "60", "g2"),
    ]
    table = standings(results, {"per_group": 1, "overall": 2, "tiebreak": CHAIN}, "seed")
    advanced = sorted(s.result.entry_id for s in table if s.advanced)
    assert advanced == ["a1", "a2", "a3", "b1"]
    assert {s.result.entry_id: s.group_rank for s in table} == {"a1": 1, "a2": 2, "a3": 3, "b1": 1, "b2": 2}


def test_the_order_does_not_depend_on_the_order_results_arrive_in():
    results = [result(f"e{n}", str(80 + n % 4), totals=(80, 80 + n % 3, 90)) for n in range(20)]
    expected = standings(results, {"per_group": 5, "tiebreak": CHAIN}, "seed")
    for attempt in range(10):
        shuffled = results[:]
        random.Random(attempt).shuffle(shuffled)
        assert standings(shuffled, {"per_group": 5, "tiebreak": CHAIN}, "seed") == expected
