"""Judge calibration (services/ranking/calibration.py) against values worked out by hand."""

from decimal import Decimal as D

from services.ranking.calibration import ScoredEntry, average_ranks, kendalls_w, report, spearman


def entry(entry_id: str, totals: dict, score: str, high=(), low=(), session="s1") -> ScoredEntry:
    return ScoredEntry(
        session, entry_id, {j: D(t) for j, t in totals.items()}, D(score), frozenset(high), frozenset(low)
    )


def test_tied_values_share_the_mean_of_their_ranks():
    assert average_ranks({"a": D(10), "b": D(10), "c": D(5), "d": D(12)}) == {
        "d": 1,
        "a": D("2.5"),
        "b": D("2.5"),
        "c": 4,
    }


def test_spearman_is_one_for_the_same_order_minus_one_for_the_reverse_and_none_when_undefined():
    up = {"a": D(1), "b": D(2), "c": D(3)}
    assert spearman(up, {"a": D(10), "b": D(20), "c": D(30)}) == "1.000"
    assert spearman(up, {"a": D(30), "b": D(20), "c": D(10)}) == "-1.000"
    assert spearman(up, {"a": D(5), "b": D(5), "c": D(5)}) is None and spearman({"a": D(1)}, {"a": D(1)}) is None
    # one swap among four: rho = 1 - 6*2/(4*15) = 0.8
    assert (
        spearman({"a": D(1), "b": D(2), "c": D(3), "d": D(4)}, {"a": D(1), "b": D(2), "c": D(4), "d": D(3)}) == "0.800"
    )


def test_kendalls_w_of_three_judges_ranking_three_entries():
    # ranks: J1 A1 B2 C3; J2 A1 B3 C2; J3 A2 B1 C3 -> sums 4, 6, 8; S = 8; W = 12*8 / (9*24) = 0.444
    totals = {
        "A": {"J1": D(30), "J2": D(30), "J3": D(20)},
        "B": {"J1": D(20), "J2": D(10), "J3": D(30)},
        "C": {"J1": D(10), "J2": D(20), "J3": D(10)},
    }
    assert kendalls_w(totals, ["J1", "J2", "J3"]) == {"panel_size": 3, "complete_entries": 3, "kendalls_w": "0.444"}
    same = {e: {j: D(t) for j in ("J1", "J2")} for e, t in (("A", 3), ("B", 2), ("C", 1))}
    assert kendalls_w(same, ["J1", "J2"])["kendalls_w"] == "1.000"
    # an entry one judge stood aside from is left out: W over the complete block only
    totals["D"] = {"J1": D(5), "J2": D(5)}
    assert kendalls_w(totals, ["J1", "J2", "J3"])["complete_entries"] == 3


def test_severity_spread_agreement_drops_and_flags_of_each_judge():
    entries = [
        entry("e1", {"J1": "80", "J2": "85", "J3": "90"}, "85.00", high=["J3"], low=["J1"]),
        entry("e2", {"J1": "70", "J2": "72", "J3": "71"}, "71.00", high=["J2"], low=["J1"]),
        entry("e3", {"J2": "60", "J3": "64"}, "62.00"),
    ]  # J1 stood aside
    calibration = report(entries, {"s1": ["J1", "J2", "J3"]}, {("s1", "J3"): 2})
    rows = {r["judge_id"]: r for r in calibration["judges"]}
    # J1: deviations -5 (median 85) and -1 (median 71): severity -3, spread 2
    assert rows["J1"] | {} == {
        "judge_id": "J1",
        "sheets": 2,
        "deviation_sum": "-6",
        "severity": "-3.0000",
        "spread": "2.0000",
        "agreement": "1.000",
        "dropped_high": 0,
        "dropped_low": 2,
        "flags": 0,
    }
    # J3: deviations 5, 0 (median 71), 2 (median of 60, 64 = 62): severity 7/3, spread sqrt(38/9)
    assert rows["J3"]["severity"] == "2.3333" and rows["J3"]["spread"] == "2.0548" and rows["J3"]["flags"] == 2
    assert rows["J2"]["deviation_sum"] == "-1" and rows["J2"]["dropped_high"] == 1
    (session,) = calibration["sessions"]
    assert (
        session["complete_entries"] == 2
        and session["kendalls_w"] is not None
        and len(session["judges"]) == 3
        and calibration["rounding"] == "ROUND_HALF_UP"
    )
