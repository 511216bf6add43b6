"""The daily brief's scorecard section on the hand-built data set (``test_hand``, ``test_api``'s May): the brief of
30 June 2025 shows the province's total and five groups for June against May, and the units with the lowest
totals, lowest first — read back with pdftotext, diacritics intact."""

from __future__ import annotations

from pathlib import Path

from tests.live.test_brief import pdf_text
from tests.scorecard.conftest import App

# June by hand (test_hand: PROVINCE_GROUPS, PROVINCE_TOTAL; units 71.14 / 40.60 / 31.30); May by hand (test_api)
JUNE_GROUPS = {"1": "7,00", "2": "14,00", "3": "17,83", "4": "8,39", "5": "10,33"}
MAY_GROUPS = {"1": "6,00", "2": "0,00", "3": "1,25", "4": "0,00", "5": "0,00"}


def test_the_brief_shows_the_month_against_the_last_and_the_lowest_units(sapp: App, tmp_path: Path) -> None:
    r = sapp.client.get("/brief/daily.pdf", params={"date": "2025-06-30"}, headers=sapp.headers["leader"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    text = pdf_text(r.content, tmp_path)
    assert "4. Bộ chỉ số 766: chất lượng phục vụ người dân, doanh nghiệp" in text, text[:4000]
    assert ("Toàn tỉnh từ 01/06 đến 30/06/2025: 57,56 điểm (thang 100), kỳ trước (01/05 – 31/05/2025): 10,36 điểm, "
            "thay đổi +47,20.") in text
    section = text[text.index("4. Bộ chỉ số 766"):text.index("5. Sự cố nổi bật")]
    for gid, name in (("1", "Công khai, minh bạch"), ("2", "Tiến độ, kết quả giải quyết"),
                      ("3", "Cung cấp dịch vụ trực tuyến"), ("4", "Số hóa hồ sơ"), ("5", "Mức độ hài lòng")):
        start = section.index(f"{gid}. {name}")
        row = section[start:start + 120]
        assert JUNE_GROUPS[gid] in row and MAY_GROUPS[gid] in row, (gid, row)
    assert "Tổng (quy về thang 100) 100 57,56 10,36 +47,20" in section
    lowest = section[section.index("3 đơn vị có điểm thấp nhất (trên 3 đơn vị có điểm)"):]
    order = [lowest.index(n) for n in ("Sở Tư pháp 31,30", "UBND xã Trí Phải 40,60", "UBND xã Tân Lộc 71,14")]
    assert order == sorted(order)
