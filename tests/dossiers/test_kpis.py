"""KPI arithmetic on a small hand-made data set with known answers: every KPI at every level (unit, ward, district,
province) and period (day, month, year), in a database of its own so the province totals are exactly ours.

The data set (Cà Mau-like, two boundary sets: kpi-2019 with districts D1 = {W1, W2}, D2 = {W3}, in force to
2025-06-30; kpi-2025 with ward X1 and no districts, from 2025-07-01). Procedures: PA 2 business days, offered by
post; PB 5 days, not offered by post; PC 0 days. "Now" is 2025-07-15 12:00 in Cà Mau.

    dossier unit ward proc channel   received     due          resolved           returned
    d1      U1   W1   PA   online_l4 Mon 06-02    Wed 06-04    06-04 (on time)    06-05 postal
    d2      U1   W1   PA   postal    Mon 06-02    Wed 06-04    06-05 (late)       06-06 counter
    d3      U1   W2   PB   counter   Tue 06-03    Tue 06-10    -  (overdue)       -
    d4      U2   W3   PA   online_l3 Fri 06-06    Tue 06-10    06-10 (on time)    06-11 postal
    d5      U2   W3   PC   counter   Mon 06-30    Mon 06-30    07-01 (late)       -
    d6      U3   X1   PA   online_l4 Wed 07-02    Fri 07-04    07-03 (on time)    07-04 postal
    d7      U3   X1   PB   postal    Thu 07-03    Thu 07-10    -  (overdue)       -
    d8      U3   X1   PB   counter   Mon 07-14    Mon 07-21    -  (open)          -
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

import pytest

from ops_center.db import Conn
from ops_center.dossiers import kpis, rollup
from tests.dossiers.kpi_data import NOW

JUNE, JULY, YEAR_END = date(2025, 6, 1), date(2025, 7, 1), date(2026, 1, 1)


def F(n: int, d: int) -> float:
    return float(Fraction(n, d))


def expect(received: tuple[int, int, int, int], resolved: int, on_time: int, open_overdue: int,
           post_offered: int, returned_postal: int, returned_offered: int) -> dict[str, Any]:
    l3, l4, counter, postal = received
    total = sum(received)
    return {
        "received": {"online_l3": l3, "online_l4": l4, "counter": counter, "postal": postal, "total": total},
        "resolved": resolved,
        "resolved_on_time": on_time,
        "on_time_rate": F(on_time, resolved) if resolved else None,
        "open_overdue": open_overdue,
        "online_share": F(l3 + l4, total) if total else None,
        "postal_receive_share": F(postal, post_offered) if post_offered else None,
        "postal_return_share": F(returned_postal, returned_offered) if returned_offered else None,
    }


def table(items: list[dict[str, Any]]) -> dict[tuple[Any, str], dict[str, Any]]:
    keys = ("received", "resolved", "resolved_on_time", "on_time_rate", "open_overdue", "online_share",
            "postal_receive_share", "postal_return_share")
    return {(i["code"], i["period_start"]): {k: i[k] for k in keys} for i in items}


def compute(conn: Conn, level: str, period: str, start: date = JUNE, end: date = YEAR_END) -> list[dict[str, Any]]:
    return kpis.compute(conn, level, period, start, end, now=NOW)


def test_province_by_month(kdb: Conn) -> None:
    got = table(compute(kdb, "province", "month"))
    assert got == {
        ("province", "2025-06-01"): expect((1, 1, 2, 1), 3, 2, 2, 3, 2, 3),
        ("province", "2025-07-01"): expect((0, 1, 1, 1), 2, 1, 2, 2, 1, 1),
    }
    item = compute(kdb, "province", "month")[0]
    assert item["name"] == "UBND tỉnh Cà Mau" and item["level"] == "province"


def test_province_by_year(kdb: Conn) -> None:
    got = table(compute(kdb, "province", "year", date(2025, 1, 1)))
    assert got == {("province", "2025-01-01"): expect((1, 2, 3, 2), 5, 3, 2, 5, 3, 4)}
    # the same figures, read as ratios
    row = got[("province", "2025-01-01")]
    assert (row["on_time_rate"], row["online_share"], row["postal_receive_share"], row["postal_return_share"]) == (
        0.6, 0.375, 0.4, 0.75)


def test_province_by_day(kdb: Conn) -> None:
    got = table(compute(kdb, "province", "day", date(2025, 6, 2), date(2025, 6, 12)))
    z = (0, 0, 0, 0)
    assert got == {
        ("province", "2025-06-02"): expect((0, 1, 0, 1), 0, 0, 0, 2, 0, 0),
        ("province", "2025-06-03"): expect((0, 0, 1, 0), 0, 0, 0, 0, 0, 0),
        ("province", "2025-06-04"): expect(z, 1, 1, 1, 0, 0, 0),  # d2 due today, unresolved at close
        ("province", "2025-06-05"): expect(z, 1, 0, 0, 0, 1, 1),  # d2 resolved late; d1 returned by post
        ("province", "2025-06-06"): expect((1, 0, 0, 0), 0, 0, 0, 1, 0, 1),  # d2 returned at the counter
        ("province", "2025-06-10"): expect(z, 1, 1, 1, 0, 0, 0),  # d3 due and open
        ("province", "2025-06-11"): expect(z, 0, 0, 1, 0, 1, 1),
    }


def test_open_overdue_now_excludes_what_is_due_today(kdb: Conn) -> None:
    # on 2025-06-30 at noon, d5 (due that day) is not overdue yet; at the close of the day it is
    noon = datetime(2025, 6, 30, 5, 0, tzinfo=UTC)
    items = kpis.compute(kdb, "province", "month", JUNE, JULY, now=noon)
    assert [i["open_overdue"] for i in items] == [1]
    assert [i["open_overdue"] for i in compute(kdb, "province", "month", JUNE, JULY)] == [2]


def test_unit_by_month(kdb: Conn) -> None:
    got = table(compute(kdb, "unit", "month"))
    assert got == {
        ("U1", "2025-06-01"): expect((0, 1, 1, 1), 2, 1, 1, 2, 1, 2),
        ("U1", "2025-07-01"): expect((0, 0, 0, 0), 0, 0, 1, 0, 0, 0),  # nothing new, still one open past due
        ("U2", "2025-06-01"): expect((1, 0, 1, 0), 1, 1, 1, 1, 1, 1),
        ("U2", "2025-07-01"): expect((0, 0, 0, 0), 1, 0, 0, 0, 0, 0),
        ("U3", "2025-07-01"): expect((0, 1, 1, 1), 1, 1, 1, 2, 1, 1),
    }
    names = {i["code"]: i["name"] for i in compute(kdb, "unit", "month")}
    assert names == {"U1": "UBND xã Tân Lộc", "U2": "UBND xã Tạ An Khương", "U3": "UBND phường An Xuyên"}
    assert table(kpis.compute(kdb, "unit", "month", JUNE, YEAR_END, codes=["U2"], now=NOW)) == {
        k: v for k, v in got.items() if k[0] == "U2"}


def test_ward_by_month(kdb: Conn) -> None:
    items = compute(kdb, "ward", "month")
    got = table(items)
    assert got == {
        ("W1", "2025-06-01"): expect((0, 1, 0, 1), 2, 1, 0, 2, 1, 2),
        ("W2", "2025-06-01"): expect((0, 0, 1, 0), 0, 0, 1, 0, 0, 0),
        ("W2", "2025-07-01"): expect((0, 0, 0, 0), 0, 0, 1, 0, 0, 0),
        ("W3", "2025-06-01"): expect((1, 0, 1, 0), 1, 1, 1, 1, 1, 1),
        ("W3", "2025-07-01"): expect((0, 0, 0, 0), 1, 0, 0, 0, 0, 0),
        ("X1", "2025-07-01"): expect((0, 1, 1, 1), 1, 1, 1, 2, 1, 1),
    }
    sets = {i["code"]: (i["set"], i["name"]) for i in items}
    assert sets["W1"] == ("kpi-2019", "Xã Tân Lộc") and sets["X1"] == ("kpi-2025", "Phường An Xuyên")


def test_district_by_month_says_where_the_level_does_not_apply(kdb: Conn) -> None:
    items = compute(kdb, "district", "month")
    got = table(items)
    assert got == {
        ("D1", "2025-06-01"): expect((0, 1, 1, 1), 2, 1, 1, 2, 1, 2),
        ("D1", "2025-07-01"): expect((0, 0, 0, 0), 0, 0, 1, 0, 0, 0),
        ("D2", "2025-06-01"): expect((1, 0, 1, 0), 1, 1, 1, 1, 1, 1),
        ("D2", "2025-07-01"): expect((0, 0, 0, 0), 1, 0, 0, 0, 0, 0),
        (None, "2025-07-01"): expect((0, 1, 1, 1), 1, 1, 1, 2, 1, 1),
    }
    na = [i for i in items if i["code"] is None]
    assert na[0]["note"].startswith("district level does not apply")
    assert "không áp dụng" in na[0]["name"].lower()
    assert {i["code"]: i["name"] for i in items if i["code"]} == {"D1": "Huyện Thới Bình", "D2": "Huyện Đầm Dơi"}
    assert kpis.notes_for("district", items)
    assert not kpis.notes_for("unit", compute(kdb, "unit", "month"))


def test_every_level_sums_to_the_province(kdb: Conn) -> None:
    prov = {i["period_start"]: i for i in compute(kdb, "province", "month")}
    for level in ("unit", "ward", "district"):
        sums: dict[str, dict[str, int]] = {}
        for i in compute(kdb, level, "month"):
            acc = sums.setdefault(i["period_start"], {"total": 0, "resolved": 0, "on_time": 0, "overdue": 0})
            acc["total"] += i["received"]["total"]
            acc["resolved"] += i["resolved"]
            acc["on_time"] += i["resolved_on_time"]
            acc["overdue"] += i["open_overdue"]
        for p, acc in sums.items():
            assert acc == {"total": prov[p]["received"]["total"], "resolved": prov[p]["resolved"],
                           "on_time": prov[p]["resolved_on_time"], "overdue": prov[p]["open_overdue"]}, (level, p)


def test_map_layer_on_time_rate_by_ward(kdb: Conn) -> None:
    assert kpis.on_time_rate_by_ward(kdb, "kpi-2019", "ward", JUNE, YEAR_END) == {
        "W1": 0.5, "W2": None, "W3": 0.5}
    assert kpis.on_time_rate_by_ward(kdb, "kpi-2019", "district", JUNE, YEAR_END) == {"D1": 0.5, "D2": 0.5}
    assert kpis.on_time_rate_by_ward(kdb, "kpi-2025", "ward", JUNE, YEAR_END) == {"X1": 1.0}
    june = datetime(2025, 5, 31, 17, 0, tzinfo=UTC)  # local midnight, 1 June
    july = datetime(2025, 6, 30, 17, 0, tzinfo=UTC)
    assert kpis.on_time_rate_by_ward(kdb, "kpi-2019", "ward", june, july) == {"W1": 0.5, "W2": None, "W3": 1.0}


MONTHLY_FROM_DAILY = """
SELECT date_trunc('month', day)::date, unit_code, ward_set, ward_code, sum(received_online_l3),
       sum(received_online_l4), sum(received_counter), sum(received_postal), sum(received_post_offered), sum(resolved),
       sum(resolved_on_time), sum(returned), sum(returned_postal), sum(returned_post_offered), sum(overdue_in),
       sum(overdue_out)
