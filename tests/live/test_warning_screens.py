"""Public warnings on the screens, in a real browser (Debian's Chromium through Playwright) against the API served by
uvicorn on the test stack: a device publishes a salinity reading over MQTT, the real ingest process and a stream
rule raise an alert, the operator drafts a warning from it on the wall screen (the form filled by the template), a
leader in another browser context reviews the exact CAP document, approves and publishes it; the public Atom feed
lists it naming the ward, the operator's map outlines the ward, the drafter never gets an approve button (and the
server refuses anyway); the leaders' view and the daily brief list it; update and cancel from the screen."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.live.conftest import ARTIFACTS, browser_login, salinity_station, some_ward, tag

pytestmark = pytest.mark.browser
ATOM = {"a": "http://www.w3.org/2005/Atom"}
CAP = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}


def call(server, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    req = urllib.request.Request(f"{server.url}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def public(server, path: str) -> bytes:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(f"{server.url}{path}", timeout=30) as r:  # no credentials
        return r.read()  # type: ignore[no-any-return]


def open_wall(page, server, who) -> None:  # type: ignore[no-untyped-def]
    browser_login(page, server, who.username, who.password)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15000)
    expect(page.locator("svg.ward-map path.ward").first).to_be_attached(timeout=30000)


@contextmanager
def second_page(browser) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Another person's browser: its own context (its own sessionStorage, so its own sign-in)."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN",
                              timezone_id="Asia/Ho_Chi_Minh")
    pg = ctx.new_page()
    pg.console_errors = []
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()


def feed_lists(server, identifier: str) -> bool:  # type: ignore[no-untyped-def]
    root = etree.fromstring(public(server, "/cap/feed.atom"))
    return any((e.text or "").endswith(f"/{identifier}.xml") for e in root.findall("a:entry/a:id", ATOM))


def until(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_operator_drafts_from_an_mqtt_alert_a_leader_approves_and_publishes(  # type: ignore[no-untyped-def]
        page, browser, live_server, login, camau, db, stack, tmp_path) -> None:
    ward = some_ward(db, camau, 9)
    op, leader = login("operator"), login("leader")
    with salinity_station(db, stack, tmp_path, ward) as (device, send):
        open_wall(page, live_server, op)
        send(6.5)
        alert = page.locator("#alerts li.alert", has_text=device)
        expect(alert).to_be_visible(timeout=10000)

        # the form, filled by the salinity template from the alert
        alert.locator("button.wn-draft").click()
        form = page.locator("#warning-form")
        expect(form).to_be_visible()
        expect(form.locator("select[name=hazard]")).to_have_value("salinity", timeout=10000)
        expect(form.locator(f".chips li[data-code='{ward['code']}']")).to_contain_text(ward["name"])
        expect(form.locator("input[name='texts.vi.headline']")).to_have_value(f"Cảnh báo xâm nhập mặn 6,5‰ tại {ward['name']}")
        expect(form.locator("input[name='texts.en.headline']")).to_have_value(f"Salinity warning: 6.5‰ in {ward['name']}")
        expect(form.locator("select[name=severity]")).to_be_disabled()  # follows the Decision 18 level
        instruction = form.locator("textarea[name='texts.vi.instruction']")
        instruction.fill(instruction.input_value() + " Liên hệ UBND xã khi cần hỗ trợ.")
        page.screenshot(path=str(ARTIFACTS / "warning-form.png"))
        form.locator("button[name=save]").click()

        # saved: the drafter's view of it has no approve button
        review = page.locator("#warning-review")
        expect(review.locator(".cap-doc")).to_be_visible(timeout=10000)
        expect(review.locator(".wn-open-status")).to_have_attribute("data-status", "draft")
        expect(review.locator("button[name=approve]")).to_have_count(0)
        expect(review.locator("button[name=reject]")).to_have_count(0)
        expect(review.locator(".cap-info[lang=vi]")).to_contain_text("Liên hệ UBND xã khi cần hỗ trợ.")
        page.screenshot(path=str(ARTIFACTS / "warning-drafted.png"))
        review.locator("button[name=close]").click()
        item = page.locator("#warnings li.warning[data-group=approval]", has_text=ward["name"]).first
        expect(item).to_be_visible()
        warning_id = int(item.get_attribute("data-id"))
        status, body = call(live_server, op.token, "POST", f"/warnings/{warning_id}/approve", {"version": 1})
        assert status == 403, body  # the server refuses anyway (an operator has no right to publish)

        # a leader, in another browser, reviews the exact document, approves and publishes
        with second_page(browser) as lp:
            open_wall(lp, live_server, leader)
            mine = lp.locator(f"#warnings li.warning[data-id='{warning_id}']")
            expect(mine).to_have_attribute("data-group", "approval", timeout=10000)
            mine.locator("button.wn-open").click()
            lreview = lp.locator("#warning-review")
            expect(lreview.locator(".cap-area, .cap-areas li").first).to_contain_text(ward["name"], timeout=10000)
            expect(lreview.locator(".cap-areas li").first).to_have_attribute("data-geocode", ward["code"])
            expect(lreview.locator(".cap-doc")).to_have_attribute("data-msg-type", "Alert")
            lp.screenshot(path=str(ARTIFACTS / "warning-approval.png"))
            lreview.locator("button[name=approve]").click()
            expect(lreview.locator(".wn-open-status")).to_have_attribute("data-status", "approved", timeout=10000)
            lreview.locator("button[name=publish]").click()
            expect(lreview.locator(".wn-status [data-state]")).to_have_attribute("data-state", "active", timeout=10000)
            lreview.locator("button[name=close]").click()
            leaders_view_and_brief_list_it(lp, live_server, warning_id, ward, tmp_path)
            assert not lp.console_errors, lp.console_errors

        # the operator's wall follows live: the warning is in force, the ward is outlined on the map
        expect(page.locator(f"#warnings li.warning[data-id='{warning_id}']")).to_have_attribute(
            "data-group", "active", timeout=10000)
        warned = page.locator(f"svg.ward-map .warning-overlay path.warned[data-code='{ward['code']}']")
        expect(warned).to_have_attribute("data-severity", "Minor", timeout=15000)
        expect(page.locator("#warning-legend .legend-title")).to_have_text("Cảnh báo công cộng đang hiệu lực")
        page.click("#warnings-toggle")
        expect(page.locator("#warnings-toggle")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("svg.ward-map .warning-overlay")).to_be_hidden()
        page.click("#warnings-toggle")
        assert not page.console_errors, page.console_errors

    # the public feed lists it; its document names the ward
    status, w = call(live_server, op.token, "GET", f"/warnings/{warning_id}")
    identifier = w["identifier"]
    assert until(lambda: feed_lists(live_server, identifier)), "not in the public feed"
    doc = etree.fromstring(public(live_server, f"/cap/messages/{identifier}.xml"))
    assert [e.text for e in doc.findall("cap:info/cap:area/cap:areaDesc", CAP)] == [ward["name"]] * 2
    assert [e.text for e in doc.findall("cap:info/cap:area/cap:geocode/cap:value", CAP)] == [ward["code"]] * 2
    assert "Liên hệ UBND xã khi cần hỗ trợ." in doc.findtext("cap:info/cap:instruction", namespaces=CAP)
    assert w["messages"][0]["approved_by"] == leader.username and w["messages"][0]["drafted_by"] == op.username


def leaders_view_and_brief_list_it(page, server, warning_id: int, ward: dict[str, Any], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """/summary lists the warning issued today (hazard, severity, wards, status) and its brief has it in section 6."""
    page.goto(f"{server.url}/summary")
    row = page.locator(f"#wn-issued tr[data-id='{warning_id}']")
    expect(row).to_contain_text(ward["name"], timeout=20000)
    expect(row).to_contain_text("Xâm nhập mặn")
    expect(row).to_contain_text("Đang hiệu lực")
    expect(page.locator("#wn-counts")).to_contain_text("Xâm nhập mặn")
    page.screenshot(path=str(ARTIFACTS / "summary-warnings.png"), full_page=True)
    with page.expect_download(timeout=60000) as dl:
        page.click("#brief")
    pdf = tmp_path / "brief.pdf"
    dl.value.save_as(pdf)
    text = " ".join(subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                   check=True).stdout.decode().split())
    section = text[text.index("6. Cảnh báo công cộng (CAP) phát hành trong ngày"):]
    assert all(word in section for word in ward["name"].split()), section


def published_warning(client, login, db, ward: dict[str, Any], value: float) -> tuple[dict[str, Any], Any, Any]:  # type: ignore[no-untyped-def]
    """A warning drafted from a salinity alert and published through the API (another process than the screens':
    the live feed carries its steps to them)."""
    from tests.warnings.conftest import fire_alert as fire_salinity
    from tests.warnings.conftest import publish_flow

    op, leader = login("operator"), login("leader")
    alert = fire_salinity(db, ward=ward["code"], value=value)
    return publish_flow(client, op, leader, {"alerts": [alert["id"]]}), op, leader


def test_update_and_cancel_from_the_screen(page, live_server, client, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    from tests.warnings.conftest import approve_and_publish

    ward = some_ward(db, camau, 21)
    w, op, leader = published_warning(client, login, db, ward, 5.2)
    open_wall(page, live_server, op)
    item = page.locator(f"#warnings li.warning[data-id='{w['id']}']")
    expect(item).to_have_attribute("data-group", "active", timeout=10000)
    expect(page.locator(f".warning-overlay path.warned[data-code='{ward['code']}']")).to_be_attached(timeout=10000)

    # Update: the form starts from the published message; a new value changes the band, level and texts
    item.locator("button.wn-open").click()
    review = page.locator("#warning-review")
    expect(review.locator("button[name=approve]")).to_have_count(0)
    review.locator("button[name=update]").click()
    form = page.locator("#warning-form")
    expect(form.locator("input[name='values.value']")).to_have_value("5.2")
    form.locator("input[name='values.value']").fill("9.3")
    form.locator("button[name=recompose]").click()
    expect(form.locator("input[name='texts.vi.headline']")).to_have_value(
        f"Cảnh báo xâm nhập mặn cao: 9,3‰ tại {ward['name']}", timeout=10000)
    expect(form.locator("select[name=severity] option[value='']")).to_contain_text("Trung bình")
    form.locator("button[name=save]").click()
    expect(review.locator(".cap-doc")).to_have_attribute("data-msg-type", "Update", timeout=10000)
    expect(review.locator(".cap-doc")).to_contain_text(w["identifier"])  # references the published Alert
    detail = client.get(f"/warnings/{w['id']}", headers=op.headers).json()
    approve_and_publish(client, detail, op, leader)
    expect(review.locator(".wn-status [data-state]")).to_have_attribute("data-state", "updated", timeout=10000)

    # Cancel, with a reason; once approved and published the warning ends and leaves the map
    review.locator("button[name=cancel]").click()
    review.locator("textarea[name=reason]").fill("Độ mặn đã giảm dưới ngưỡng, cống đã đóng.")
    review.locator("button[name=cancel-submit]").click()
    expect(review.locator(".cap-doc")).to_have_attribute("data-msg-type", "Cancel", timeout=10000)
    expect(review.locator(".cap-doc")).to_contain_text("Độ mặn đã giảm dưới ngưỡng, cống đã đóng.")
    detail = client.get(f"/warnings/{w['id']}", headers=op.headers).json()
    approve_and_publish(client, detail, op, leader)
    expect(item).to_have_attribute("data-group", "ended", timeout=10000)
    expect(item).to_have_attribute("data-state", "cancelled")
    expect(page.locator(f".warning-overlay path.warned[data-code='{ward['code']}']")).to_have_count(0, timeout=15000)
    assert not page.console_errors, page.console_errors


def test_english_and_the_drafter_who_may_publish(page, browser, live_server, client, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    """An admin may draft and publish, but not approve what they drafted: no approve button for them, one for
    another admin; the screens switch to English."""
    from tests.live.conftest import fire_alert

    ward = some_ward(db, camau, 30)
    alert = fire_alert(db, ward["code"], f"Độ mặn 7,1‰ tại cống Tắc Thủ ({tag()})", "major")
    admin, admin2 = login("admin"), login("admin")
    open_wall(page, live_server, admin)
    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator(f"#alerts li.alert[data-id='{alert['id']}'] button.wn-draft").click()
    form = page.locator("#warning-form")
    expect(form.locator("h2, legend").first).to_be_visible()
    expect(page.locator("#warning-form-title")).to_have_text("Draft a public warning")
    expect(form.locator("select[name=hazard]")).to_have_value("salinity", timeout=10000)
    form.locator("button[name=save]").click()
    review = page.locator("#warning-review")
    expect(review.locator(".wn-open-status")).to_have_text("Draft", timeout=10000)
    expect(review.locator("button[name=approve]")).to_have_count(0)
    expect(review).to_contain_text("Two-person rule")
    warning_id = int(page.locator("#warning-review-title").inner_text().split("#")[1].split()[0])
    with second_page(browser) as other:
        open_wall(other, live_server, admin2)
        other.locator(f"#warnings li.warning[data-id='{warning_id}'] button.wn-open").click()
        expect(other.locator("#warning-review button[name=approve]")).to_be_visible(timeout=10000)
    page.keyboard.press("Escape")  # the dialog closes, the focus goes back where it was
    expect(review).to_have_count(0)
    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "vi")


def test_an_alert_no_template_fits_asks_for_the_hazard(page, live_server, login, camau, db) -> None:  # type: ignore[no-untyped-def]
    """A rain alert names no hazard: the form says so naming the field, the operator picks one, the template fills."""
    from tests.warnings.conftest import fire_alert as fire_metric

    ward = some_ward(db, camau, 33)
    alert = fire_metric(db, ward=ward["code"], value=92.0, metric="rain_mm")
    open_wall(page, live_server, login("operator"))
    page.locator(f"#alerts li.alert[data-id='{alert['id']}'] button.wn-draft").click()
    form = page.locator("#warning-form")
    expect(form.locator(".form-error")).to_contain_text("hazard", timeout=10000)
    expect(form.locator("select[name=hazard]")).to_have_attribute("aria-invalid", "true")
    form.locator("select[name=hazard]").select_option("erosion")
    expect(form.locator(".form-error")).to_be_hidden(timeout=10000)
    expect(form.locator(f".chips li[data-code='{ward['code']}']")).to_be_visible()
    expect(form.locator("input[name='texts.vi.headline']")).not_to_have_value("")
    expect(form.locator("select[name=risk_level]")).to_be_visible()  # bank erosion: Decision 18 levels 1-3
    others = [e for e in page.console_errors if "status of 422" not in e]  # the browser logs the refused compose
    assert not others, others
