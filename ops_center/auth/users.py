"""User accounts: create, authenticate, look up."""

from __future__ import annotations

from dataclasses import dataclass

from ops_center.auth.passwords import DUMMY_HASH, hash_password, verify_password
from ops_center.auth.roles import Role
from ops_center.db import Conn


@dataclass(frozen=True)
class User:
    id: int
    username: str
    full_name: str
    role: Role
    disabled: bool


class UserExists(ValueError):
    pass


COLUMNS = "id, username, full_name, role, disabled"
"""The columns ``user_from_row`` reads, in order."""
BY_USERNAMES = f"SELECT {COLUMNS} FROM users WHERE username = ANY(%s)"
"""The accounts of some user names (run by the live feed on its own asynchronous connection)."""


def user_from_row(row: tuple[object, ...]) -> User:
    return User(int(row[0]), str(row[1]), str(row[2]), Role(str(row[3])), bool(row[4]))  # type: ignore[call-overload]


def create_user(conn: Conn, username: str, password: str, role: Role | str, full_name: str = "") -> User:
    role = Role(role)
    if conn.execute("SELECT 1 FROM users WHERE username = %s", (username,)).fetchone():
        raise UserExists(f"username: {username!r} already exists")
    row = conn.execute(
        f"INSERT INTO users (username, full_name, role, password_hash) VALUES (%s, %s, %s, %s) RETURNING {COLUMNS}",
        (username, full_name, role.value, hash_password(password)),
    ).fetchone()
    assert row is not None
    return user_from_row(row)


def set_password(conn: Conn, username: str, password: str) -> None:
    conn.execute("UPDATE users SET password_hash = %s, updated_at = now() WHERE username = %s",
                 (hash_password(password), username))


def get_user(conn: Conn, username: str) -> User | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM users WHERE username = %s", (username,)).fetchone()
    return user_from_row(row) if row else None


def get_user_by_id(conn: Conn, user_id: int, *, lock: bool = False) -> User | None:
    """The user with this id; ``lock`` holds its row (FOR SHARE) until the transaction ends, so that it cannot be
    disabled, demoted or deleted under a write that relies on it (minting an API key)."""
    if lock:
        row = conn.execute(f"SELECT {COLUMNS} FROM users WHERE id = %s FOR SHARE", (user_id,)).fetchone()
    else:
        row = conn.execute(f"SELECT {COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    return user_from_row(row) if row else None


def authenticate(conn: Conn, username: str, password: str) -> User | None:
    """The user if the password matches and the account is enabled; None otherwise (in constant-ish time)."""
    row = conn.execute(f"SELECT {COLUMNS}, password_hash FROM users WHERE username = %s", (username,)).fetchone()
    if row is None:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(str(row[5]), password):
        return None
    user = user_from_row(row[:5])
    return None if user.disabled else user


def list_page(conn: Conn, after_id: int, limit: int) -> list[User]:
    """At most ``limit`` accounts by id, after ``after_id``."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM users WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit)).fetchall()
    return [user_from_row(r) for r in rows]
