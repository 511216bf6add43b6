"""The daily brief's public-warnings section: the day's warnings counted by hazard and severity and listed with the
time first issued, the wards and the status (a cancelled one says so) — read back with pdftotext, diacritics intact;
a failing read leaves a note instead of costing the brief (its own savepoint)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.brief import data as brief_data
from api.brief import warnings_section
from ops_center.db import Conn
from tests.conftest import ARTIFACTS
from tests.live.test_brief import pdf_text
from tests.warnings.conftest import RealWard, approve_and_publish, fire_alert, publish_flow


def test_the_brief_lists_the_warnings_issued_that_day(client: TestClient, people: dict[str, Any], conn: Conn,
                                                     real_wards: list[RealWard], camau: None,
                                                     tmp_path: Path) -> None:
    op, leader = people["operator"], people["leader"]
    a, b = real_wards[3], real_wards[17]
    active = publish_flow(client, op, leader, {"alerts": [fire_alert(conn, ward=a.code, value=9.4)["id"]]})
    gone = publish_flow(client, op, leader, {"alerts": [fire_alert(conn, ward=b.code, value=5.5)["id"]]})
    r = client.post(f"/warnings/{gone['id']}/cancel", headers=op.headers, json={"reason": "Độ mặn đã giảm."})
    assert r.status_code == 201, r.text
    approve_and_publish(client, r.json(), op, leader)

    today = datetime.now(brief_data.LOCAL_TZ).date().isoformat()
    r = client.get("/brief/daily.pdf", params={"date": today}, headers=leader.headers)
    assert r.status_code == 200, r.text
    text = pdf_text(r.content, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "brief-warnings.pdf").write_bytes(r.content)
    section = text[text.index(warnings_section.TITLE):]
    for expected in ("Loại thiên tai", "Mức độ", "Số cảnh báo", "Xâm nhập mặn", "Phát hành", "Xã/phường",
                     "Trung bình", "Thấp"):  # 9,4‰: level 2 (Moderate); 5,5‰: level 1 (Minor)
        assert expected in section, (expected, section)
    assert active["published_headline"].split(" tại ")[0] in section  # "Cảnh báo xâm nhập mặn cao: 9,4‰"
    assert all(word in section for word in a.name.split()) and all(word in section for word in b.name.split())
    assert "Đang hiệu lực" in section and "Đã hủy (hủy" in section


def test_a_failing_warnings_read_leaves_a_note(conn: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("warnings unavailable")

    monkeypatch.setattr(warnings_section, "issued_between", broken)
    data = brief_data.collect(conn, None, datetime.now(brief_data.LOCAL_TZ).date())
    assert data.warnings is None and "Cảnh báo công cộng: chưa có số liệu (RuntimeError)" in data.notes
    assert data.alert_stats  # the other sections were read