FROM dossier_daily GROUP BY 1, 2, 3, 4
"""
MONTHLY = "SELECT * FROM dossier_monthly"


def _nonzero(rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in rows if any(r[4:])}


def test_the_rollup_equals_a_rebuild(kdb: Conn) -> None:
    before = {(lvl, p): compute(kdb, lvl, p) for lvl in kpis.LEVELS for p in kpis.PERIODS}
    assert _nonzero(kdb.execute(MONTHLY).fetchall()) == _nonzero(kdb.execute(MONTHLY_FROM_DAILY).fetchall())
    with kdb.transaction():
        rollup.rebuild(kdb)
    assert {(lvl, p): compute(kdb, lvl, p) for lvl in kpis.LEVELS for p in kpis.PERIODS} == before
    assert _nonzero(kdb.execute(MONTHLY).fetchall()) == _nonzero(kdb.execute(MONTHLY_FROM_DAILY).fetchall())


def test_whole_months_from_the_monthly_rollup_equal_days_from_the_daily_one(kdb: Conn) -> None:
    # from 1 June, June (over by "now") is read from dossier_monthly; from 2 June (a Monday; nothing happened on
    # Sunday 1 June) it is read day by day from dossier_daily: the same answer either way
    for level in kpis.LEVELS:
        for period in ("month", "year"):
            whole = table(compute(kdb, level, period, date(2025, 6, 1)))
            daily = table(compute(kdb, level, period, date(2025, 6, 2)))
            assert whole == daily, (level, period)
    later = datetime(2026, 3, 1, 5, tzinfo=UTC)  # every month of 2025 is over: all from dossier_monthly
    year = table(kpis.compute(kdb, "province", "year", date(2025, 1, 1), date(2026, 1, 1), now=later))
    row = year[("province", "2025-01-01")]
    assert (row["received"]["total"], row["resolved"], row["resolved_on_time"]) == (8, 5, 3)
    assert row["open_overdue"] == 3  # at the close of 2025 d3, d7 and d8 (due 21/07) are open past due


def test_bad_arguments(kdb: Conn) -> None:
    with pytest.raises(kpis.KpiError, match="level: 'county'"):
        kpis.compute(kdb, "county", "month", JUNE, JULY)
    with pytest.raises(kpis.KpiError, match="period: 'week'"):
        kpis.compute(kdb, "unit", "week", JUNE, JULY)
    assert kpis.compute(kdb, "unit", "month", JULY, JUNE, now=NOW) == []
