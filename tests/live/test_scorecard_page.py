"""The leaders' scorecard page (``/view/scorecard``) in a real browser (Debian's Chromium through Playwright), served
by uvicorn on a database of its own: the real Cà Mau boundary sets and the hand-built data set of
``tests/scorecard`` (its units placed in real 2019 wards), so every figure on the page is one computed by hand in
``tests/scorecard/test_hand.py`` (June 2025) and ``test_api.py`` (May 2025)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ops_center.auth.users import create_user
from ops_center.db import connect
from ops_center.migrate import migrate
from tests.live.conftest import ARTIFACTS, Server, browser_login, start_server, stop_server
from tests.scorecard.data import load
from tests.support.services import database

pytestmark = pytest.mark.browser

JUNE = "from=2025-06-01&to=2025-06-30&period=month"
YELLOW, GREEN, ORANGE, RED, NO_DATA = "#f2c14e", "#2a9d8f", "#f46036", "#d7263d", "#3b4252"


@dataclass(frozen=True)
class Site:
    server: Server
    username: str
    password: str
    wards: tuple[str, str, str]


@pytest.fixture(scope="module")
def site(stack, settings) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    from geo.demo import ensure_demo

    with database("ops_sc_page") as url:
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
            ensure_demo(conn, settings.data_dir, say=lambda _: None)
            rows = conn.execute("SELECT code, parent_code FROM boundary_units WHERE set_name = 'camau-2019' "
                                "AND level = 'ward' ORDER BY parent_code, code").fetchall()
            first = rows[0]
            second = next(r for r in rows[1:] if r[1] == first[1])
            third = next(r for r in rows if r[1] != first[1])
            wards = (str(first[0]), str(second[0]), str(third[0]))
            load(conn, wards)
            password = secrets.token_urlsafe(12)
            create_user(conn, "lanh-dao", password, "leader")
        server = start_server(stack.env, ARTIFACTS / "uvicorn-scorecard.log", OPS_DATABASE_URL=url)
        try:
            yield Site(server, "lanh-dao", password, wards)
        finally:
            stop_server(server)


def open_page(page: Page, site: Site, query: str = JUNE) -> None:
    page.add_init_script("localStorage.setItem('ops.lang', 'vi')")
    browser_login(page, site.server, site.username, site.password, f"/view/scorecard?{query}")
    expect(page.locator("#total")).not_to_have_text("–", timeout=20000)


def fill(page: Page, ward: str) -> str | None:
    return page.locator(f'svg.ward-map path.ward[data-code="{ward}"]').get_attribute("fill")


def texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_the_page_shows_the_total_and_groups_against_may(page: Page, site: Site) -> None:
    open_page(page, site)
    expect(page.locator("#total")).to_have_text("57,56")  # 518/9 of 100 (test_hand)
    expect(page.locator("#total-change")).to_have_text(
        "▲ +47,2 · Kỳ trước (2025-05-01 – 2025-05-31): 10,36")  # May: 7.25 of 70 (test_api)
    expected = {"1": ("7 / 18", "Kỳ trước: 6"), "2": ("14 / 20", "Kỳ trước: 0"), "3": ("17,83 / 22", "Kỳ trước: 1,25"),
                "4": ("8,39 / 22", "Kỳ trước: 0"), "5": ("10,33 / 18", "Kỳ trước: 0")}
    for gid, (value, before) in expected.items():
        tile = page.locator(f'.sc-group[data-group="{gid}"]')
        expect(tile.locator(".sc-group-value")).to_have_text(value)
        expect(tile.locator(".sc-group-sub")).to_contain_text(before)
    expect(page.locator('.sc-group[data-group="4"] .tile-label')).to_have_text("Nhóm 4. Số hóa hồ sơ")
    ranked = [r.split("\t")[:3] for r in texts(page, "#ranking tbody tr")]
    assert ranked == [["1", "UBND xã Tân Lộc", "71,14"], ["2", "UBND xã Trí Phải", "40,6"],
                      ["3", "Sở Tư pháp", "31,3"]], ranked
    row = page.locator('#indicators tr[data-indicator="3.3"]')
    expect(row).to_contain_text("TTHC có giao dịch thanh toán trực tuyến")
    assert [c.strip() for c in row.locator("td").all_inner_texts()][4:] == ["1", "3", "33,3 %", "0,83"]
    assert not page.console_errors, page.console_errors  # type: ignore[attr-defined]


def test_a_drill_down_lists_the_dossiers_behind_a_figure(page: Page, site: Site) -> None:
    open_page(page, site, f"{JUNE}&page_size=2")
    page.get_by_role("button", name="UBND xã Tân Lộc").click()
    expect(page.locator("#viewing")).to_have_text("Đang xem: UBND xã Tân Lộc")
    numerator = page.locator('#indicators button[data-indicator="2.1"][data-side="numerator"]')
    expect(numerator).to_have_text("4")
    numerator.focus()
    page.keyboard.press("Enter")  # keyboard-usable
    expect(page.locator("#drill-table tbody tr")).to_have_count(2)
    page.locator("#drill-more").click()
    expect(page.locator("#drill-table tbody tr")).to_have_count(4)
    expect(page.locator("#drill-more")).to_be_hidden()
    ids = page.eval_on_selector_all("#drill-table tbody tr", "rs => rs.map(r => r.dataset.id)")
    assert ids == ["d1", "d2", "d3", "d5"]  # d4 was refused late (test_api's list)
    expect(page.locator("#drill-title")).to_have_text("Chi tiết: 2.1 · tử số · UBND xã Tân Lộc")
    page.locator("#back").click()
    late = page.locator('#indicators button[data-indicator="5.3"][data-side="late"]')
    expect(late).to_have_text("trễ hạn 1")
    late.click()
    expect(page.locator("#drill-table tbody tr")).to_have_count(1)
    assert page.locator("#drill-table tbody tr").get_attribute("data-id") == "d6"
    assert "Hạn" in texts(page, "#drill-table thead th")
    cells = [c.strip() for c in page.locator("#drill-table tbody td").all_inner_texts()]
    assert cells[:4] == ["d6", "PA", "U2", "Trực tuyến một phần"] and cells[-1] == "Giải quyết"
    page.screenshot(path=str(ARTIFACTS / "scorecard-page.png"), full_page=True)


def test_the_map_recolours_by_indicator(page: Page, site: Site) -> None:
    open_page(page, site)
    w1, w2, w3 = site.wards
    expect(page.locator("svg.ward-map path.ward").first).to_be_attached(timeout=20000)
    expect(page.locator("svg.ward-map")).to_have_attribute("data-layer", "sc_total")
    expect(page.locator(f'svg.ward-map path.ward[data-code="{w1}"]')).to_have_attribute("fill", YELLOW)  # 71.14
    assert (fill(page, w2), fill(page, w3)) == (RED, RED)  # 40.60, 31.30
    others = page.eval_on_selector_all("svg.ward-map path.ward", "ps => ps.map(p => p.getAttribute('fill'))")
    assert others.count(NO_DATA) == len(others) - 3  # the other wards have no data: not 0
    page.select_option("#indicator", "4.3")
    expect(page.locator("svg.ward-map")).to_have_attribute("data-layer", "sc_4_3")
    expect(page.locator(f'svg.ward-map path.ward[data-code="{w1}"]')).to_have_attribute("fill", GREEN)
    assert (fill(page, w2), fill(page, w3)) == (GREEN, RED)  # U2 offered copies on 30 June, U3 never
    expect(page.locator(".legend-title")).to_have_text(
        "4.3 Cung cấp dịch vụ chứng thực bản sao điện tử từ bản chính")
    expect(page.locator("#trend-title")).to_contain_text("4.3")
    assert "indicator=4.3" in page.url
    page.select_option("#indicator", "2.1")
    expect(page.locator(f'svg.ward-map path.ward[data-code="{w1}"]')).to_have_attribute("fill", YELLOW)  # 4/5
    assert fill(page, w2) == ORANGE  # 1/2


def test_the_english_switch_and_the_trend(page: Page, site: Site) -> None:
    open_page(page, site)
    expect(page.locator("h1")).to_contain_text("Bộ chỉ số 766 · Chất lượng phục vụ người dân, doanh nghiệp")
    page.locator("#lang").click()
    expect(page.locator("h1")).to_contain_text("Decision 766 index · Quality of service to citizens and businesses")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#total")).to_have_text("57.56")
    expect(page.locator('.sc-group[data-group="4"] .tile-label')).to_have_text("Group 4. Digitisation")
    expect(page.locator('#indicators tr[data-indicator="2.1"]')).to_contain_text("Dossiers handled on time")
    expect(page.locator("#indicator option[value='4.3']")).to_have_text("4.3 Electronic certified copies offered")
    months = texts(page, "#trend-table tbody td:first-child")
    assert months == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    june = [c.strip() for c in page.locator("#trend-table tbody tr").nth(5).locator("td").all_inner_texts()]
    assert june == ["2025-06", "57.56", "–"]  # nothing in June 2024
    expect(page.locator("svg.sc-chart circle[data-month='2025-06']")).to_have_attribute("data-value", "57.56")
    page.locator("#lang").click()
    expect(page.locator("#total")).to_have_text("57,56")
    expect(page.locator("#trend-title")).to_contain_text("Diễn biến theo tháng")


def test_exports_download_csv_and_xlsx(page: Page, site: Site, tmp_path: Any) -> None:
    open_page(page, site)
    with page.expect_download() as got:
        page.locator("#csv").click()
    path = tmp_path / "scorecard.csv"
    got.value.save_as(path)
    text = path.read_bytes().decode("utf-8-sig")
    assert got.value.suggested_filename == "bo-chi-so-766_unit_2025-06-01_2025-06-30.csv"
    assert "UBND xã Tân Lộc" in text and re.search(r"total,,Tổng,100\.0,,,,,,62\.6,88\.0,71\.14", text)
    with page.expect_download() as got:
        page.locator("#xlsx").click()
    got.value.save_as(tmp_path / "scorecard.xlsx")
    assert (tmp_path / "scorecard.xlsx").read_bytes()[:2] == b"PK"


def test_the_leaders_view_links_to_the_page(page: Page, site: Site) -> None:
    page.add_init_script("localStorage.setItem('ops.lang', 'vi')")
    browser_login(page, site.server, site.username, site.password, "/summary")
    link = page.get_by_role("link", name="Bộ chỉ số 766")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.server.url}/view/scorecard**")
    expect(page.locator("#window-label")).not_to_be_empty(timeout=20000)
