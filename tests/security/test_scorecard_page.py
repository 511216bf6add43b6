"""The leaders' scorecard page (``/view/scorecard``, issue #14): like every screen it is public and holds no data —
the page and its scripts are served to anyone with the screens' security headers, and every figure it shows comes
from API routes that refuse a caller without a token (their role matrix: ``test_scorecard_routes.py``)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

SCRIPTS = ("scorecard.js", "scorecard-drill.js", "scorecard-chart.js", "strings-scorecard.js")
CALLED = ("/scorecard/definition", "/scorecard/compare", "/scorecard/ranking", "/scorecard/trend",
          "/scorecard/indicators/2.1/items", "/scorecard/export.csv", "/scorecard/export.xlsx", "/map/summary")


def test_the_page_is_public_carries_no_data_and_its_api_is_not(client: TestClient) -> None:
    page = client.get("/view/scorecard", params={"from": "2025-06-01", "code": "<script>alert(1)</script>"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"
    assert "<script>alert" not in page.text and not re.search(r"\d+,\d\d", page.text)  # no figure, nothing echoed
    for name in SCRIPTS:
        js = client.get(f"/static/js/{name}")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript"), name
        assert "innerHTML" not in js.text, name  # text is set as text, never parsed as HTML
    for path in CALLED:
        r = client.get(path)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json"), path
