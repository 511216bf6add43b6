"""Short-lived JWT access tokens (PyJWT, HS256)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "ops-center"


class InvalidToken(Exception):
    """The token is missing, malformed, tampered with or expired; the message says which."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: str
    expires_at: int
    token_id: str
    user_id: int | None = None  # the account's id (``uid``), so that a name given to a new account is not reused


def issue_token(secret: str, subject: str, role: str, ttl_s: int, now: float | None = None,
                user_id: int | None = None) -> tuple[str, int]:
    """A signed token and its lifetime in seconds. ``role`` is informational: every request checks the account's
    current role and state (``ops_center.auth.accounts``)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, str | int] = {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl_s,
                                    "iss": ISSUER, "jti": uuid.uuid4().hex}
    if user_id is not None:
        claims["uid"] = user_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM), ttl_s


def decode_token(secret: str, token: str) -> TokenClaims:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "role", "exp", "iat"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("token signature invalid") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token invalid: {exc}") from exc
    uid = claims.get("uid")
    if uid is not None and (not isinstance(uid, int) or isinstance(uid, bool)):
        raise InvalidToken(f"token invalid: uid must be an integer, got {uid!r}")
    return TokenClaims(str(claims["sub"]), str(claims["role"]), int(claims["exp"]), str(claims.get("jti", "")),
                       uid)
