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


def issue_token(secret: str, subject: str, role: str, ttl_s: int, now: float | None = None) -> tuple[str, int]:
    """A signed token and its lifetime in seconds."""
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl_s, "iss": ISSUER,
              "jti": uuid.uuid4().hex}
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
    return TokenClaims(str(claims["sub"]), str(claims["role"]), int(claims["exp"]), str(claims.get("jti", "")))
