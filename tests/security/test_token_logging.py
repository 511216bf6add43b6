"""Issue #11 item 11: no token, API key or password in a log line or an audit row.

A real uvicorn process with its access log on (``--log-level info``) is sent what careless clients send —
``/ws/live?token=JWT`` (the old way, now refused), ``?token=`` and ``?api_key=`` on HTTP routes, a password typed
into the user-name field — and the captured log and the audit rows are searched for the secrets."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ops_center.redact import install_log_redaction
from tests.live.conftest import Server, recv_until, ws_connect
from tests.security.support_hauth import api_process, closed_code, http, new_account, password_login


def test_secrets_never_reach_the_access_log_or_the_audit(stack, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "uvicorn.log"
    with api_process(stack, log, "info") as server:
        jwt, key, password, url_token_close = _exercise(server, db)
    text = log.read_text()
    for secret in (jwt, jwt.split(".")[2], key.split("_", 2)[2], password):
        assert secret not in text, f"{secret[:12]}… found in the log"
    assert '"WebSocket /ws/live?token=[redacted]' in text  # the lines were logged, redacted
    assert "GET /auth/me?token=[redacted]" in text
    assert "api_key=[redacted]" in text
    assert url_token_close == 4401  # and a token in the URL does not open the feed
    rows = db.execute("SELECT actor, target, detail::text FROM audit_log WHERE at > now() - interval '5 minutes'"
                      ).fetchall()
    flat = json.dumps(rows, default=str)
    assert password not in flat and jwt not in flat
    assert ("unknown-user", "session", "{}") in [tuple(r) for r in rows]


def _exercise(server: Server, db) -> tuple[str, str, str, int | None]:  # type: ignore[no-untyped-def]
    op, admin = new_account(db, "operator", "logs"), new_account(db, "admin", "logs")
    jwt = password_login(server.url, op.username, op.password).json()["access_token"]
    admin_jwt = password_login(server.url, admin.username, admin.password).json()["access_token"]
    with connect(f"ws://127.0.0.1:{server.port}/ws/live?token={jwt}", open_timeout=10) as ws:
        try:
            url_token_close: int | None = closed_code(ws, 3)
        except AssertionError:
            url_token_close = None  # it stayed open
    with ws_connect(server, jwt) as ws:  # the right way: the token in the first message
        assert recv_until(ws, lambda m: m.get("type") == "hello")["user"] == op.username
    assert http(f"{server.url}/auth/me?token={jwt}", headers={"Authorization": f"Bearer {jwt}"}).status == 200
    made = http(f"{server.url}/api-keys", "POST", data=json.dumps({"name": "citizen-app", "role": "integration"}
                                                                   ).encode(),
                headers={"Authorization": f"Bearer {admin_jwt}", "Content-Type": "application/json"})
    key = made.json()["key"]
    http(f"{server.url}/open311/v2/requests.json?api_key={key}&service_code=x")
    password = f"Typed-in-the-name-field-{time.time_ns()}"
    assert password_login(server.url, password, "whatever-else").status == 401
    time.sleep(0.5)  # the access log line of the last request is written after its response
    return jwt, key, password, url_token_close


def test_our_own_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    with caplog.at_level(logging.INFO, logger="ops.test"):
        logging.getLogger("ops.test").info("calling %s with %s", "/x?password=hunter22", {"auth": f"Bearer {jwt}"})
        try:
            raise ValueError(f"bad key ops_0123456789ab_{'s' * 40}")
        except ValueError:
            logging.getLogger("ops.test").exception("failed")
    text = caplog.text
    assert "hunter22" not in text and jwt not in text and "s" * 40 not in text
    assert "password=[redacted]" in text and "ops_0123456789ab_[redacted]" in text
