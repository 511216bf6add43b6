"""The national screen in a real browser (Playwright driving Debian's Chromium): log in, wait for the 34
provinces to be drawn and coloured, save a 1920×1080 screenshot. Used by the deployment test and by
``make national-demo`` to refresh ``docs/screenshots/national.png``.

Run against a running national instance: ``.venv/bin/python scripts/national_screenshot.py URL USER PASSWORD OUT``
"""

from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def capture(base: str, username: str, password: str, out: Path) -> Path:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN",
                                      timezone_id="Asia/Ho_Chi_Minh")
            page = ctx.new_page()
            page.goto(f"{base}/login?next=/national")
            page.fill("#username", username)
            page.fill("#password", password)
            page.click("#submit")
            page.wait_for_url(f"{base}/national")
            expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=30000)
            expect(page.locator("#map path")).to_have_count(34, timeout=10000)
            expect(page.locator("#ranking tbody tr")).to_have_count(34)
            coloured = page.locator("#map path:not([fill='#3b4252'])").count()
            if coloured < 1:
                raise AssertionError("no province is coloured")
            page.wait_for_timeout(500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    print(capture(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
