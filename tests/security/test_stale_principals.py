"""Issue #11 item 3: a token or an API key carries only the power its account has now.

HTTP through the real ASGI app (the session's ``client``), the live feed through a real uvicorn process and a real
WebSocket client. Accounts are changed the way an administrator (or a script) would: in the ``users`` table."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ops_center.auth.users import create_user
from tests.live.conftest import Server, recv_until, subscribe, ws_connect
from tests.security.support_hauth import (
    Account,
    api_process,
    closed_code,
    eventually,
    new_account,
    password_login,
)


@pytest.fixture(scope="module")
def api_server(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    with api_process(stack, tmp_path_factory.mktemp("stale") / "uvicorn.log") as server:
        yield server


CACHE_S = 2.0  # OPS_AUTH_CACHE_S: an account change reaches every request within this (sooner with the NOTIFY)
PROMPT_S = 3.0  # a live socket of a changed account is closed within this (NOTIFY; the 5 s timer is the backstop)


def token_of(client: TestClient, account: Account) -> dict[str, str]:
    r = client.post("/auth/token", data={"username": account.username, "password": account.password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def signed_in(client: TestClient, db, role: str) -> tuple[Account, dict[str, str]]:  # type: ignore[no-untyped-def]
    account = new_account(db, role)
    return account, token_of(client, account)


def status_becomes(client: TestClient, path: str, headers: dict[str, str], status: int,
                   method: str = "GET", body: dict[str, str] | None = None) -> None:
    eventually(lambda: client.request(method, path, headers=headers, json=body).status_code == status,
               CACHE_S + 3, f"{method} {path} answers {status}")


def test_disabled_account_token_is_refused(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    op, headers = signed_in(client, db, "operator")
    assert client.get("/auth/me", headers=headers).status_code == 200
    db.execute("UPDATE users SET disabled = true WHERE id = %s", (op.id,))
    status_becomes(client, "/auth/me", headers, 401)
    r = client.get("/alerts", headers=headers)
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    assert client.post("/auth/refresh", headers=headers).status_code == 401


def test_deleted_account_token_is_refused_also_for_refresh(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    op, headers = signed_in(client, db, "operator")
    db.execute("DELETE FROM users WHERE id = %s", (op.id,))
    status_becomes(client, "/auth/me", headers, 401)
    r = client.post("/auth/refresh", headers=headers)
    assert r.status_code == 401 and "no longer exists" in r.json()["detail"]


def test_a_new_account_with_a_removed_accounts_name_does_not_inherit_its_tokens(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    old, headers = signed_in(client, db, "admin")
    db.execute("DELETE FROM users WHERE id = %s", (old.id,))
    create_user(db, old.username, "another-password-123", "admin")
    status_becomes(client, "/users", headers, 401)


def test_demoted_admin_loses_admin_routes_at_once(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    boss, headers = signed_in(client, db, "admin")
    assert client.get("/users", headers=headers).status_code == 200
    db.execute("UPDATE users SET role = 'leader' WHERE id = %s", (boss.id,))
    status_becomes(client, "/users", headers, 403)
    assert client.get("/auth/me", headers=headers).json()["role"] == "leader"
    refreshed = client.post("/auth/refresh", headers=headers)
    assert refreshed.status_code == 200 and refreshed.json()["role"] == "leader"


def test_a_deleted_admins_token_cannot_mint_an_api_key(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    boss, headers = signed_in(client, db, "admin")
    db.execute("DELETE FROM users WHERE id = %s", (boss.id,))
    status_becomes(client, "/api-keys", headers, 401, "POST", {"name": "backdoor", "role": "admin"})
    assert db.execute("SELECT count(*) FROM api_keys WHERE created_by = %s", (boss.username,)).fetchone()[0] == 0


def test_an_api_key_keeps_power_only_while_its_owner_is_an_enabled_admin(client: TestClient, db) -> None:  # type: ignore[no-untyped-def]
    boss = new_account(db, "admin")
    r = client.post("/api-keys", headers=token_of(client, boss), json={"name": "one-stop-shop", "role": "admin"})
    assert r.status_code == 201, r.text
    key = {"X-API-Key": r.json()["key"]}
    assert client.get("/users", headers=key).status_code == 200
    minted = client.post("/api-keys", headers=key, json={"name": "minted-by-a-key", "role": "integration"})
    assert minted.status_code == 201  # a key minted by a key belongs to the same owner
    child = {"X-API-Key": minted.json()["key"]}

    for change, undo in (("disabled = true", "disabled = false"), ("role = 'operator'", "role = 'admin'")):
        db.execute(f"UPDATE users SET {change} WHERE id = %s", (boss.id,))
        for headers in (key, child):
            status_becomes(client, "/auth/me", headers, 401)
        assert client.post("/api-keys", headers=key, json={"name": "x", "role": "admin"}).status_code == 401
        db.execute(f"UPDATE users SET {undo} WHERE id = %s", (boss.id,))
        status_becomes(client, "/auth/me", key, 200)

    db.execute("DELETE FROM users WHERE id = %s", (boss.id,))
    r = client.get("/users", headers=key)
    assert r.status_code == 401 and "owner no longer exists" in r.json()["detail"]
    assert client.get("/auth/me", headers=child).status_code == 401
    owner = db.execute("SELECT owner_id, created_by FROM api_keys WHERE id = %s", (minted.json()["id"],)).fetchone()
    assert owner == (None, boss.username)  # the key outlives its owner in the table (audit), powerless


def _live_operator(server: Server, db, role: str = "operator"):  # type: ignore[no-untyped-def]
    account = new_account(db, role)
    token = password_login(server.url, account.username, account.password).json()["access_token"]
    return account, token


@pytest.mark.parametrize("role, change, code", [
    ("operator", "UPDATE users SET disabled = true WHERE id = %s", 4401),
    ("operator", "DELETE FROM users WHERE id = %s", 4401),
    ("leader", "UPDATE users SET role = 'integration' WHERE id = %s", 4403),
], ids=["disabled", "deleted", "out-of-staff"])
def test_live_socket_of_a_changed_account_is_closed_promptly(api_server: Server, db, role: str, change: str,  # type: ignore[no-untyped-def]
                                                              code: int) -> None:
    account, token = _live_operator(api_server, db, role)
    with ws_connect(api_server, token) as ws:
        subscribe(ws, ["alert"])
        db.execute(change, (account.id,))  # type: ignore[arg-type]
        assert closed_code(ws, PROMPT_S) == code
    with ws_connect(api_server, token) as ws:  # and it cannot come back
        assert closed_code(ws, PROMPT_S) == code


def test_live_socket_follows_a_change_between_staff_roles(api_server: Server, db) -> None:  # type: ignore[no-untyped-def]
    admin, token = _live_operator(api_server, db, "admin")
    with ws_connect(api_server, token) as ws:
        subscribe(ws, ["alert"])
        db.execute("UPDATE users SET role = 'leader' WHERE id = %s", (admin.id,))
        msg = recv_until(ws, lambda m: m.get("type") == "principal", timeout=PROMPT_S)
        assert msg["role"] == "leader"
        ws.send(json.dumps({"type": "ping", "t": 1}))
        assert recv_until(ws, lambda m: m.get("type") == "pong")["t"] == 1  # still open: same feed for staff
