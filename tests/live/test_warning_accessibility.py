"""The public-warning screens pass axe-core (the pinned copy of tests/live/test_accessibility.py) with no serious or
critical violation, in Vietnamese and in English: the operator screen with warnings on the map and in the panel,
the drafting form, the approval view, and the leaders' block of warnings issued. The keyboard does the work: Tab to
"Draft warning", Enter opens the form, Escape closes it and gives the focus back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.live.conftest import browser_login, fire_alert, some_ward, tag
from tests.live.test_accessibility import a11y_page, axe_path, check  # noqa: F401 - fixtures used below

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def warned(client, login, camau, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A warning in force (published through the API) and a firing alert to draft from."""
    from ops_center.db import connect
    from tests.warnings.conftest import fire_alert as fire_salinity
    from tests.warnings.conftest import publish_flow

    with connect(settings.database_url, autocommit=True) as db:
        ward = some_ward(db, camau, 40)
        w = publish_flow(client, login("operator"), login("leader"),
                         {"alerts": [fire_salinity(db, ward=ward["code"], value=8.6)["id"]]})
        alert = fire_alert(db, some_ward(db, camau, 41)["code"], f"Độ mặn 6,2‰ tại cống Cái Đôi Vàm ({tag()})", "major")
    return {"warning": w, "ward": ward, "alert": alert}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_warning_screens_pass_axe(a11y_page, live_server, login, warned, axe_path, lang: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = a11y_page
    op = login("operator")
    browser_login(page, live_server, op.username, op.password)
    if lang == "en":
        page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator(f".warning-overlay path.warned[data-code='{warned['ward']['code']}']")).to_be_attached(
        timeout=30000)
    expect(page.locator(f"#warnings li.warning[data-id='{warned['warning']['id']}']")).to_be_visible()
    check(page, axe_path, f"operator-warnings-{lang}")

    draft = page.locator(f"#alerts li.alert[data-id='{warned['alert']['id']}'] button.wn-draft")
    expect(draft).to_be_visible(timeout=10000)
    draft.focus()
    page.keyboard.press("Enter")
    form = page.locator("#warning-form")
    expect(form.locator("select[name=hazard]")).to_have_value("salinity", timeout=10000)
    expect(form.locator("select[name=hazard]")).to_be_focused()
    check(page, axe_path, f"warning-form-{lang}")
    page.keyboard.press("Escape")
    expect(form).to_have_count(0)
    expect(draft).to_be_focused()

    page.keyboard.press("Enter")
    expect(form.locator("button[name=save]")).to_be_visible(timeout=10000)
    form.locator("button[name=save]").focus()
    page.keyboard.press("Enter")
    review = page.locator("#warning-review")
    expect(review.locator(".cap-doc")).to_be_visible(timeout=10000)
    check(page, axe_path, f"warning-review-{lang}")
    page.keyboard.press("Escape")
    expect(review).to_have_count(0)

    page.goto(f"{live_server.url}/summary")
    expect(page.locator(f"#wn-issued tr[data-id='{warned['warning']['id']}']")).to_be_visible(timeout=30000)
    check(page, axe_path, f"summary-warnings-{lang}")
    assert not page.console_errors, page.console_errors
