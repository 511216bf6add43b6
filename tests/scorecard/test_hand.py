"""The national service index on a hand-built data set: every indicator, group and total computed by hand here,
then compared with what the rollup path (``gather`` + ``scoring``, through ``service.scorecard``) and the pure
reference path (``direct``) give.

Calendar: June and July 2025 have no holidays; Mon 2, 9, 16, 23, 30 June. "Now" is 2025-07-15 12:00 in Cà Mau.
Units U1 (commune, ward W1), U2 (commune, W2), U3 (department, W3); districts D1 = {W1, W2}, D2 = {W3}.

Procedures (f = fees, p = paper result, e = eligible for full online, c = citizen-facing):

    PA 2d  e f c   decision 06-02, effective 06-16 (2+5bd = 06-09: on time), public 06-05 (<= 06-09), 7 parts
    PB 5d  e p c   decision 06-10, effective 06-13 (10+5bd = 06-17: late),   public 06-20 (> 06-17), 6 parts
    PC 0d  p f     decision 05-20, public 05-22, 7 parts
    PD 3d  f c     no publication data (in the catalogue, not "public")
    PE 1d  f       decision 07-01, effective 07-15 (on time), public 07-10 (> 07-08: late), 7 parts

June catalogue: 1.1 = PA/{PA,PB} = 1/2; 1.2 = 1/2; 1.3 = {PA,PC}/{PA,PB,PC} = 2/3; procedures with fees in the
catalogue on 06-30 = {PA,PC,PD} (PE is public only from 07-10); citizen-facing = {PA,PB,PD}.

Dossiers (received, due, what happened):

    d1  U1 PA full    06-02  due 06-04  synced, digitised, fee paid 06-02, population; granted 06-03 (on time)
    d2  U1 PB full    06-03  due 06-10  digitised; supplement 06-05 10:00 -> 06-09 10:00 (4 days); granted with
                                        e-result 06-12 10:00 (minus 4 days = 06-08: on time); result synced;
                                        rated unsatisfied 07-02 (after June)
    d3  U1 PB full    06-25  due 07-02  digitised; granted with e-result 07-03 (late; after June)
    d4  U1 PC counter 06-05  due 06-05  fee due (not paid), reused data, personal store; refused 06-06 (late)
    d5  U1 PD postal  06-27  due 07-02  fee due, paid 07-01, population; open
    d6  U2 PA partial 06-09  due 06-11  fee due; two supplement requests (late); granted 06-16; complaint 06-17
    d7  U2 PA full    06-30  due 07-02  open; supplement asked 07-01, not received (the clock stands at 07-01)
    d8  U3 PD counter 06-17  due 06-20  withdrawn 06-18 (on time)
    d9  U3 PD counter 05-20  due 05-23  fee due; open until granted 07-08 (late)
    d10 U3 PB full    06-20  due 06-27  digitised; granted 06-26 without an e-result; rated satisfied

Petitions (due = received + 15 business days), all of U2: p1 05 06-02 (due 06-23) handled 06-20, satisfied;
p2 06-09 (due 06-30) handled 07-03, unsatisfied 07-04; p3 05-05 (due 05-26) handled 06-02, unsatisfied 06-03.
Electronic certified copies: U1 since 01-01; U2 from 06-15 to 07-04; U3 never.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import pytest

from ops_center.db import Conn
from ops_center.scorecard import direct, service
from ops_center.scorecard.periods import Period
from tests.scorecard.conftest import universe
from tests.scorecard.data import CAL

POINTS = {"1.1": 6, "1.2": 4, "1.3": 2, "1.4": 6, "2.1": 20, "3.1": 12, "3.2": 2, "3.3": 2, "3.4": 6, "4.1": 6,
          "4.2": 4, "4.3": 2, "4.4": 2, "4.5": 4, "4.6": 2, "4.7": 2, "5.1": 6, "5.2": 6, "5.3": 6}
THRESHOLD = {"3.1": Fraction(1, 2), "3.2": Fraction(4, 5), "3.3": Fraction(4, 5), "4.2": Fraction(4, 5),
             "4.4": Fraction(4, 5), "5.3": Fraction(9, 10)}
GROUP_OF = {i: i[0] for i in POINTS}
JUNE = Period(date(2025, 6, 1), date(2025, 7, 1))
JULY_TO_DATE = Period(date(2025, 7, 1), date(2025, 7, 16))
CATALOGUE_JUNE = {"1.1": (1, 2), "1.2": (1, 2), "1.3": (2, 3)}

# (numerator, denominator) by hand, June 2025
U1 = {**CATALOGUE_JUNE,
      "1.4": (1, 5),  # d1 synced, of d1..d5
      "2.1": (4, 5),  # d1, d2 (supplement time subtracted), d3 and d5 open in time; d4 refused late
      "3.1": (2, 3),  # of d1, d2, d3 (eligible): d1; d2 paper with e-result by 06-30; not d3 (e-result 07-03)
      "3.2": (3, 3),  # PA (d1), PC (d4), PD (d5) had a fee-due dossier; of PA, PC, PD
      "3.3": (1, 3),  # paid in June: PA (d1); d5 paid in July
      "3.4": (2, 3),  # fee due d1, d4, d5; paid d1, d5
      "4.1": (1, 1),  # granted in June, paper result: d2, with an e-result
      "4.2": (2, 5),  # d1 digitised; d2 digitised + e-result; d3 not (e-result after June)
      "4.3": (1, 1),
      "4.4": (1, 5),  # d4
      "4.5": (2, 5),  # d2 result synced, d4 from the personal store
      "4.6": (2, 5),  # d1, d5
      "4.7": (2, 3),  # PA, PD of PA, PB, PD
      "5.1": (0, 0), "5.2": (0, 0),
      "5.3": (2, 2)}  # granted d1, d2; none late; d2's bad rating came after June
U2 = {**CATALOGUE_JUNE, "1.4": (0, 2), "2.1": (1, 2), "3.1": (1, 2), "3.2": (1, 3), "3.3": (0, 3), "3.4": (0, 1),
      "4.1": (0, 0), "4.2": (0, 2), "4.3": (1, 1), "4.4": (0, 2), "4.5": (0, 2), "4.6": (0, 2), "4.7": (0, 3),
      "5.1": (2, 3),  # p1 on time, p2 open in time (due 06-30), p3 late
      "5.2": (1, 2),  # rated in June: p1 satisfied, p3 unsatisfied
      "5.3": (0, 1)}  # d6 late and complained: 1 - (1 + 1) < 0 -> 0
U3 = {**CATALOGUE_JUNE, "1.4": (0, 2), "2.1": (2, 3), "3.1": (0, 1), "3.2": (0, 3), "3.3": (0, 3), "3.4": (0, 0),
      "4.1": (0, 1), "4.2": (0, 2), "4.3": (0, 1), "4.4": (0, 2), "4.5": (0, 2), "4.6": (0, 2), "4.7": (0, 3),
      "5.1": (0, 0), "5.2": (0, 0), "5.3": (1, 1)}  # d9 open and late at the end of June counts in 2.1
PROVINCE = {**CATALOGUE_JUNE, "1.4": (1, 9), "2.1": (7, 10), "3.1": (3, 6), "3.2": (3, 3), "3.3": (1, 3),
            "3.4": (2, 4), "4.1": (1, 2), "4.2": (2, 9), "4.3": (2, 3), "4.4": (1, 9), "4.5": (2, 9),
            "4.6": (2, 9), "4.7": (2, 3), "5.1": (2, 3), "5.2": (1, 2),
            "5.3": (2, 4)}  # granted d1, d2, d6, d10; late d6; unsatisfied d6
D1 = {**CATALOGUE_JUNE, "1.4": (1, 7), "2.1": (5, 7), "3.1": (3, 5), "3.2": (3, 3), "3.3": (1, 3), "3.4": (2, 4),
      "4.1": (1, 1), "4.2": (2, 7), "4.3": (2, 2), "4.4": (1, 7), "4.5": (2, 7), "4.6": (2, 7), "4.7": (2, 3),
      "5.1": (2, 3), "5.2": (1, 2), "5.3": (1, 3)}

# Scores by hand: points x ratio, or points x min(1, ratio / threshold)
U1_SCORES = {"1.1": Fraction(3), "1.2": Fraction(2), "1.3": Fraction(4, 3), "1.4": Fraction(6, 5),
             "2.1": Fraction(16), "3.1": Fraction(12), "3.2": Fraction(2), "3.3": Fraction(5, 6),
             "3.4": Fraction(4), "4.1": Fraction(6), "4.2": Fraction(2), "4.3": Fraction(2),
             "4.4": Fraction(1, 2), "4.5": Fraction(8, 5), "4.6": Fraction(4, 5), "4.7": Fraction(4, 3),
             "5.3": Fraction(6)}
U1_GROUPS = {"1": (Fraction(113, 15), 18), "2": (Fraction(16), 20), "3": (Fraction(113, 6), 22),
             "4": (Fraction(427, 30), 22), "5": (Fraction(6), 6)}
U1_TOTAL = (Fraction(313, 5), 88)  # 62.6 of 88 available -> 71.14 of 100
U2_GROUPS = {"1": (Fraction(19, 3), 18), "2": (Fraction(10), 20), "3": (Fraction(77, 6), 22), "4": (Fraction(2), 16),
             "5": (Fraction(7), 18)}
U2_TOTAL = (Fraction(229, 6), 94)
U3_GROUPS = {"1": (Fraction(19, 3), 18), "2": (Fraction(40, 3), 20), "3": (Fraction(0), 16), "4": (Fraction(0), 22),
             "5": (Fraction(6), 6)}
U3_TOTAL = (Fraction(77, 3), 82)
PROVINCE_GROUPS = {"1": (Fraction(7), 18), "2": (Fraction(14), 20), "3": (Fraction(107, 6), 22),
                   "4": (Fraction(151, 18), 22), "5": (Fraction(31, 3), 18)}
PROVINCE_TOTAL = (Fraction(518, 9), 100)  # 57.56


def hand_score(ind: str, num: int, den: int) -> Fraction | None:
    if den == 0:
        return None
    ratio = Fraction(num, den)
    if ind in THRESHOLD:
        return POINTS[ind] * min(Fraction(1), ratio / THRESHOLD[ind])
    return POINTS[ind] * ratio


def by_code(items: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {i["code"]: i for i in items}


def check_item(item: dict[str, Any], counts: dict[str, tuple[int, int]], groups: dict[str, tuple[Fraction, int]],
               total: tuple[Fraction, int]) -> None:
    got = {i["id"]: (i["numerator"], i["denominator"]) for i in item["indicators"]}
    assert got == counts
    for row in item["indicators"]:
        num, den = counts[row["id"]]
        score = hand_score(row["id"], num, den)
        assert row["ratio"] == (None if den == 0 else round(num / den, 4))
        assert row["score"] == (None if score is None else round(float(score), 2)), row["id"]
    # the group sums are the hand sums of the unrounded scores
    for gid, (earned, available) in groups.items():
        mine = [hand_score(i, *counts[i]) for i in counts if GROUP_OF[i] == gid]
        assert sum(s for s in mine if s is not None) == earned, gid
        assert sum(POINTS[i] for i in counts if GROUP_OF[i] == gid and counts[i][1]) == available, gid
    got_groups = {g["id"]: (g["earned"], g["available"]) for g in item["groups"]}
    assert got_groups == {g: (round(float(e), 2), float(a)) for g, (e, a) in groups.items()}
    earned, available = total
    assert sum(e for e, _ in groups.values()) == earned
    assert item["total"] == {"points": 100.0, "earned": round(float(earned), 2), "available": float(available),
                             "scaled": round(float(earned / available * 100), 2)}


def test_units_in_june(sdb: Conn) -> None:
    items = by_code(service.scorecard(sdb, "unit", "month", JUNE, CAL))
    assert set(items) == {"U1", "U2", "U3"}
    check_item(items["U1"], U1, U1_GROUPS, U1_TOTAL)
    check_item(items["U2"], U2, U2_GROUPS, U2_TOTAL)
    check_item(items["U3"], U3, U3_GROUPS, U3_TOTAL)
    assert items["U1"]["total"]["scaled"] == 71.14 and items["U1"]["name"] == "UBND xã Tân Lộc"
    assert items["U1"]["indicators"][-1]["parts"] == {"late": 0, "unsatisfied": 0}
    assert items["U2"]["indicators"][-1]["parts"] == {"late": 1, "unsatisfied": 1}


def test_province_in_june(sdb: Conn) -> None:
    (item,) = service.scorecard(sdb, "province", "month", JUNE, CAL)
    check_item(item, PROVINCE, PROVINCE_GROUPS, PROVINCE_TOTAL)
    assert item["total"]["scaled"] == 57.56 and item["definition"] == "2022.1"


def test_wards_and_districts_in_june(sdb: Conn) -> None:
    wards = by_code(service.scorecard(sdb, "ward", "month", JUNE, CAL))
    assert {c: {i["id"]: (i["numerator"], i["denominator"]) for i in w["indicators"]} for c, w in wards.items()} \
        == {"W1": U1, "W2": U2, "W3": U3}
    assert wards["W1"]["set"] == "sc-2019" and wards["W1"]["name"] == "Xã Tân Lộc"
    districts = by_code(service.scorecard(sdb, "district", "month", JUNE, CAL))
    assert {i["id"]: (i["numerator"], i["denominator"]) for i in districts["D1"]["indicators"]} == D1
    assert {i["id"]: (i["numerator"], i["denominator"]) for i in districts["D2"]["indicators"]} == U3


def test_july_to_date_stocks_and_results_after_the_period(sdb: Conn) -> None:
    """July (to the 15th): d5 open past due, d7 open with its clock stopped, d3 and d9 ended late; U2 lost its
    certified copies on 07-05; PE joined the catalogue."""
    items = by_code(service.scorecard(sdb, "unit", "month", JULY_TO_DATE, CAL))
    got = {c: {i["id"]: (i["numerator"], i["denominator"]) for i in it["indicators"]} for c, it in items.items()}
    catalogue = {"1.1": (1, 1), "1.2": (0, 1), "1.3": (3, 4)}
    nothing_received = {k: (0, 0) for k in ("1.4", "3.1", "3.4", "4.2", "4.4", "4.5", "4.6")}
    assert got["U1"] == {**catalogue, **nothing_received, "2.1": (0, 2), "3.2": (0, 4), "3.3": (1, 4),
                         "4.1": (1, 1), "4.3": (1, 1), "4.7": (0, 3), "5.1": (0, 0), "5.2": (0, 0), "5.3": (0, 1)}
    assert got["U2"] == {**catalogue, **nothing_received, "2.1": (1, 1), "3.2": (0, 4), "3.3": (0, 4),
                         "4.1": (0, 0), "4.3": (0, 1), "4.7": (0, 3), "5.1": (0, 1), "5.2": (0, 1), "5.3": (0, 0)}
    assert got["U3"] == {**catalogue, **nothing_received, "2.1": (0, 1), "3.2": (0, 4), "3.3": (0, 4),
                         "4.1": (0, 0), "4.3": (0, 1), "4.7": (0, 3), "5.1": (0, 0), "5.2": (0, 0), "5.3": (0, 1)}


def test_a_range_sees_results_and_ratings_that_came_after_june(sdb: Conn) -> None:
    """1 June – 15 July as one period: d3's e-result (07-03) and d2's rating (07-02) are now in."""
    (item,) = service.scorecard(sdb, "province", "range", Period(date(2025, 6, 1), date(2025, 7, 16)), CAL)
    got = {i["id"]: (i["numerator"], i["denominator"]) for i in item["indicators"]}
    assert got["2.1"] == (5, 10)  # ended d1 d2 d8 d10 on time, d3 d4 d6 d9 late; open d7 in time, d5 late
    assert got["3.1"] == (4, 6)  # d1 d2 d3 d7 of d1 d2 d3 d6 d7 d10
    assert got["4.2"] == (3, 9)  # d1 d2 d3
    assert got["5.3"] == (1, 6)  # granted d1 d2 d3 d6 d9 d10; late d3 d6 d9; unsatisfied d2 d6
    assert next(i for i in item["indicators"] if i["id"] == "5.3")["parts"] == {"late": 3, "unsatisfied": 2}


@pytest.mark.parametrize("level", ["unit", "ward", "district", "province"])
def test_the_pure_path_gives_the_hand_figures(sdb: Conn, level: str) -> None:
    counts = direct.counts(universe(sdb, level), [JUNE], level)
    expected = {"unit": {"U1": U1, "U2": U2, "U3": U3}, "ward": {"W1": U1, "W2": U2, "W3": U3},
                "district": {"D1": D1, "D2": U3}, "province": {"province": PROVINCE}}[level]
    assert {k[2]: {i: (c.numerator, c.denominator) for i, c in v.items()} for k, v in counts.items()} == expected
