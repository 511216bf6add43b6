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


_COLS = "id, username, full_name, role, disabled"


def _user(row: tuple[object, ...]) -> User:
    return User(int(row[0]), str(row[1]), str(row[2]), Role(str(row[3])), bool(row[4]))  # type: ignore[call-overload]


def create_user(conn: Conn, username: str, password: str, role: Role | str, full_name: str = "") -> User:
    role = Role(role)
    if conn.execute("SELECT 1 FROM users WHERE username = %s", (username,)).fetchone():
        raise UserExists(f"username: {username!r} already exists")
    row = conn.execute(
        f"INSERT INTO users (username, full_name, role, password_hash) VALUES (%s, %s, %s, %s) RETURNING {_COLS}",
        (username, full_name, role.value, hash_password(password)),
    ).fetchone()
    assert row is not None
    return _user(row)


def set_password(conn: Conn, username: str, password: str) -> None:
    conn.execute("UPDATE users SET password_hash = %s, updated_at = now() WHERE username = %s",
                 (hash_password(password), username))


def get_user(conn: Conn, username: str) -> User | None:
    row = conn.execute(f"SELECT {_COLS} FROM users WHERE username = %s", (username,)).fetchone()
    return _user(row) if row else None


def authenticate(conn: Conn, username: str, password: str) -> User | None:
    """The user if the password matches and the account is enabled; None otherwise (in constant-ish time)."""
    row = conn.execute(f"SELECT {_COLS}, password_hash FROM users WHERE username = %s", (username,)).fetchone()
    if row is None:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(str(row[5]), password):
        return None
    user = _user(row[:5])
    return None if user.disabled else user
