"""The operator screen and the leader view in a real browser (Debian's Chromium through Playwright), against the API
served by uvicorn on the test stack."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.live.conftest import (
    ARTIFACTS,
    browser_login,
    fire_alert,
    salinity_station,
    some_ward,
    tag,
    ward_count,
)

pytestmark = pytest.mark.browser

APPEAR_S = 2.0  # the bound: an alert shows on the screen within 2 s of the event


def api_get(server, token: str, path: str) -> dict:  # type: ignore[no-untyped-def]
    req = urllib.request.Request(f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())  # type: ignore[no-any-return]


def fills(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("svg.ward-map path.ward", "ps => ps.map(p => p.getAttribute('fill'))")


def open_operator_screen(page, live_server, login):  # type: ignore[no-untyped-def]
    op = login("operator")
    browser_login(page, live_server, op.username, op.password)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15000)
    expect(page.locator("svg.ward-map path.ward").first).to_be_attached(timeout=30000)  # the summary is in
    return op


def test_login_shows_the_ward_map_of_the_set_in_force(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    wards = ward_count(db, camau)
    page.goto(f"{live_server.url}/")
    page.wait_for_url("**/login**")
    expect(page.locator("h1")).to_have_text("Trung tâm Giám sát, Điều hành tỉnh Cà Mau")
    page.fill("#username", "nobody")
    page.fill("#password", "wrong-password-123")
    page.click("#submit")
    expect(page.locator("#error")).to_have_text("Sai tên đăng nhập hoặc mật khẩu")
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.console_errors.clear()  # the browser logs the refused login's 401

    op = login("operator")
    page.fill("#username", op.username)
    page.fill("#password", op.password)
    page.click("#submit")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("svg.ward-map path.ward")).to_have_count(wards, timeout=20000)
    names = page.eval_on_selector_all("svg.ward-map path.ward", "ps => ps.map(p => p.dataset.name)")
    assert any("ư" in n or "ơ" in n or "ạ" in n for n in names)  # Vietnamese names with diacritics
    expect(page.locator("#map-meta")).to_contain_text(camau)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15000)
    expect(page.locator("#clock-time")).to_have_text(__import__("re").compile(r"^\d\d:\d\d:\d\d$"))
    assert page.evaluate("sessionStorage.getItem('ops.token')")
    assert not page.console_errors, page.console_errors


def test_alert_event_appears_and_is_acknowledged_from_the_screen(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    """The alert engine opens an alert (row + event in one transaction); the screen shows it, the operator
    acknowledges it with the button, and the API says so."""
    op = open_operator_screen(page, live_server, login)
    ward = some_ward(db, camau, 3)
    text = f"Độ mặn 6,5‰ vượt ngưỡng 4‰ tại trạm {tag()}"
    alert = fire_alert(db, ward["code"], text, "critical")
    item = page.locator(f"#alerts li.alert[data-id='{alert['id']}']")
    expect(item).to_be_visible(timeout=APPEAR_S * 1000)
    expect(item).to_contain_text(text)
    expect(item).to_contain_text(ward["name"])
    item.locator("button.ack").click()
    expect_acknowledged_on_screen(page, alert["id"])
    got = api_get(live_server, op.token, f"/alerts/{alert['id']}")
    assert got["state"] == "acknowledged" and got["acknowledged_by"] == op.username
    # the map's alert layer counts it in its ward
    expect(page.locator(f"svg.ward-map path.ward[data-code='{ward['code']}']")).not_to_have_attribute(
        "data-value", "0", timeout=10000)
    assert not page.console_errors, page.console_errors


def expect_acknowledged_on_screen(page, alert_id) -> None:  # type: ignore[no-untyped-def]
    """The screen no longer offers it as firing: it shows it acknowledged, or — when more than a screenful of firing
    alerts sorts before it, as in this shared test database — it has moved below them."""
    expect(page.locator(f"#alerts li.alert[data-id='{alert_id}'][data-state='firing']")).to_have_count(0,
                                                                                                      timeout=10000)
    shown = page.locator(f"#alerts li.alert[data-id='{alert_id}']")
    if shown.count():
        expect(shown).to_have_attribute("data-state", "acknowledged")


def test_alert_from_a_device_publishing_over_mqtt(page, live_server, login, camau, db, stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Device → MQTT → ingest → stream rule → alert → NOTIFY → /ws/live → screen, then acknowledged on the screen."""
    with salinity_station(db, stack, tmp_path, some_ward(db, camau, 5)) as (device, send):
        op = open_operator_screen(page, live_server, login)
        send(6.5)
        t0 = time.monotonic()
        item = page.locator("#alerts li.alert", has_text=device)
        expect(item).to_be_visible(timeout=APPEAR_S * 1000)
        (ARTIFACTS / "mqtt-to-screen.json").write_text(json.dumps({"seconds": time.monotonic() - t0}))
        alert_id = item.get_attribute("data-id")
        item.locator("button.ack").click()
        expect_acknowledged_on_screen(page, alert_id)
        got = api_get(live_server, op.token, f"/alerts/{alert_id}")
        assert got["state"] == "acknowledged" and got["labels"].get("device") == device


