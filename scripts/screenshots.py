"""Current screenshots of every view for ``docs/screenshots/`` (1920×1080), taken from a private stack with live
data: its own database, Mosquitto and Redis; the API, ingest and the simulator as real processes (devices with three
days of history, the one-stop-shop with 2018–2019 — the seed report's years — and the last 600 days of dossiers,
citizens' reports); alert rules and a few incidents seeded through the API. Nothing of ``make up`` is touched.

Run: ``.venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--warmup 60] [--warnings-only]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["OPS_ENV_FILE"] = "/dev/null"

OPS = str(REPO / ".venv" / "bin" / "ops-center")
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RULES = [
    {"kind": "threshold", "name": "Độ mặn vượt 4‰ (ngưỡng lúa)", "severity": "major", "metric": "salinity_ppt",
     "operator": ">", "value": 4.0, "clear": 3.5},
    {"kind": "threshold", "name": "Độ mặn vượt 8‰", "severity": "critical", "metric": "salinity_ppt",
     "operator": ">", "value": 8.0, "clear": 7.0},
    {"kind": "threshold", "name": "Mực nước vượt báo động 2", "severity": "minor", "metric": "water_level_cm",
     "operator": ">", "value": 160.0, "clear": 150.0},
]
INCIDENTS = [
    ("Sạt lở bờ kè sông Gành Hào đoạn ấp 3", "riverbank_erosion"),
    ("Ngập úng đường Lý Thường Kiệt sau triều cường", "flooding"),
    ("Cây đổ chắn đường liên ấp", "fallen_tree"),
    ("Mất điện khu dân cư chợ xã", "power_outage"),
    ("Nước thải đổ ra kênh xáng", "environmental_pollution"),
    ("Xâm nhập mặn vào kênh nội đồng", "salinity_intrusion"),
]


def http(method: str, url: str, token: str | None = None, body: Any = None, form: dict[str, str] | None = None
         ) -> Any:
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
    return json.loads(raw) if raw and r.headers.get_content_type().endswith("json") else raw


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def seed(base: str, token: str, conn: Any, set_name: str, rng: random.Random) -> None:
    from alerts.rule_changes import upsert_rules
    from alerts.rules.models import parse_rule

    with conn.transaction():
        upsert_rules(conn, [parse_rule(r) for r in RULES], "screenshots")
    wards = conn.execute("SELECT code, name, rep_lon, rep_lat FROM boundary_units WHERE set_name = %s AND "
                         "level = 'ward' ORDER BY code", (set_name,)).fetchall()
    # units of the one-stop-shop: one commune office per ward
    with conn.transaction():
        for code, name, _, _ in wards:
            conn.execute("INSERT INTO units (code, name, level, ward_code) VALUES (%s, %s, 'commune', %s) "
                         "ON CONFLICT DO NOTHING", (f"ubnd-{code}", f"UBND {name}", code))
    for i, (title, category) in enumerate(INCIDENTS):
        _, _, lon, lat = wards[(i * 11 + 5) % len(wards)]
        inc = http("POST", f"{base}/incidents", token, {"title": title, "category": category, "lon": lon,
                                                         "lat": lat, "description": "Người dân phản ánh qua tổng đài."})
        if i % 3 == 1:
            http("POST", f"{base}/incidents/{inc['id']}/transition", token,
                 {"to": "assigned", "note": "Giao UBND xã xử lý", "unit": f"ubnd-{inc['ward_code']}"})


def views(page: Any, base: str, token: str, out: Path) -> None:
    """The drill-down views: devices, a device with alerts, its ward (2025 and 2019), trends."""
    from playwright.sync_api import expect

    page.goto(f"{base}/view/devices")
    expect(page.locator("#devices tbody tr").first).to_be_attached(timeout=30000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "devices.png"))
    markers = http("GET", f"{base}/map/devices?kind=salinity&limit=500", token)["items"]
    old = {m["id"]: m["ward_code"] for m in http("GET", f"{base}/map/devices?set=camau-2019&limit=500",
                                                 token)["items"]}
    dev = max(markers, key=lambda m: (bool(old.get(m["id"])), m["alerts"], m["state"] == "online"))
    page.goto(f"{base}/view/device/{dev['id']}")
    expect(page.locator("figure.chart").first).to_be_attached(timeout=30000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(out / "device.png"))
    page.click(".range[data-range='7d']")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "device-7d.png"))
    device = http("GET", f"{base}/devices/{dev['id']}", token)
    page.goto(f"{base}/view/ward/{device['ward_set']}/{device['ward_code']}")
    expect(page.locator("#devices tbody tr").first).to_be_attached(timeout=30000)
    page.wait_for_timeout(2500)
    page.screenshot(path=str(out / "ward.png"))
    code19 = old.get(dev["id"])
    if code19:
        page.goto(f"{base}/view/ward/camau-2019/{code19}")
        expect(page.locator("#ward-name")).not_to_have_text("–", timeout=30000)
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / "ward-2019.png"))
    page.goto(f"{base}/view/trends?level=district&to=2019-12")
    expect(page.locator("figure.trend").first).to_be_attached(timeout=30000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(out / "trends-2019.png"))
    page.goto(f"{base}/view/trends?level=unit")
    expect(page.locator("#trend-table tbody tr").first).to_be_attached(timeout=30000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(out / "trends.png"))


def warning_shots(browser: Any, base: str, token: str, leader: tuple[str, str], wards: list[tuple[str, str]],
                  out: Path) -> None:
    """Public warnings: one in force on two wards (drafted by the admin, approved by a leader, published), one
    awaiting approval; the operator's wall with the panel and the map's hatching, then the leader's approval view."""
    from playwright.sync_api import expect

    leader_token = http("POST", f"{base}/auth/token", form={"username": leader[0], "password": leader[1]})["access_token"]
    salinity = http("POST", f"{base}/warnings", token, {"hazard": "salinity", "wards": [wards[0][0], wards[1][0]],
                                                         "values": {"value": 9.2, "intrusion_km": 32}})
    http("POST", f"{base}/warnings/{salinity['id']}/approve", leader_token, {"version": 1, "note": "Đồng ý phát hành."})
    http("POST", f"{base}/warnings/{salinity['id']}/publish", token)
    tide = http("POST", f"{base}/warnings", token, {"hazard": "high_tide", "wards": [wards[2][0]], "values": {"value": 145}})
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = ctx.new_page()
    page.goto(f"{base}/login?next=/")  # a leader lands on /summary otherwise
    page.fill("#username", leader[0])
    page.fill("#password", leader[1])
    page.click("#submit")
    page.wait_for_url(f"{base}/")
    expect(page.locator(f".warning-overlay path.warned[data-code='{wards[0][0]}']")).to_be_attached(timeout=30000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "operator-warnings.png"))
    page.locator(f"#warnings li.warning[data-id='{tide['id']}'] button.wn-open").click()
    expect(page.locator("#warning-review .cap-doc")).to_be_visible(timeout=30000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "warning-approval.png"))
    ctx.close()


