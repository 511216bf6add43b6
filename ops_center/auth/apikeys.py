"""API keys for integrations (the one-stop-shop, citizen apps): ``ops_<prefix>_<secret>``, stored as SHA-256.

Keys are 256-bit random, so a fast hash is safe here (unlike passwords); the prefix finds the row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ops_center.auth.roles import Role
from ops_center.db import Conn


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    role: Role


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(conn: Conn, name: str, role: Role | str, created_by: str) -> tuple[ApiKey, str]:
    """The stored key and the full key string, which is shown once and never again."""
    role = Role(role)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, role, created_by) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (name, prefix, _digest(secret), role.value, created_by),
    ).fetchone()
    assert row is not None
    return ApiKey(int(row[0]), name, prefix, role), f"ops_{prefix}_{secret}"


def verify_api_key(conn: Conn, key: str) -> ApiKey | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ops":
        return None
    row = conn.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE prefix = %s AND revoked_at IS NULL "
        "RETURNING id, name, prefix, role, key_hash",
        (parts[1],),
    ).fetchone()
    if row is None or not hmac.compare_digest(str(row[4]), _digest(parts[2])):
        return None
    return ApiKey(int(row[0]), str(row[1]), str(row[2]), Role(str(row[3])))


def revoke_api_key(conn: Conn, key_id: int) -> bool:
    cur = conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
    return cur.rowcount == 1
