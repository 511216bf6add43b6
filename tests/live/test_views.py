"""The drill-down views in a real browser (Debian's Chromium through Playwright) against the API served by uvicorn:
a reading published over MQTT appears on its device's chart; clicking a ward (with the mouse or the keyboard)
shows its devices and alerts, in the 2025 and the 2019 set; the devices map and list filter; a leader's trends
show both years; CSV exports keep the diacritics; the English switch; screenshots in test-artifacts/."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from ops_center.readings import ReadingsStore
from tests.dossiers.conftest import make_catalog, t
from tests.live.conftest import ARTIFACTS, add_device, browser_login, click_ward, fire_alert, some_ward, tag

pytestmark = pytest.mark.browser


def device_in_old_camau(db, camau, index: int, kind: str = "salinity") -> dict:  # type: ignore[no-untyped-def,type-arg]
    """A device at a 2019 ward's representative point (so it lies in a ward of both sets), with its 2025 ward."""
    dev = f"view-{tag()}"
    ward19 = some_ward(db, "camau-2019", index)
    add_device(db, dev, ward19, kind)
    code = db.execute("SELECT ward_code FROM devices WHERE id = %s", (dev,)).fetchone()[0]
    name = db.execute("SELECT name FROM boundary_units WHERE set_name = %s AND level = 'ward' AND code = %s",
                      (camau, code)).fetchone()[0]
    return {"id": dev, "ward": {"code": code, "name": name}, "ward19": ward19}


def history(db, device: str, hours: int = 30, value: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [((now - timedelta(minutes=5 * i)).timestamp(), device, "salinity_ppt", value + (i % 12) / 10)
            for i in range(1, hours * 12)]
    with db.transaction():
        ReadingsStore.for_connection(db).write_batch(db, rows)


def last_point(page, metric: str) -> dict | None:  # type: ignore[no-untyped-def,type-arg]
    raw = page.locator(f"figure.chart[data-metric='{metric}']").get_attribute("data-last")
    return json.loads(raw) if raw else None


def test_a_reading_published_over_mqtt_appears_on_its_device_chart(page, live_server, login, camau, db, stack,  # type: ignore[no-untyped-def]
                                                                    tmp_path) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from alerts.rule_changes import create_rule
    from alerts.rules.models import parse_rule
    from tests.pipeline.conftest import IngestProc, discard_session
    from tests.support.services import free_port

    dev = device_in_old_camau(db, camau, 40)
    history(db, dev["id"])
    with db.transaction():
        create_rule(db, parse_rule({"kind": "threshold", "name": f"Mặn > 6‰ ({dev['id']})", "severity": "major",
                                    "metric": "salinity_ppt", "operator": ">", "value": 6.0,
                                    "scope": {"device": dev["id"]}}), "test")
    s = stack.settings
    client_id, port = f"ingest-views-{tag()}", free_port()
    ingest = IngestProc({**stack.env, "OPS_INGEST_SHARE_GROUP": f"views{tag()}", "OPS_INGEST_CLIENT_ID": client_id,
                         "OPS_INGEST_METRICS_PORT": str(port), "OPS_INGEST_FLUSH_MS": "50"},
                        client_id, port, tmp_path / "ingest.log")
    ingest.start()
    try:
        op = login("operator")
        browser_login(page, live_server, op.username, op.password, f"/view/device/{dev['id']}")
        figure = page.locator("figure.chart[data-metric='salinity_ppt']")
        expect(figure).to_have_attribute("data-points", __import__("re").compile(r"^[1-9]\d*$"), timeout=20000)
        assert page.evaluate("window.opsDevice.state.overview.thresholds.map(t => t.value)") == [6.0]
        expect(page.locator("#dev-name")).to_contain_text(dev["id"])
        before = last_point(page, "salinity_ppt")
        assert before is not None and before["max"] < 6.5
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{dev['id']}", protocol=mqtt.MQTTv5)
        pub.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value())
        pub.connect(s.mqtt_host, s.mqtt_port)
        pub.loop_start()
        try:
            info = pub.publish(f"ops/v1/devices/{dev['id']}/telemetry",
                               json.dumps({"ts": time.time(), "metrics": {"salinity_ppt": 6.54}}), qos=1)
            info.wait_for_publish(10)
            t0 = time.monotonic()
            expect(page.locator(".tile[data-metric='salinity_ppt'] .tile-value")).to_contain_text("6,54",
                                                                                                  timeout=10000)
            page.wait_for_function("() => { const r = document.querySelector(\"figure.chart[data-metric='salinity_ppt']\")"
                                   ".dataset.last; return r && JSON.parse(r).max === 6.54 }", timeout=10000)
            (ARTIFACTS / "mqtt-to-chart.json").write_text(json.dumps({"seconds": time.monotonic() - t0}))
        finally:
            pub.loop_stop()
            pub.disconnect()
        page.screenshot(path=str(ARTIFACTS / "device.png"))
        page.click(".range[data-range='30d']")
        expect(page.locator(".range[data-range='30d']")).to_have_attribute("aria-pressed", "true")
        expect(figure.locator("figcaption")).to_contain_text("tổng hợp theo giờ")
        assert not page.console_errors, page.console_errors
    finally:
        ingest.terminate()
        discard_session(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(), client_id)


