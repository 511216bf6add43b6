"""Per-province credentials at the national instance: ``opsfed_<prefix>_<secret>``, 256-bit secrets stored as
SHA-256 (a fast hash is safe for random secrets, as for API keys). One live credential per province: issuing a new
one replaces the old. Every request re-reads the row, so disabling a province or revoking its credential takes
effect at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ops_center.db import Conn

PREFIX = "opsfed"


@dataclass(frozen=True)
class ProvinceCredential:
    code: str
    name: str
    prefix: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_province(conn: Conn, code: str, name: str, schedule_s: int | None = None) -> None:
    conn.execute("INSERT INTO federation_provinces (code, name, schedule_s) VALUES (%s, %s, coalesce(%s, 900)) "
                 "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
                 "schedule_s = coalesce(%s, federation_provinces.schedule_s), updated_at = now()",
                 (code, name, schedule_s, schedule_s))


def issue(conn: Conn, code: str) -> str:
    """A new credential for a known province (replacing any other); the token is shown once."""
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    cur = conn.execute("UPDATE federation_provinces SET token_prefix = %s, token_hash = %s, token_issued_at = now(), "
                       "enabled = true, updated_at = now() WHERE code = %s", (prefix, _digest(secret), code))
    if cur.rowcount != 1:
        raise LookupError(f"province: {code!r} is not registered at this national instance")
    return f"{PREFIX}_{prefix}_{secret}"


def revoke(conn: Conn, code: str) -> bool:
    cur = conn.execute("UPDATE federation_provinces SET token_prefix = NULL, token_hash = NULL, updated_at = now() "
                       "WHERE code = %s AND token_hash IS NOT NULL", (code,))
    return cur.rowcount == 1


def set_enabled(conn: Conn, code: str, enabled: bool) -> bool:
    cur = conn.execute("UPDATE federation_provinces SET enabled = %s, updated_at = now() WHERE code = %s",
                       (enabled, code))
    return cur.rowcount == 1


def verify(conn: Conn, token: str) -> ProvinceCredential | None:
    """The province a token belongs to, if it is live and the province enabled; None otherwise."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or len(token) > 200:
        return None
    row = conn.execute("SELECT code, name, token_prefix, token_hash FROM federation_provinces "
                       "WHERE token_prefix = %s AND enabled", (parts[1],)).fetchone()
    if row is None or row[3] is None or not hmac.compare_digest(str(row[3]), _digest(parts[2])):
        return None
    return ProvinceCredential(str(row[0]), str(row[1]), str(row[2]))
