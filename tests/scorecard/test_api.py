"""The scorecard routes through the real app, on the hand-built data set of ``test_hand`` (June 2025): the figures,
paging, ranking, the comparison with May (computed by hand below), the trend, drill-down, CSV and XLSX read back
by other people's readers (the csv module, openpyxl).

May 2025, province (for the comparison): active are U3 (d9 received 05-20, open and late at the end of May) and U2
(p3 received 05-05, open and late). Catalogue on 05-31: 1.1 PC published 05-20 with no effective date -> 0/1; 1.2
public 05-22 <= 05-27 -> 1/1; 1.3 PC -> 1/1; fees in the catalogue {PC, PD}, citizen-facing {PD}. 1.4 0/1; 2.1 0/1;
3.1 no data; 3.2 PD (d9 fee due) 1/2 -> 2 x (1/2)/0.8 = 1.25; 3.3 0/2; 3.4 0/1; 4.1 no data; 4.2 0/1; 4.3 0/2;
4.4-4.6 0/1; 4.7 0/1; 5.1 0/1; 5.2, 5.3 no data. Earned 4 + 2 + 1.25 = 7.25 of 70 available -> 10.36.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from tests.scorecard.conftest import App

JUNE = {"from": "2025-06-01", "to": "2025-06-30"}


def get(app: App, path: str, role: str = "leader", **params: Any) -> Any:
    r = app.client.get(path, params=params, headers=app.headers[role])
    assert r.status_code == 200, r.text
    return r.json()


def test_scorecard_by_unit_paged(sapp: App) -> None:
    first = get(sapp, "/scorecard", level="unit", period="month", limit=2, **JUNE)
    assert [i["code"] for i in first["items"]] == ["U1", "U2"] and first["next_cursor"]
    rest = get(sapp, "/scorecard", level="unit", period="month", limit=2, cursor=first["next_cursor"], **JUNE)
    assert [i["code"] for i in rest["items"]] == ["U3"] and rest["next_cursor"] is None
    u1 = first["items"][0]
    assert (u1["from"], u1["to"], u1["definition"], u1["name"]) == ("2025-06-01", "2025-06-30", "2022.1",
                                                                    "UBND xã Tân Lộc")
    assert u1["total"] == {"points": 100.0, "earned": 62.6, "available": 88.0, "scaled": 71.14}
    ind = {i["id"]: i for i in u1["indicators"]}
    assert ind["3.3"] == {**ind["3.3"], "numerator": 1, "denominator": 3, "ratio": 0.3333, "score": 0.83}
    assert ind["5.1"]["ratio"] is None and ind["5.1"]["score"] is None  # no petitions: N/A, not 0


def test_province_ranking_compare_trend(sapp: App) -> None:
    (prov,) = get(sapp, "/scorecard", level="province", period="month", **JUNE)["items"]
    assert prov["total"]["scaled"] == 57.56 and prov["name"] == "UBND tỉnh Cà Mau"
    ranked = get(sapp, "/scorecard/ranking", level="unit", **JUNE)["items"]
    assert [(r["rank"], r["code"], r["total"]["scaled"]) for r in ranked] == [
        (1, "U1", 71.14), (2, "U2", 40.60), (3, "U3", 31.30)]
    cmp = get(sapp, "/scorecard/compare", period="month", **JUNE)
    assert (cmp["previous"]["from"], cmp["previous"]["to"]) == ("2025-05-01", "2025-05-31")
    assert cmp["previous"]["total"] == {"points": 100.0, "earned": 7.25, "available": 70.0, "scaled": 10.36}
    assert cmp["change"]["total"] == round(518 / 9 - 7.25 / 70 * 100, 2) == 47.2
    assert cmp["change"]["groups"]["3"] == round(107 / 6 - 1.25, 2)
    trend = get(sapp, "/scorecard/trend", level="unit", code="U1", **{"from": "2025-06-01", "to": "2025-06-30"})
    (june,) = trend["items"]
    assert june["month"] == "2025-06" and june["value"]["total"] == 71.14
    assert june["value"]["indicators"]["2.1"] == 0.8 and june["year_before"] == {
        "from": "2024-06-01", "to": "2024-06-30", "value": None}


def _all(app: App, indicator: str, side: str, **params: Any) -> list[str]:
    ids, cursor = [], None
    while True:
        page = get(app, f"/scorecard/indicators/{indicator}/items", side=side, limit=2,
                   **({"cursor": cursor} if cursor else {}), **params)
        ids += [i.get("id") or i.get("code") for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_drill_down_lists_what_the_counts_count(sapp: App) -> None:
    assert _all(sapp, "2.1", "numerator", level="unit", code="U1", **JUNE) == ["d1", "d2", "d3", "d5"]
    assert _all(sapp, "2.1", "denominator", level="unit", code="U1", **JUNE) == ["d1", "d2", "d3", "d4", "d5"]
    assert _all(sapp, "2.1", "denominator", level="unit", code="U3", **JUNE) == ["d10", "d8", "d9"]
    assert _all(sapp, "5.3", "late", level="province", **JUNE) == ["d6"]
    assert _all(sapp, "5.1", "numerator", level="unit", code="U2", **JUNE) == ["p1", "p2"]
    assert _all(sapp, "3.2", "denominator", level="unit", code="U2", **JUNE) == ["PA", "PC", "PD"]
    assert _all(sapp, "3.2", "numerator", level="unit", code="U2", **JUNE) == ["PA"]
    assert _all(sapp, "4.3", "numerator", level="province", **JUNE) == ["U1", "U2"]
    page = get(sapp, "/scorecard/indicators/4.2/items", side="numerator", level="unit", code="U1", **JUNE)
    assert page["subject"] == "dossier" and {i["id"] for i in page["items"]} == {"d1", "d2"}
    # every list of the province in June is exactly as long as its count
    (prov,) = get(sapp, "/scorecard", level="province", period="month", **JUNE)["items"]
    for ind in prov["indicators"]:
        for side, want in (("denominator", ind["denominator"]),
                           *((("numerator", ind["numerator"]),) if ind["id"] != "5.3" else
                             tuple(ind["parts"].items()))):
            assert len(_all(sapp, ind["id"], side, level="province", **JUNE)) == want, (ind["id"], side)


def test_bad_requests_name_the_parameter(sapp: App) -> None:
    h = sapp.headers["leader"]
    for params, where in (({"from": "2025-07-01", "to": "2025-06-01"}, "to"),
                          ({"from": "2019-01-01", "to": "2025-06-01"}, "to"),
                          ({"level": "village"}, "level"), ({"period": "week"}, "period")):
        r = sapp.client.get("/scorecard", params=params, headers=h)
        assert r.status_code == 422, r.text
        assert where in r.text
    r = sapp.client.get("/scorecard/indicators/2.1/items", params={"level": "unit", **JUNE}, headers=h)
    assert r.status_code == 422 and "code" in r.json()["detail"]
    r = sapp.client.get("/scorecard/indicators/5.3/items", params={"side": "numerator", **JUNE}, headers=h)
    assert r.status_code == 422 and "late, unsatisfied" in r.json()["detail"]
    assert sapp.client.get("/scorecard/indicators/9.9/items", headers=h).status_code == 422
    assert sapp.client.get("/scorecard/export.pdf", headers=h).status_code == 404
    for hostile in ("U1\x00", "U1'; DROP TABLE dossiers; --", "x" * 5000):
        r = sapp.client.get("/scorecard", params={"level": "unit", "code": hostile, **JUNE}, headers=h)
        assert r.status_code == 422 and "code" in r.text
        r = sapp.client.get("/scorecard/trend", params={"level": "unit", "code": hostile}, headers=h)
        assert r.status_code == 422


def test_exports_read_back(sapp: App) -> None:
    h = sapp.headers["leader"]
    r = sapp.client.get("/scorecard/export.csv", params={"level": "unit", **JUNE}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 3 * (19 + 5 + 1)
    total = next(x for x in rows if x["code"] == "U1" and x["row"] == "total")
    assert (total["name"], total["indicator"], total["scaled"], total["earned"]) == ("UBND xã Tân Lộc", "Tổng",
                                                                                   "71.14", "62.6")
    one = next(x for x in rows if x["code"] == "U2" and x["id"] == "5.1")
    assert (one["numerator"], one["denominator"], one["ratio"], one["score"]) == ("2", "3", "0.6667", "4.0")
    assert one["indicator"] == "Phản ánh, kiến nghị xử lý đúng hạn"
    r = sapp.client.get("/scorecard/export.xlsx", params={"level": "unit", **JUNE}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert book.sheetnames == ["Tổng hợp", "Chỉ số"]
    summary = list(book["Tổng hợp"].iter_rows(values_only=True))
    assert summary[2][:8] == ("Cấp", "Mã", "Tên", "Từ ngày", "Đến ngày", "Điểm đạt", "Điểm có dữ liệu",
                              "Quy về thang 100")
    assert summary[3][:8] == ("unit", "U1", "UBND xã Tân Lộc", "2025-06-01", "2025-06-30", 62.6, 88, 71.14)
    detail = list(book["Chỉ số"].iter_rows(values_only=True))
    assert len(detail) == 1 + 3 * 25 and detail[1][7:15] == ("1.1", "TTHC công bố đúng hạn", 6, None, 1, 2, 0.5, 3)


def test_definition_route(sapp: App) -> None:
    d = get(sapp, "/scorecard/definition", on="2025-06-01")
    assert d["version"] == "2022.1" and [g["points"] for g in d["groups"]] == [18, 20, 22, 22, 18]
    assert d["indicators"][4] == {"id": "2.1", "group": "2", "points": 20, "threshold": None,
                                  "name": {"vi": "Hồ sơ xử lý trước hạn, đúng hạn", "en": "Dossiers handled on time"}}