def test_incident_appears_live_and_moves_through_its_states(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    op = open_operator_screen(page, live_server, login)
    unit = f"ubnd-{tag()}"
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, %s, 'commune')", (unit, f"UBND xã thử {unit}"))
    ward = some_ward(db, camau, 12)
    title = f"Sạt lở bờ kè kênh xáng {tag()}"
    body = json.dumps({"title": title, "category": "riverbank_erosion", "lon": ward["lon"], "lat": ward["lat"]})
    req = urllib.request.Request(f"{live_server.url}/incidents", data=body.encode(), method="POST",
                                 headers={"Authorization": f"Bearer {op.token}", "Content-Type": "application/json"})
    incident = json.loads(urllib.request.urlopen(req, timeout=10).read())
    item = page.locator(f"#incidents li.incident[data-id='{incident['id']}']")
    expect(item).to_be_visible(timeout=APPEAR_S * 1000)
    expect(item).to_contain_text(title)
    expect(item).to_have_attribute("data-status", "new")
    item.locator("button[data-to='assigned']").click()
    item.locator("select.unit-pick").select_option(unit)
    item.locator("button.confirm").click()
    expect(item).to_have_attribute("data-status", "assigned", timeout=10000)
    item.locator("button[data-to='in_progress']").click()
    expect(item).to_have_attribute("data-status", "in_progress", timeout=10000)
    got = api_get(live_server, op.token, f"/incidents/{incident['id']}")
    assert got["status"] == "in_progress" and got["assigned_unit"] == unit
    assert not page.console_errors, page.console_errors


def test_switching_layers_recolours_the_map(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    fire_alert(db, some_ward(db, camau, 7)["code"], f"Triều cường vượt báo động 2 ({tag()})", "major")
    open_operator_screen(page, live_server, login)
    page.wait_for_selector("svg.ward-map path.ward")
    page.click("#layers button[data-layer='alerts']")
    expect(page.locator("svg.ward-map")).to_have_attribute("data-layer", "alerts")
    before = fills(page)
    assert len(set(before)) >= 2  # the ward with the alert stands out
    page.click("#layers button[data-layer='salinity']")
    expect(page.locator("svg.ward-map")).to_have_attribute("data-layer", "salinity")
    after = fills(page)
    assert len(after) == len(before) and after != before
    expect(page.locator("#legend .legend-title")).to_have_text("Độ mặn cao nhất (‰)")
    for layer in ("incidents", "water", "devices", "ontime"):
        page.click(f"#layers button[data-layer='{layer}']")
        expect(page.locator("svg.ward-map")).to_have_attribute("data-layer", layer)
    page.click("#layers button[data-layer='alerts']")
    assert fills(page) == before


def test_english_switch(page, live_server, login, camau) -> None:  # type: ignore[no-untyped-def]
    open_operator_screen(page, live_server, login)
    expect(page.locator("[data-i18n='kpi_today']")).to_have_text("Hồ sơ tiếp nhận hôm nay")
    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-i18n='kpi_today']")).to_have_text("Dossiers received today")
    expect(page.locator("#layers button[data-layer='salinity']")).to_have_text("Salinity")
    page.reload()
    expect(page.locator("[data-i18n='kpi_today']")).to_have_text("Dossiers received today")
    page.click("#lang")
    expect(page.locator("[data-i18n='kpi_today']")).to_have_text("Hồ sơ tiếp nhận hôm nay")


def test_operator_screen_screenshot(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    """The whole wall screen with a few live alerts, for test-artifacts/ (and docs/screenshots/ when current)."""
    for i, (sev, text) in enumerate([("critical", "Độ mặn 5,8‰ trên sông Gành Hào"),
                                     ("major", "Mực nước triều 182 cm vượt báo động 2"),
                                     ("minor", "Trạm quan trắc mất tín hiệu 20 phút")]):
        fire_alert(db, some_ward(db, camau, 10 + i * 7)["code"], f"{text} ({tag()})", sev)
    open_operator_screen(page, live_server, login)
    expect(page.locator("#alerts li.alert").first).to_be_visible(timeout=10000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "operator.png"))
    assert page.viewport_size == {"width": 1920, "height": 1080}


def test_leader_view_map_table_and_brief(page, live_server, login, camau, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    leader = login("leader")
    browser_login(page, live_server, leader.username, leader.password, "/summary")
    wards = ward_count(db, camau)
    expect(page.locator("svg.ward-map path.ward")).to_have_count(wards, timeout=20000)
    expect(page.locator("#units tbody tr")).to_have_count(wards)
    page.select_option("#set", "camau-2019")
    page.select_option("#level", "district")
    expect(page.locator("svg.ward-map path.ward")).to_have_count(ward_count(db, "camau-2019", "district"),
                                                                 timeout=20000)
    expect(page.locator("#units tbody tr")).to_have_count(9)
    expect(page.locator("#map-meta")).to_contain_text("camau-2019")
    page.screenshot(path=str(ARTIFACTS / "summary.png"))
    with page.expect_download(timeout=60000) as dl:
        page.click("#brief")
    pdf = tmp_path / "brief.pdf"
    dl.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: run scripts/test-deps.sh (poppler-utils)"
    text = subprocess.run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    assert "BẢN TIN ĐIỀU HÀNH NGÀY" in text.decode()
    assert not page.console_errors, page.console_errors


@pytest.mark.parametrize("path", ["/", "/summary", "/?layer=alerts", "/view/devices", "/view/trends?level=unit",
                                  "/view/device/no-such-device", "/view/ward/camau-2025/32002", "/national"])
def test_a_screen_opened_signed_out_goes_to_login_without_errors(page, live_server, path) -> None:  # type: ignore[no-untyped-def]
    """Signed out, a screen hands over to the login page and runs no further (it used to read the null session's
    token on its way out: "Cannot read properties of null (reading 'token')", a flaky failure of the screen
    tests, whose sign-in starts exactly like this, whenever the login page took a moment to come). The login
    page is held back here for a second so that the screen's script surely runs to its end."""
    page.route("**/login?**", lambda route: (time.sleep(1.0), route.continue_()))
    page.goto(f"{live_server.url}{path}")
    page.wait_for_url("**/login**")
    page.wait_for_load_state("networkidle")
    assert not page.console_errors, page.console_errors
