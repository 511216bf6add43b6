"""Re-deciding the muting of every open alert: a silence began or expired, an inhibition source opened or closed.

Run by beat (``alerts.tick``) and in the transaction of every silence or inhibition-rule change. It sits above
both ``alerts.muting`` (the decision) and ``alerts.lifecycle`` (an unmuted alert starts its escalation and every
change is an ``alert`` event), so neither of those imports the other's caller."""

from __future__ import annotations

from datetime import datetime

from alerts import lifecycle, muting
from alerts.models import ALERT_COLUMNS, fetch_alerts, utcnow
from ops_center.db import Conn


def refresh(conn: Conn, now: datetime | None = None, snapshot: muting.MuteSnapshot | None = None) -> int:
    """Re-decide every open alert; returns how many changed between muted and unmuted. Rows held by another
    transaction are skipped (the next refresh gets them)."""
    now = now or utcnow()
    snap = snapshot or muting.MuteSnapshot.load(conn, now)
    rows = fetch_alerts(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.ends_at IS NULL ORDER BY a.id "
                           f"FOR UPDATE SKIP LOCKED")
    changed = 0
    for row in rows:
        decision = snap.decide(row)
        if decision.muted == bool(row.muted) and (not decision.muted or decision.by == row.muted_by):
            continue
        new_row, transition, cause = muting.apply(conn, row, decision, now)
        if transition and cause is not None:
            changed += 1
            lifecycle.after_mute_change(conn, new_row, transition, now, cause)
    return changed
