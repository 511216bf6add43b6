"""Every view passes an automated accessibility check (axe-core 4.14.1 from npm, pinned in tools/web, run in
Chromium) with no serious or critical violations, in Vietnamese and in English; the keyboard reaches and works the
map (wards, zoom) and the charts' range buttons. Reports go to test-artifacts/axe-*.json."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.live.conftest import ARTIFACTS, REPO, add_device, browser_login, fire_alert, some_ward, tag

pytestmark = pytest.mark.browser
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="session")
def axe_path() -> Path:
    out = subprocess.run(["bash", str(REPO / "scripts" / "web-deps.sh")], capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip().splitlines()[-1]) / "axe-core" / "axe.min.js"
    assert path.is_file(), out.stderr
    return path


@pytest.fixture
def a11y_page(browser, request) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A page whose context may inject axe (CSP bypassed for the injected script only)."""
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN",
                              timezone_id="Asia/Ho_Chi_Minh", bypass_csp=True)
    pg = ctx.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def check(page, axe_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(axe_path))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [n["target"] for n in v["nodes"][:10]]} for v in result["violations"]]
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, ensure_ascii=False, indent=1))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: {json.dumps(blocking, ensure_ascii=False, indent=1)}"


@pytest.fixture(scope="module")
def seeded(db_module, camau):  # type: ignore[no-untyped-def]
    dev = f"a11y-{tag()}"
    ward19 = some_ward(db_module, "camau-2019", 33)
    add_device(db_module, dev, ward19)
    code = db_module.execute("SELECT ward_code FROM devices WHERE id = %s", (dev,)).fetchone()[0]
    fire_alert(db_module, code, f"Độ mặn vượt ngưỡng ({tag()})", "major", device=dev)
    return {"device": dev, "ward": code, "ward19": ward19["code"], "set": camau}


@pytest.fixture(scope="module")
def db_module(settings):  # type: ignore[no-untyped-def]
    from ops_center.db import connect

    with connect(settings.database_url, autocommit=True) as conn:
        yield conn


VIEWS = {
    "operator": ("/", "svg.ward-map path.ward"),
    "summary": ("/summary", "#units tbody tr"),
    "devices": ("/view/devices", "#devices tbody tr"),
    "device": ("/view/device/{device}", "figure.chart"),
    "ward": ("/view/ward/{set}/{ward}", "#devices tbody tr"),
    "ward-2019": ("/view/ward/camau-2019/{ward19}", "#ward-name"),
    "trends": ("/view/trends?level=unit", "figure.trend"),
}


def test_login_page(a11y_page, live_server, axe_path) -> None:  # type: ignore[no-untyped-def]
    a11y_page.goto(f"{live_server.url}/login")
    expect(a11y_page.locator("#username")).to_be_visible()
    check(a11y_page, axe_path, "login")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_view(a11y_page, live_server, login, seeded, axe_path, lang: str) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    first = True
    for name, (path, ready) in VIEWS.items():
        url = path.format(**seeded)
        if first:
            browser_login(a11y_page, live_server, op.username, op.password, url.split("?")[0])
            if lang == "en":
                a11y_page.click("#lang")
            first = False
        a11y_page.goto(f"{live_server.url}{url}")
        expect(a11y_page.locator(ready).first).to_be_attached(timeout=30000)
        expect(a11y_page.locator("html")).to_have_attribute("lang", lang)
        a11y_page.wait_for_timeout(300)
        check(a11y_page, axe_path, f"{name}-{lang}")
    assert not a11y_page.console_errors, a11y_page.console_errors


def test_keyboard_map_and_ranges(a11y_page, live_server, login, seeded) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    browser_login(a11y_page, live_server, op.username, op.password, "/view/devices")
    page = a11y_page
    ward = page.locator(f"svg.ward-map path.ward[data-code='{seeded['ward']}']")
    expect(ward).to_be_attached(timeout=30000)
    ward.focus()
    page.keyboard.press("+")
    page.keyboard.press("+")
    expect(page.locator("svg.ward-map")).to_have_attribute("data-zoom", "2.25")
    page.keyboard.press("0")
    expect(page.locator("svg.ward-map")).to_have_attribute("data-zoom", "1.00")
    cluster = page.locator("svg.ward-map .cluster").first
    if cluster.count():
        cluster.focus()
        page.keyboard.press("Enter")
        expect(page.locator("svg.ward-map")).not_to_have_attribute("data-zoom", "1.00")
    ward.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/view/ward/{seeded['set']}/{seeded['ward']}")
    page.goto(f"{live_server.url}/view/device/{seeded['device']}")
    expect(page.locator("figure.chart").first).to_be_attached(timeout=30000)
    page.locator(".range[data-range='7d']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".range[data-range='7d']")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the "custom" range
    expect(page.locator("#custom")).to_be_visible()
    expect(page.locator("#from")).to_be_focused()
