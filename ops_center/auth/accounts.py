"""The current state of an account, checked on every request: a token or an API key carries only the power its
account has *now* (exists, enabled, role), never the power it had when it was issued.

A per-process cache keeps each answer for ``ttl_s`` seconds (``OPS_AUTH_CACHE_S``, default 2 s) so that a burst of
requests costs one lookup; a change notified on ``ops_principals`` (a trigger on ``users``) drops the entry at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ops_center.auth.roles import KEY_ISSUERS
from ops_center.auth.users import User

PRINCIPALS_CHANNEL = "ops_principals"
"""NOTIFY channel of ``users`` changes (role, disabled, username, deletion); the payload is the username."""


class AccountRefused(Exception):
    """The account behind a valid token or key no longer grants what it was issued for; the message says why."""


def check_user(user: User | None, username: str, token_user_id: int | None) -> User:
    """``user`` (the current row of ``username``) if it may still act; ``AccountRefused`` otherwise.

    ``token_user_id`` (the token's ``uid``) guards against a removed account whose name was given to someone new.
    """
    if user is None or (token_user_id is not None and user.id != token_user_id):
        raise AccountRefused(f"account {username!r} no longer exists")
    if user.disabled:
        raise AccountRefused(f"account {username!r} is disabled")
    return user


def check_key_owner(owner: User | None, key_name: str) -> User:
    """The owner of an API key if the key may still act: the owner exists, is enabled and may still mint keys."""
    if owner is None:
        raise AccountRefused(f"API key {key_name!r}: its owner no longer exists")
    if owner.disabled:
        raise AccountRefused(f"API key {key_name!r}: its owner {owner.username!r} is disabled")
    if owner.role not in KEY_ISSUERS:
        raise AccountRefused(f"API key {key_name!r}: its owner {owner.username!r} may no longer issue keys "
                             f"(role {owner.role.value!r})")
    return owner


class AccountCache:
    """username → current ``User`` (or None when absent), each kept ``ttl_s`` seconds. Thread-safe."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, User | None]] = {}
        self._lock = threading.Lock()

    def get(self, username: str, load: Callable[[str], User | None]) -> User | None:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(username)
        if hit is not None and hit[0] > now:
            return hit[1]
        user = load(username)
        if self.ttl_s > 0:
            with self._lock:
                if len(self._entries) > 10_000:  # bounded: stale entries go first, then everything
                    self._entries = {k: v for k, v in self._entries.items() if v[0] > now} or {}
                self._entries[username] = (now + self.ttl_s, user)
        return user

    def forget(self, username: str | None = None) -> None:
        """Drop one username (or all) so that the next request looks it up again."""
        with self._lock:
            if username is None:
                self._entries.clear()
            else:
                self._entries.pop(username, None)
