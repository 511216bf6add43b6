"""Helpers shared by the federation tests."""

from __future__ import annotations

import time
from typing import Any

from ops_center.db import connect
from ops_center.federation import deliver, outbox
from ops_center.federation.config import FederationConfig


def deliver_all(url: str, cfg: FederationConfig, *, timeout: float = 30.0, until_empty: bool = True
                ) -> list[deliver.Outcome]:
    """Deliver every due row (retries included) in this process until nothing is pending (or ``timeout``)."""
    outcomes: list[deliver.Outcome] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connect(url) as conn:  # every takeable row (run_round already marked them enqueued for Celery)
            ids = [int(r[0]) for r in conn.execute(
                "SELECT id FROM federation_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= now() "
                "AND (lease_until IS NULL OR lease_until < now()) ORDER BY id").fetchall()]
        for i in ids:
            outcomes.append(deliver.deliver(url, i, cfg))
        with connect(url) as conn:
            pending = outbox.pending_count(conn)
        if pending == 0 or not until_empty:
            return outcomes
        if not ids:
            time.sleep(0.05)
    raise AssertionError(f"outbox not empty after {timeout}s: {outcomes[-5:]}")


def rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())