def screen_shots(browser: Any, base: str, password: str, token: str, out: Path) -> None:
    """The operator wall (Vietnamese, salinity, English), the leaders' view of both sets and the drill-down views."""
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN",
                              timezone_id="Asia/Ho_Chi_Minh", accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{base}/login")
    page.screenshot(path=str(out / "login.png"))
    page.fill("#username", "dieuhanh")
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(f"{base}/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20000)
    expect(page.locator("svg.ward-map path.ward").first).to_be_attached(timeout=30000)
    page.wait_for_timeout(8000)  # live events arrive meanwhile
    page.screenshot(path=str(out / "operator.png"))
    page.click("#layers button[data-layer='salinity']")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "operator-salinity.png"))
    page.click("#lang")
    page.click("#layers button[data-layer='devices']")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "operator-en-devices.png"))
    page.click("#lang")
    page.goto(f"{base}/summary")
    expect(page.locator("svg.ward-map path.ward").first).to_be_attached(timeout=30000)
    page.click("#layers button[data-layer='ontime']")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "summary.png"))
    page.select_option("#set", "camau-2019")
    page.select_option("#level", "district")
    page.wait_for_timeout(3000)
    page.screenshot(path=str(out / "summary-2019-districts.png"))
    views(page, base, token, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds of simulator data before the shots")
    ap.add_argument("--devices", type=int, default=150)
    ap.add_argument("--warnings-only", action="store_true",
                    help="only the public-warning shots (operator-warnings, warning-approval): no one-stop-shop")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from bench._stack import bench_stack
    from geo.demo import ensure_demo
    from geo.service import set_in_force
    from ops_center.auth.users import create_user
    from ops_center.db import connect
    from tests.support.services import free_port

    procs: list[subprocess.Popen[bytes]] = []
    with bench_stack() as st:
        env = {**st.env, "OPS_INGEST_SHARE_GROUP": "shots", "OPS_INGEST_CLIENT_ID": "ingest-shots",
               "OPS_INGEST_METRICS_PORT": str(free_port())}
        logs = st.run_dir
        with connect(st.settings.database_url, autocommit=True) as conn:
            ensure_demo(conn, st.settings.data_dir, say=lambda _: None)
            set_name = set_in_force(conn)
            password = secrets.token_urlsafe(16)
            with conn.transaction():
                create_user(conn, "dieuhanh", password, "admin", "Trực ban điều hành")
                leader_password = secrets.token_urlsafe(16)
                create_user(conn, "lanhdao", leader_password, "leader", "Lãnh đạo trung tâm")
            warned = conn.execute("SELECT code, name FROM boundary_units WHERE set_name = %s AND level = 'ward' "
                                  "ORDER BY code OFFSET 20 LIMIT 3", (set_name,)).fetchall()
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            try:
                api_log = logs / "api.log"
                procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                                               "--port", str(port), "--log-level", "warning"], cwd=REPO, env=env,
                                              stdout=api_log.open("ab"), stderr=subprocess.STDOUT))
                wait_http(f"{base}/healthz", procs[-1], api_log)
                token = http("POST", f"{base}/auth/token", form={"username": "dieuhanh",
                                                                    "password": password})["access_token"]
                seed(base, token, conn, str(set_name), random.Random(20251125))
                if not args.warnings_only:
                    print("one-stop-shop: 2018-2019 (the seed report's years) at scale 0.1", flush=True)
                    subprocess.run([OPS, "simulate", "--onestop-only", "--no-live", "--history-from", "2018-01-01",
                                    "--history-to", "2019-12-31", "--onestop-scale", "0.1", "--api-url", base,
                                    "--onestop-state", str(logs / "onestop-2019.json"), "--onestop-key-owner",
                                    "dieuhanh"], cwd=REPO, env=env,
                                   check=True, stdout=(logs / "onestop-2019.log").open("ab"), stderr=subprocess.STDOUT)
                procs.append(subprocess.Popen([OPS, "ingest"], cwd=REPO, env=env,
                                              stdout=(logs / "ingest.log").open("ab"), stderr=subprocess.STDOUT))
                procs.append(subprocess.Popen(
                    [OPS, "simulate", "--devices", str(args.devices), "--interval", "5", "--stats-every", "0",
                     "--anomaly-rate", "salinity_spike=0.01", "--anomaly-rate", "flood_tide=0.01",
                     "--device-history-hours", "72", "--state", str(logs / "fleet.json"),
                     *([] if args.warnings_only else [
                         "--onestop", "--history-days", "600", "--onestop-scale", "0.05", "--citizen-reports", "120",
                         "--api-url", base, "--onestop-state", str(logs / "onestop.json"),
                         "--onestop-key-owner", "dieuhanh"])],
                    cwd=REPO, env=env, stdout=(logs / "simulator.log").open("ab"), stderr=subprocess.STDOUT))
                print(f"stack up on {base}; warming up {args.warmup:g} s", flush=True)
                time.sleep(args.warmup)
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                    if not args.warnings_only:
                        screen_shots(browser, base, password, token, out)
                    warning_shots(browser, base, token, ("lanhdao", leader_password), warned, out)
                    browser.close()
                if args.warnings_only:
                    print(f"screenshots written to {out}")
                    return 0
                pdf = http("GET", f"{base}/brief/daily.pdf", token)
                (logs / "brief.pdf").write_bytes(pdf)
                if shutil.which("pdftoppm"):
                    subprocess.run(["pdftoppm", "-r", "110", "-f", "1", "-l", "1", "-png", "-singlefile",
                                    str(logs / "brief.pdf"), str(out / "brief")], check=True)
                print(f"screenshots written to {out}")
            finally:
                for proc in reversed(procs):
                    proc.terminate()
                for proc in reversed(procs):
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
