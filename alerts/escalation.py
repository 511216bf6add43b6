"""Escalation policies: a ladder of steps (``after`` counted from the start of the ladder, channels to notify),
stopped by acknowledge or resolve, paused while muted; then reminders every ``repeat`` for the listed severities
(critical by default) while the alert still fires unacknowledged.

Every function takes ``now`` so tests drive the ladder with a controllable clock. State lives on the alert row
(``escalation_level``, ``escalation_started_at``, ``next_escalation_at``, ``reminders_sent``); ``run_due`` picks due
alerts with ``FOR UPDATE SKIP LOCKED`` so several beats never double-escalate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from psycopg.types.json import Jsonb
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
)

from alerts.durations import parse_duration
from alerts.errors import RuleError
from alerts.models import ALERT_COLUMNS, Alert, alert_json, fetch_alert, fetch_alerts
from alerts.notify import outbox
from alerts.rules.models import SEVERITIES, Severity, format_errors
from ops_center import events
from ops_center.db import Conn, fetch_all, fetch_one

ChannelName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Annotated[float, Field(ge=0), BeforeValidator(parse_duration)] = 0.0
    channels: list[ChannelName] = Field(min_length=1, max_length=20)


def _critical_only() -> list[Severity]:
    return ["critical"]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    description: str = Field(default="", max_length=2000)
    steps: list[StepIn] = Field(min_length=1, max_length=10)
    repeat: Annotated[float, Field(ge=60), BeforeValidator(parse_duration)] | None = None
    repeat_severities: list[Severity] = Field(default_factory=_critical_only, max_length=4)
    notify_resolved: StrictBool = True  # true or false, not 0 or "yes"

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[StepIn]) -> list[StepIn]:
        for i in range(1, len(steps)):
            if steps[i].after <= steps[i - 1].after:
                raise ValueError(f"step {i}: 'after' ({steps[i].after:g}s) must be later than step {i - 1}'s "
                                 f"({steps[i - 1].after:g}s)")
        return steps

    @field_validator("repeat")
    @classmethod
    def _repeat(cls, v: float | None) -> float | None:
        if v is not None and v < 60:
            raise ValueError(f"repeat must be at least 1m, got {v:g}s")
        return v


def validate_policy(data: Any, prefix: str = "") -> PolicyIn:
    try:
        return PolicyIn.model_validate(data)
    except ValidationError as exc:
        raise RuleError(format_errors(exc, prefix)) from exc


@dataclass(frozen=True)
class Step:
    after_s: float
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    steps: tuple[Step, ...]
    repeat_s: float | None
    repeat_severities: tuple[str, ...]
    notify_resolved: bool

    def reminder_channels(self, level: int) -> list[str]:
        names: list[str] = []
        for step in self.steps[: level + 1]:
            names += [c for c in step.channels if c not in names]
        return names


_POLICY_COLS = "id, name, description, steps, repeat_s, repeat_severities, notify_resolved, created_by, " \
               "created_at, updated_at"


def _policy(row: dict[str, Any]) -> Policy:
    return Policy(int(row["id"]), row["name"],
                  tuple(Step(float(s["after_s"]), tuple(s["channels"])) for s in row["steps"]),
                  float(row["repeat_s"]) if row["repeat_s"] else None, tuple(row["repeat_severities"]),
                  bool(row["notify_resolved"]))


def load_policy(conn: Conn, policy_id: int | None) -> Policy | None:
    if policy_id is None:
        return None
    row = fetch_one(conn, f"SELECT {_POLICY_COLS} FROM escalation_policies WHERE id = %s", (policy_id,))
    return _policy(row) if row else None


# -- CRUD ----------------------------------------------------------------------------------------------------------
def policy_row(p: PolicyIn) -> tuple[Any, ...]:
    steps = [{"after_s": s.after, "channels": s.channels} for s in p.steps]
    return (p.name, p.description, Jsonb(steps), int(p.repeat) if p.repeat else None, list(p.repeat_severities),
            p.notify_resolved)


def upsert_policy(conn: Conn, p: PolicyIn, actor: str) -> tuple[dict[str, Any], bool]:
    row = fetch_one(
        conn,
        f"INSERT INTO escalation_policies (name, description, steps, repeat_s, repeat_severities, notify_resolved, "
        f"created_by) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
        f"description = EXCLUDED.description, steps = EXCLUDED.steps, repeat_s = EXCLUDED.repeat_s, "
        f"repeat_severities = EXCLUDED.repeat_severities, notify_resolved = EXCLUDED.notify_resolved, "
        f"updated_at = now() RETURNING {_POLICY_COLS}, (xmax = 0) AS created",
        (*policy_row(p), actor),
    )
    assert row is not None
    return row, bool(row.pop("created"))


def update_policy(conn: Conn, policy_id: int, p: PolicyIn) -> dict[str, Any] | None:
    return fetch_one(
        conn,
        f"UPDATE escalation_policies SET name = %s, description = %s, steps = %s, repeat_s = %s, "
        f"repeat_severities = %s, notify_resolved = %s, updated_at = now() WHERE id = %s RETURNING {_POLICY_COLS}",
        (*policy_row(p), policy_id),
    )


def list_policies(conn: Conn) -> list[dict[str, Any]]:
    return fetch_all(conn, f"SELECT {_POLICY_COLS} FROM escalation_policies ORDER BY id")


def get_policy(conn: Conn, policy_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_POLICY_COLS} FROM escalation_policies WHERE id = %s", (policy_id,))


def delete_policy(conn: Conn, policy_id: int) -> bool:
    return conn.execute("DELETE FROM escalation_policies WHERE id = %s", (policy_id,)).rowcount > 0


def policy_id_by_name(conn: Conn, name: str) -> int | None:
    row = conn.execute("SELECT id FROM escalation_policies WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else None


# -- the ladder ----------------------------------------------------------------------------------------------------
def _timeline(conn: Conn, alert: Alert, kind: str, at: datetime, detail: dict[str, Any]) -> int:
    """A timeline entry of the ladder, and its ``alert`` event for the live feed."""
    row = conn.execute("INSERT INTO alert_timeline (alert_id, at, kind, actor, detail) VALUES (%s, %s, %s, %s, %s) "
                       "RETURNING id", (alert.id, at, kind, "escalation", Jsonb(detail))).fetchone()
    assert row is not None
    events.emit(conn, "alert", {**alert_json(alert, at), "transition": kind, "detail": detail},
                subject=f"alert:{alert.id}", ward_code=(alert.labels or {}).get("ward"))
    return int(row[0])


def start(conn: Conn, alert: Alert, now: datetime, cause_id: int, transition: str,
          cache: dict[int, Policy | None] | None = None) -> Alert:
    """Begin the ladder for a firing, unmuted, unacknowledged alert: step 0 (and any step already due) now.
    ``cause_id`` is the timeline entry (fired, reopened, unmuted) whose notification step 0 is; ``cache`` keeps
    loaded policies across the alerts of one batch."""
    pid = alert.escalation_policy_id
    if pid is None:
        return alert
    if cache is not None:
        if pid not in cache:
            cache[pid] = load_policy(conn, pid)
        policy = cache[pid]
    else:
        policy = load_policy(conn, pid)
    if policy is None:
        return alert
    row = fetch_alert(
        conn,
        f"UPDATE alerts a SET escalation_level = -1, escalation_started_at = %s, next_escalation_at = %s, "
        f"reminders_sent = 0, updated_at = %s WHERE id = %s RETURNING {ALERT_COLUMNS}",
        (now, now, now, alert.id),
    )
    assert row is not None
    return advance(conn, row, policy, now, first_cause=(cause_id, transition))


def advance(conn: Conn, alert: Alert, policy: Policy, now: datetime,
            first_cause: tuple[int, str] | None = None) -> Alert:
    """Run every step (or reminder) due at ``now``; set the next due time (NULL when nothing more will come)."""
    started = alert.escalation_started_at
    assert started is not None, "advance() runs only on a ladder that started"
    level = int(alert.escalation_level)
    reminders = int(alert.reminders_sent)
    next_at: datetime | None = alert.next_escalation_at
    steps = policy.steps
    while level + 1 < len(steps) and started + timedelta(seconds=steps[level + 1].after_s) <= now:
        level += 1
        step = steps[level]
        if level == 0 and first_cause is not None:
            cause, transition, event = first_cause[0], first_cause[1], "firing"
        else:
            cause = _timeline(conn, alert, "escalated", now,
                              {"level": level, "channels": list(step.channels), "policy": policy.name})
            transition, event = "escalated", ("firing" if level == 0 else "escalated")
        outbox.enqueue(conn, alert, step.channels, event, cause, now, transition=transition,  # type: ignore[arg-type]
                       detail={"level": level, "policy": policy.name})
    if level + 1 < len(steps):
        next_at = started + timedelta(seconds=steps[level + 1].after_s)
    elif policy.repeat_s and alert.severity in policy.repeat_severities and level >= 0:
        last_step_at = started + timedelta(seconds=steps[level].after_s)
        if next_at is None or next_at <= last_step_at:
            next_at = last_step_at + timedelta(seconds=policy.repeat_s)
        if next_at <= now:  # a reminder is due
            reminders += 1
            channels = policy.reminder_channels(level)
            cause = _timeline(conn, alert, "reminder", now,
                              {"reminder": reminders, "channels": channels, "policy": policy.name})
            outbox.enqueue(conn, alert, channels, "reminder", cause, now, transition="reminder",
                           detail={"reminder": reminders, "policy": policy.name})
            while next_at <= now:
                next_at += timedelta(seconds=policy.repeat_s)
    else:
        next_at = None
    row = fetch_alert(
        conn,
        f"UPDATE alerts a SET escalation_level = %s, next_escalation_at = %s, reminders_sent = %s, updated_at = %s "
        f"WHERE id = %s RETURNING {ALERT_COLUMNS}",
        (level, next_at, reminders, now, alert.id),
    )
    assert row is not None
    return row


def stop(conn: Conn, alert_id: int) -> None:
    conn.execute("UPDATE alerts SET next_escalation_at = NULL WHERE id = %s", (alert_id,))


def on_resolved(conn: Conn, alert: Alert, now: datetime, cause_id: int,
                cache: dict[int, Policy | None] | None = None) -> list[int]:
    """The "resolved" message, to the channels that heard about the alert (if the policy says so)."""
    pid = alert.escalation_policy_id
    if pid is None:
        return []
    if cache is not None:
        if pid not in cache:
            cache[pid] = load_policy(conn, pid)
        policy = cache[pid]
    else:
        policy = load_policy(conn, pid)
    if policy is None or not policy.notify_resolved:
        return []
    channels = outbox.notified_channels(conn, alert.id)
    return outbox.enqueue(conn, alert, channels, "resolved", cause_id, now, transition="resolved")


def run_due(conn: Conn, now: datetime, limit: int = 1000) -> int:
    """Advance every due, open, unacknowledged, unmuted alert; returns how many were advanced."""
    rows = fetch_alerts(
        conn,
        f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.ends_at IS NULL AND a.next_escalation_at <= %s "
        f"AND a.acknowledged_at IS NULL AND NOT a.muted ORDER BY a.next_escalation_at LIMIT %s "
        f"FOR UPDATE SKIP LOCKED",
        (now, limit),
    )
    cache: dict[int | None, Policy | None] = {}
    for row in rows:
        pid = row.escalation_policy_id
        if pid not in cache:
            cache[pid] = load_policy(conn, pid)
        policy = cache[pid]
        if policy is None or row.escalation_started_at is None:
            stop(conn, row.id)
            continue
        advance(conn, row, policy, now)
    return len(rows)


__all__ = ["SEVERITIES", "Policy", "PolicyIn", "Step", "advance", "load_policy", "on_resolved", "run_due",
           "start", "stop", "validate_policy"]
