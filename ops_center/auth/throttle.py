"""Login throttling with the ``limits`` library (moving windows kept in Redis, so every API process agrees).

Only failed attempts are counted, against three budgets (``OPS_LOGIN_LIMIT_*``):

- per client address (any account): stops one address guessing across many accounts;
- per (account, address): stops one address guessing one account;
- per account (any address): stops a guess spread over many addresses — *except* for a browser that has signed in
  to that account before (it holds a signed "known client" cookie for it). So an attacker hammering someone's
  account from elsewhere throttles only unknown clients for that account: its owner, on a browser it used before,
  still signs in. A new browser of the owner waits at most one window (``Retry-After`` says how long).

While a budget is spent, the attempt is refused (429 with ``Retry-After``) before the password is checked, and
a refused attempt spends nothing. The counts are the shared ``ops_center.rate_limits.RateLimiter``'s: Redis, or this
process's memory while Redis is unreachable (login keeps working and stays throttled, per process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse

from ops_center.rate_limits import RateLimiter

NAMESPACE = "login"
_MARK_CONTEXT = b"ops-center/known-login-client/v1|"


def _id(text: str) -> str:
    """A short fixed-size key part for a username or an address (any length, any characters)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class LoginLimits:
    address: RateLimitItem
    account_address: RateLimitItem
    account: RateLimitItem

    @classmethod
    def parse(cls, address: str, account_address: str, account: str) -> LoginLimits:
        return cls(parse(address), parse(account_address), parse(account))


class LoginThrottle:
    """``retry_after`` before checking a password, ``failed`` after a wrong one, ``succeeded`` after a right one."""

    def __init__(self, limiter: RateLimiter, limits: LoginLimits) -> None:
        self.limits = limits
        self._limiter = limiter

    def _budgets(self, username: str, address: str, known_client: bool) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        user, addr = _id(username), _id(address)
        budgets = [(self.limits.address, (NAMESPACE, "address", addr)),
                   (self.limits.account_address, (NAMESPACE, "account-address", user, addr))]
        if not known_client:
            budgets.append((self.limits.account, (NAMESPACE, "account", user)))
        return budgets

    def retry_after(self, username: str, address: str, known_client: bool) -> int | None:
        """Seconds to wait when a budget is spent (the longest of them); None when the attempt may go ahead."""
        waits = [self._limiter.retry_after(item, *ids) for item, ids in self._budgets(username, address, known_client)
                 if not self._limiter.test(item, *ids)]
        return max(waits) if waits else None

    def failed(self, username: str, address: str, known_client: bool) -> None:
        for item, ids in self._budgets(username, address, known_client):
            self._limiter.hit(item, *ids)

    def succeeded(self, username: str, address: str) -> None:
        """A right password clears this address's count for the account (not the account-wide one)."""
        self._limiter.clear(self.limits.account_address, NAMESPACE, "account-address", _id(username), _id(address))


def known_client_cookie(username: str) -> str:
    """The cookie's name: one per account, so that a shared browser keeps the mark of each account it used."""
    return f"ops_known_{_id(username)[:16]}"


def known_client_mark(secret: str, username: str, days: int, now: float | None = None) -> str:
    """The value of the cookie that marks a browser which signed in to ``username`` (HMAC-signed, expiring)."""
    expires = int((now if now is not None else time.time()) + days * 86400)
    user = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    payload = f"{user}.{expires}"
    return f"{payload}.{_sign(secret, payload)}"


def is_known_client(secret: str, username: str, mark: str | None, now: float | None = None) -> bool:
    """Whether ``mark`` (a cookie value) was issued to this browser for ``username`` and has not expired."""
    if not mark or mark.count(".") != 2:
        return False
    user, expires, signature = mark.split(".")
    if not hmac.compare_digest(signature, _sign(secret, f"{user}.{expires}")):
        return False
    padded = user + "=" * (-len(user) % 4)
    try:
        same_user = base64.urlsafe_b64decode(padded).decode() == username
        return same_user and int(expires) > (now if now is not None else time.time())
    except ValueError:
        return False


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), _MARK_CONTEXT + payload.encode(), hashlib.sha256).hexdigest()
