"""Live sockets follow their account: a socket whose account is disabled, removed or moved out of the staff roles
is closed promptly, not when its token expires.

How: the hub's listener also holds ``LISTEN ops_principals`` (a trigger on ``users`` notifies the username on every
change of role, state or name, and on deletion) → ``PrincipalWatcher.changed`` re-reads that account at once;
every ``principal_recheck_s`` (default 5 s) all connected accounts are re-read anyway (a NOTIFY lost while the
listener reconnects costs at most that). Disabled or removed → close 4401; no longer a staff role → close 4403; a
change between staff roles (they see the same feed) updates the socket's role and tells the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from api.live.feed import CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, Client, Hub
from ops_center.auth.accounts import PRINCIPALS_CHANNEL, AccountRefused, check_user
from ops_center.auth.roles import STAFF
from ops_center.auth.users import BY_USERNAMES, User, user_from_row

log = logging.getLogger("api.live")

def apply_account(client: Client, user: User | None) -> None:
    """Close ``client`` when ``user`` (its account's current row) no longer allows it the feed."""
    try:
        user = check_user(user, client.principal, client.user_id)
    except AccountRefused as exc:
        client.close(CLOSE_UNAUTHORIZED, str(exc))
        return
    if user.role not in STAFF:
        client.close(CLOSE_FORBIDDEN, f"role changed to {user.role.value!r}: may not watch the live feed")
        return
    if user.role != client.role:
        client.role = user.role
        client.control({"type": "principal", "user": user.username, "role": user.role.value})


class PrincipalWatcher:
    """One per hub; ``run`` is a task of the app's lifespan. ``on_change`` also hears every changed username
    (the app drops it from its per-request account cache)."""

    def __init__(self, hub: Hub, on_change: Callable[[str], None] | None = None) -> None:
        self.hub = hub
        self._on_change = on_change
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self.checks = 0
        hub.channels[PRINCIPALS_CHANNEL] = self.changed

    def changed(self, username: str) -> None:
        """A NOTIFY from ``users``: re-read that account now."""
        if self._on_change is not None:
            self._on_change(username)
        self._pending.add(username)
        self._wake.set()

    async def run(self) -> None:
        interval = self.hub.config.principal_recheck_s
        while True:
            timed_out = False
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                timed_out = True
            self._wake.clear()
            names, self._pending = self._pending, set()
            if timed_out:
                names = {c.principal for c in self.hub.clients}
            try:
                await self.check(names)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: the next round tries again
                self._pending |= names
                log.warning("live feed could not re-check %d accounts (%s)", len(names), exc)

    async def check(self, usernames: Iterable[str]) -> None:
        wanted = set(usernames)
        clients = [c for c in self.hub.clients if c.principal in wanted and not c.closed.is_set()]
        if not clients:
            return
        rows = await self.hub.query(BY_USERNAMES, (sorted({c.principal for c in clients}),))
        current = {user.username: user for user in map(user_from_row, rows)}
        self.checks += 1
        for client in clients:
            apply_account(client, current.get(client.principal))

    async def account(self, username: str) -> User | None:
        """One account's current row, read now (a socket is admitted on this, never on a cached answer)."""
        rows = await self.hub.query(BY_USERNAMES, ([username],))
        return user_from_row(rows[0]) if rows else None


async def stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