def test_clicking_a_ward_shows_its_devices_and_alerts(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    dev = device_in_old_camau(db, camau, 44)
    text = f"Độ mặn vượt 4‰ tại cống {tag()}"
    alert = fire_alert(db, dev["ward"]["code"], text, "critical", device=dev["id"])
    op = login("operator")
    browser_login(page, live_server, op.username, op.password)
    ward_path = page.locator(f"svg.ward-map path.ward[data-code='{dev['ward']['code']}']")
    expect(ward_path).to_be_attached(timeout=30000)
    expect(page.locator(f"svg.ward-map .marker[data-id='{dev['id']}']")).to_be_attached(timeout=10000)
    click_ward(page, dev["ward"]["code"])  # on the ward, beside the device's marker
    page.wait_for_url(f"**/view/ward/{camau}/{dev['ward']['code']}")
    expect(page.locator("#ward-name")).to_have_text(dev["ward"]["name"], timeout=15000)
    expect(page.locator("#devices tbody")).to_contain_text(dev["id"], timeout=15000)
    expect(page.locator(f"#alerts tbody tr[data-id='{alert['id']}']")).to_contain_text(text)
    expect(page.locator(f"svg.ward-map .marker[data-id='{dev['id']}']")).to_be_attached(timeout=10000)
    page.screenshot(path=str(ARTIFACTS / "ward.png"))
    # keyboard: from the ward's map, Tab reaches the device marker; Enter opens the device
    page.locator(f"svg.ward-map .marker[data-id='{dev['id']}']").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/view/device/{dev['id']}")
    expect(page.locator("#dev-name")).to_contain_text(dev["id"], timeout=15000)
    assert not page.console_errors, page.console_errors


def test_ward_of_the_2019_set_from_the_leader_view(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    dev = device_in_old_camau(db, camau, 47)
    code19 = dev["ward19"]["code"]
    leader = login("leader")
    browser_login(page, live_server, leader.username, leader.password, "/summary")
    expect(page.locator("svg.ward-map path.ward").first).to_be_attached(timeout=30000)
    page.select_option("#set", "camau-2019")
    path = page.locator(f"svg.ward-map path.ward[data-code='{code19}']")
    expect(path).to_be_attached(timeout=20000)
    path.focus()  # keyboard only
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/view/ward/camau-2019/{code19}")
    expect(page.locator("#ward-name")).to_have_text(dev["ward19"]["name"], timeout=15000)
    expect(page.locator("#ward-meta")).to_contain_text("2025-06-30")
    expect(page.locator("#devices tbody")).to_contain_text(dev["id"], timeout=15000)
    assert not page.console_errors, page.console_errors


def test_devices_map_filters_and_csv(page, live_server, login, camau, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rain = device_in_old_camau(db, camau, 50, kind="rain")
    db.execute("UPDATE devices SET name = %s WHERE id = %s", (f"Trạm đo mưa Đầm Dơi {rain['id']}", rain["id"]))
    op = login("operator")
    browser_login(page, live_server, op.username, op.password, "/view/devices")
    expect(page.locator("#devices tbody tr").first).to_be_attached(timeout=30000)
    expect(page.locator("svg.ward-map .markers > *").first).to_be_attached()
    clusters = page.locator("svg.ward-map .cluster").count()
    page.select_option("#kind", "rain")
    expect(page.locator(f"#devices tbody tr[data-id='{rain['id']}']")).to_be_visible()
    kinds = page.eval_on_selector_all("#devices tbody tr", "rs => rs.map(r => r.children[2].textContent)")
    assert set(kinds) == {"Trạm đo mưa"}
    page.fill("#q", f"dam doi {rain['id']}")  # accents optional (the id: other tests' devices share the database)
    expect(page.locator("#devices tbody tr")).to_have_count(1)
    with page.expect_download() as dl:
        page.click("#devices-csv button.csv")
    path = tmp_path / "devices.csv"
    dl.value.save_as(path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert f"Trạm đo mưa Đầm Dơi {rain['id']}" in text and text.splitlines()[0].startswith("Mã,")
    page.fill("#q", "")
    page.select_option("#kind", "")
    # zoom in: clusters open into markers
    for _ in range(4):
        page.click(".zoom-controls button[aria-label='Phóng to']")
    expect(page.locator("svg.ward-map")).to_have_attribute("data-zoom", "5.06")
    assert page.locator("svg.ward-map .cluster").count() <= clusters
    page.uncheck("#show-markers")
    expect(page.locator("svg.ward-map .markers > *")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "devices.png"))
    assert not page.console_errors, page.console_errors


def test_a_leader_trend_shows_both_years(page, live_server, login, db) -> None:  # type: ignore[no-untyped-def]
    cat = make_catalog(db)
    events = []
    for year, n_online in ((2018, 3), (2019, 5)):
        for i in range(n_online + 2):
            did = cat.did(f"{year}-{i}")
            events.append({"dossier_id": did, "type": "received", "at": t(year, 5, 6 + i), "unit": cat.unit,
                           "channel": "online_l4" if i < n_online else "counter", "procedure": cat.plain_proc})
    admin = login("admin")
    import urllib.request

    req = urllib.request.Request(f"{live_server.url}/dossiers/events", data=json.dumps(events).encode(),
                                 headers={**admin.headers, "Content-Type": "application/json"}, method="POST")
    assert json.loads(urllib.request.urlopen(req, timeout=30).read())["accepted"] == len(events)
    leader = login("leader")
    browser_login(page, live_server, leader.username, leader.password, "/view/trends?level=unit&to=2019-12")
    row = page.locator(f"#trend-table tbody tr[data-code='{cat.unit}']")
    expect(row).to_be_visible(timeout=30000)
    cells = row.locator("td")
    expect(cells.nth(2)).to_have_text("7")  # received in 2019
    expect(cells.nth(3)).to_have_text("5")  # the same months of 2018
    expect(cells.nth(5)).to_have_text("5")  # online in 2019
    online = page.locator("figure.trend[data-kpi='online']")
    current = json.loads(online.get_attribute("data-current"))
    previous = json.loads(online.get_attribute("data-previous"))
    assert current[4] >= 5 and previous[4] >= 3  # May 2019 against May 2018, province-wide
    expect(page.locator("#headline")).to_contain_text("2019")
    expect(page.locator("#headline")).to_contain_text("2018")
    expect(online.locator(".u-legend")).to_contain_text("Cùng kỳ năm trước")
    page.screenshot(path=str(ARTIFACTS / "trends.png"))
    with page.expect_download() as dl:
        page.click("#trend-csv button.csv")
    assert dl.value.suggested_filename == "xu-huong-unit-2019-12.csv"
    page.click("#lang")
    expect(page.locator("#page-title")).to_have_text("Public-service KPI trends")
    expect(page.locator("figure.trend[data-kpi='online'] .u-legend")).to_contain_text("A year earlier")
    page.click("#lang")
    expect(page.locator("#page-title")).to_have_text("Xu hướng chỉ số dịch vụ công")
    assert not page.console_errors, page.console_errors
