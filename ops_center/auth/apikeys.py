"""API keys for integrations (the one-stop-shop, citizen apps): ``ops_<prefix>_<secret>``, stored as SHA-256.

Keys are 256-bit random, so a fast hash is safe here (unlike passwords); the prefix finds the row. Every key has an
owner (the user who minted it); ``verify_api_key`` returns the owner's current row so that the caller can refuse a
key whose owner was removed, disabled or demoted (``ops_center.auth.accounts.check_key_owner``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ops_center.auth.roles import Role
from ops_center.auth.users import User, user_from_row
from ops_center.db import Conn


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    role: Role
    owner: User | None = None  # the owner's current account (None: removed); filled by ``verify_api_key``


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(conn: Conn, name: str, role: Role | str, owner: User) -> tuple[ApiKey, str]:
    """The stored key and the full key string, which is shown once and never again. The caller checks that
    ``owner`` may mint keys (and holds its row, ``users.get_user_by_id(..., lock=True)``)."""
    role = Role(role)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, role, created_by, owner_id) VALUES (%s, %s, %s, %s, %s, %s) "
        "RETURNING id",
        (name, prefix, _digest(secret), role.value, owner.username, owner.id),
    ).fetchone()
    assert row is not None
    return ApiKey(int(row[0]), name, prefix, role, owner), f"ops_{prefix}_{secret}"


_VERIFY = (
    "WITH k AS (UPDATE api_keys SET last_used_at = now() WHERE prefix = %s AND revoked_at IS NULL "
    "RETURNING id, name, prefix, role, key_hash, owner_id) "
    "SELECT k.id, k.name, k.prefix, k.role, k.key_hash, u.id, u.username, u.full_name, u.role, u.disabled "
    "FROM k LEFT JOIN users u ON u.id = k.owner_id"
)


def verify_api_key(conn: Conn, key: str) -> ApiKey | None:
    """The key (with its owner's current account) if it exists, matches and is not revoked; None otherwise."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ops":
        return None
    row = conn.execute(_VERIFY, (parts[1],)).fetchone()
    if row is None or not hmac.compare_digest(str(row[4]), _digest(parts[2])):
        return None
    owner = None if row[5] is None else user_from_row(row[5:10])
    return ApiKey(int(row[0]), str(row[1]), str(row[2]), Role(str(row[3])), owner)


def revoke_api_key(conn: Conn, key_id: int) -> bool:
    cur = conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
    return cur.rowcount == 1
