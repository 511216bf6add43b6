"""The daily brief PDF (through the real app) and the static screens' serving rules."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from api.brief.data import LOCAL_TZ
from tests.live.conftest import ARTIFACTS, fire_alert, some_ward, tag


def pdf_text(content: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: run scripts/test-deps.sh (poppler-utils)"
    path = tmp_path / "brief.pdf"
    path.write_bytes(content)
    out = subprocess.run([pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())  # table cells wrap: compare with whitespace collapsed


def off_the_representative_point(db, ward: dict[str, Any]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """A point of the ward about 300 m from its representative point: other tests file flooding reports at that
    point, and a report within 200 m and 2 h of an open one is linked to it (so the brief would show its title)."""
    from geo.service import assign_ward

    for dlon, dlat in ((0.0028, 0.0), (-0.0028, 0.0), (0.0, 0.0028), (0.0, -0.0028), (0.002, 0.002)):
        lon, lat = ward["lon"] + dlon, ward["lat"] + dlat
        if assign_ward(db, lon, lat).code == ward["code"]:
            return lon, lat
    raise AssertionError(f"no point of ward {ward['code']} 300 m from its representative point")


def test_daily_brief_keeps_vietnamese_diacritics(client, login, camau, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    ward = some_ward(db, camau, 2)
    marker = tag()
    fire_alert(db, ward["code"], f"Độ mặn vượt ngưỡng ở Đầm Dơi {marker}", "critical")
    lon, lat = off_the_representative_point(db, ward)
    r = client.post("/incidents", headers=op.headers, json={
        "title": f"Ngập úng phố chợ {marker}", "category": "flooding", "severity": "critical",
        "lon": lon, "lat": lat})
    assert r.status_code == 201 and not r.json()["linked"], r.text  # its own incident, with its title
    leader = login("leader")
    today = datetime.now(LOCAL_TZ).date().isoformat()
    r = client.get("/brief/daily.pdf", params={"date": today}, headers=leader.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    text = pdf_text(r.content, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "brief.pdf").write_bytes(r.content)
    (ARTIFACTS / "brief.txt").write_text(text)
    d = datetime.now(LOCAL_TZ).date()
    for expected in (f"BẢN TIN ĐIỀU HÀNH NGÀY {d:%d/%m/%Y}", "UBND TỈNH CÀ MAU", "Tổng quan",
                     "Thống kê cảnh báo", "Nghiêm trọng", "Sự cố nổi bật", f"Ngập úng phố chợ {marker}",
                     "Ngập úng", camau, "Chỉ số dịch vụ công"):
        assert expected in text, (expected, text[:3000])
    assert all(word in text for word in ward["name"].split())  # the incident's ward (a cell may wrap it)


def test_brief_for_a_2019_day_and_other_sets(client, login, camau, tmp_path) -> None:  # type: ignore[no-untyped-def]
    leader = login("leader")
    r = client.get("/brief/daily.pdf", params={"date": "2024-03-15", "set": "camau-2019", "layer": "devices_online"},
                   headers=leader.headers)
    assert r.status_code == 200, r.text
    text = pdf_text(r.content, tmp_path)
    assert "BẢN TIN ĐIỀU HÀNH NGÀY 15/03/2024" in text and "camau-2019 (101 đơn vị cấp xã)" in text


@pytest.mark.parametrize("params, status, field", [
    ({"date": "hôm qua"}, 422, "date"),
    ({"date": "2024-02-30"}, 422, "date"),
    ({"date": (date.today() + timedelta(days=400)).isoformat()}, 422, "date"),
    ({"date": "1999-12-31"}, 422, "date"),
    ({"set": "camau'; DROP TABLE boundary_sets; --"}, 422, "set"),
    ({"set": "x" * 5000}, 422, "set"),
    ({"set": "no-such-set"}, 404, "set"),
    ({"layer": "<script>alert(1)</script>"}, 422, "layer"),
    ({"date": ["2024-01-01", "2024-01-02"]}, 200, None),  # the last one wins, as FastAPI reads scalars
])
def test_brief_rejects_bad_parameters_naming_the_field(client, login, camau, params, status, field) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/brief/daily.pdf", params=params, headers=login("leader").headers)
    assert r.status_code == status, r.text
    if field:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.json()["detail"]


def test_brief_needs_a_staff_role(client, login) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/brief/daily.pdf").status_code == 401
    assert client.get("/brief/daily.pdf", headers=login("integration").headers).status_code == 403


def test_pages_and_static_files(client) -> None:  # type: ignore[no-untyped-def]
    for path, marker in (("/", "operator.js"), ("/login", "login.js"), ("/summary", "summary.js")):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert marker in r.text and "Cà Mau" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
    js = client.get("/static/js/map.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "http://" not in js.text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from outside
    for bad in ("/static/../app.py", "/static/..%2f..%2fapi%2fapp.py", "/static/js/nope.js", "/static/",
                "/static/%00", "/static/" + "a/" * 500):
        assert client.get(bad).status_code == (422 if "%00" in bad else 404), bad  # NUL: refused before the route


def test_static_files_have_no_external_references() -> None:
    """No CDN, tiles or web fonts: every URL in the screens' files is our own."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "api" / "static"
    for f in root.rglob("*"):
        if f.suffix in (".html", ".js", ".css"):
            text = f.read_text()
            if "vendor" in f.parts:  # a vendored library's licence banner names its home page; nothing loads it
                text = re.sub(r"^/\*!.*?\*/", "", text, flags=re.S)
            urls = re.findall(r"https?://[^\s\"'`)]+", text)
            assert all(u.startswith("http://www.w3.org/") for u in urls), (f, urls)
