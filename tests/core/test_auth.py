"""Authentication and authorisation through the real ASGI app: 401/403 as problem+json, JWT expiry and tampering,
hashed passwords, API keys, audit rows for every write."""

from __future__ import annotations

import time

import jwt
from fastapi.testclient import TestClient

from ops_center.auth.tokens import issue_token
from ops_center.settings import Settings

PROBLEM = "application/problem+json"


def _audit(db, actor: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return db.execute("SELECT action, target, status, actor_role FROM audit_log WHERE actor = %s ORDER BY id",
                      (actor,)).fetchall()


def test_healthz_is_public(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_names_each_dependency(client: TestClient) -> None:
    r = client.get("/readyz")
    body = r.json()
    assert set(body["checks"]) == {"database", "mqtt", "redis"}
    assert r.status_code == 200, body
    assert all(c["ok"] for c in body["checks"].values())
    assert body["checks"]["database"]["flavour"] == "postgres"


def test_no_token_is_401_problem(client: TestClient) -> None:
    r = client.get("/auth/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 401 and "not authenticated" in r.json()["detail"]
    assert client.get("/readings/latest").status_code == 401


def test_login_and_me(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    r = client.get("/auth/me", headers=op.headers)
    assert r.status_code == 200 and r.json() == {"name": op.username, "role": "operator", "kind": "user",
                                                 "permissions": ["warnings.draft"]}
    leader = client.get("/auth/me", headers=login("leader").headers).json()
    assert leader["permissions"] == ["warnings.publish"]  # the screens show approve/publish from this


def test_wrong_password_is_401_and_audited(client: TestClient, login, db) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    r = client.post("/auth/token", data={"username": op.username, "password": "wrong-password!"})
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)
    rows = _audit(db, op.username)
    assert ("POST /auth/token", "session", 401, None) in rows
    assert ("POST /auth/token", "session", 200, None) in rows


def test_wrong_role_is_403(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    leader = login("leader")
    r = client.post("/users", headers=leader.headers,
                    json={"username": "x-user", "password": "long-enough-pw", "role": "operator"})
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert "needs one of: admin" in r.json()["detail"]


def test_expired_token_is_401(client: TestClient, settings: Settings) -> None:
    token, _ = issue_token(settings.jwt_secret.get_secret_value(), "someone", "admin", 60, now=time.time() - 3600)
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["detail"] == "token expired"


def test_tampered_token_is_401(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    claims = jwt.decode(op.token, options={"verify_signature": False})
    claims["role"] = "admin"
    forged = jwt.encode(claims, "not-the-secret-at-all-xxxxxxxxxxxxxxxx", algorithm="HS256")
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and "signature" in r.json()["detail"]
    head, body, sig = op.token.split(".")
    r = client.get("/auth/me", headers={"Authorization": f"Bearer {head}.{body}.{sig[::-1]}"})
    assert r.status_code == 401
    r = client.get("/auth/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401


def test_no_plain_password_is_stored(client: TestClient, login, db) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    (stored,) = db.execute("SELECT password_hash FROM users WHERE username = %s", (op.username,)).fetchone()
    assert op.password not in stored and stored.startswith("$argon2id$")
    dump = db.execute("SELECT string_agg(t::text, ' ') FROM users t").fetchone()[0]
    assert op.password not in dump


def test_admin_creates_user_and_it_is_audited(client: TestClient, admin, db) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/users", headers=admin.headers,
                    json={"username": "nguyen.van.a", "password": "mật-khẩu-dài-lắm", "role": "leader",
                          "full_name": "Nguyễn Văn A"})
    assert r.status_code == 201, r.text
    assert r.json()["full_name"] == "Nguyễn Văn A"
    assert ("POST /users", "user:nguyen.van.a", 201, "admin") in _audit(db, admin.username)
    again = client.post("/users", headers=admin.headers,
                        json={"username": "nguyen.van.a", "password": "mật-khẩu-dài-lắm", "role": "leader"})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_user_input_validation_names_field_and_value(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    hostile = {"username": "robert'); DROP TABLE users;--", "password": "x" * 20, "role": "operator"}
    r = client.post("/users", headers=admin.headers, json=hostile)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "username" in r.json()["detail"] and "DROP TABLE" in r.json()["detail"]
    r = client.post("/users", headers=admin.headers, json={"username": "ok", "password": "short", "role": "x"})
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"password", "role"} <= fields
    r = client.post("/users", headers=admin.headers,
                    json={"username": "big", "password": "p" * 100_000, "role": "operator"})
    assert r.status_code == 422 and "password" in r.json()["detail"]
    r = client.post("/users", headers={**admin.headers, "Content-Type": "application/json"}, content=b"{not json")
    assert r.status_code == 422 and "body" in r.json()["detail"]


def test_api_key_lifecycle(client: TestClient, admin, db) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api-keys", headers=admin.headers, json={"name": "một-cửa"})
    assert r.status_code == 201
    key = r.json()["key"]
    me = client.get("/auth/me", headers={"X-API-Key": key})
    assert me.json() == {"name": "key:một-cửa", "role": "integration", "kind": "api_key", "permissions": []}
    (stored,) = db.execute("SELECT key_hash FROM api_keys WHERE id = %s", (r.json()["id"],)).fetchone()
    assert key.split("_", 2)[2] not in stored
    assert client.get("/users", headers={"X-API-Key": key}).status_code == 403
    assert client.delete(f"/api-keys/{r.json()['id']}", headers=admin.headers).status_code == 204
    assert client.get("/auth/me", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/auth/me", headers={"X-API-Key": "ops_bad_key"}).status_code == 401


def test_cursor_pagination(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    cursor = None
    while True:
        r = client.get("/users", headers=admin.headers, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200
        seen += [u["username"] for u in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 2
    bad = client.get("/users", headers=admin.headers, params={"cursor": "!!garbage!!"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


def test_refresh_gives_a_new_token_while_the_account_is_enabled(client: TestClient, login, db) -> None:  # type: ignore[no-untyped-def]
    op = login("operator")
    r = client.post("/auth/refresh", headers=op.headers)
    assert r.status_code == 200 and r.json()["role"] == "operator"
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).status_code == 200
    db.execute("UPDATE users SET disabled = true WHERE username = %s", (op.username,))
    r = client.post("/auth/refresh", headers=op.headers)
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    assert client.post("/auth/refresh").status_code == 401
