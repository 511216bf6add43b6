"""Webhook subscribers of published warnings (``warning_subscriptions``): a notification channel of
``alerts.notify`` and the wards it follows (none: all). Publishing a message writes one outbox row per matching
subscriber in the same transaction (idempotency key ``cap-<message>-<channel>``), so each subscriber gets each
message exactly once: a retried or re-sent delivery carries the same key for the receiver to drop."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from alerts.notify import channels, outbox
from alerts.warnings.models import CapStatus, Conflict, NotFound, WarningError
from ops_center.db import Conn, fetch_all, fetch_one

ChannelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
WardCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
_COLS = ("s.id, NULL::text AS channel, s.channel_id, s.wards, s.cap_statuses, s.enabled, s.created_by, s.created_at, "
         "s.updated_at")


def _actual_only() -> list[CapStatus]:
    return ["Actual"]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: ChannelName = Field(description="a webhook channel of /notify-channels")
    wards: list[WardCode] | None = Field(default=None, min_length=1, max_length=1000)
    cap_statuses: list[CapStatus] = Field(default_factory=_actual_only, min_length=1, max_length=4)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel: str
    channel_id: int
    wards: list[str] | None
    cap_statuses: list[str]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def list_subscriptions(conn: Conn) -> list[Subscription]:
    rows = _named(conn, fetch_all(conn, f"SELECT {_COLS} FROM warning_subscriptions s ORDER BY s.id"))
    return [Subscription(**r) for r in rows]


def _named(conn: Conn, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their channel's name (a subscription's channel exists: a foreign key)."""
    names = channels.names(conn, sorted({int(r["channel_id"]) for r in rows}))
    for r in rows:
        r["channel"] = names[int(r["channel_id"])]
    return rows


def create(conn: Conn, sub: SubscriptionIn, actor: str) -> Subscription:
    channel = channels.find_named(conn, sub.channel)
    if channel is None:
        raise WarningError("channel", f"no notification channel {sub.channel!r}")
    if channel["type"] != "webhook":
        raise WarningError("channel", f"{sub.channel!r} is a {channel['type']} channel; warnings go to webhooks")
    row = fetch_one(conn, "INSERT INTO warning_subscriptions (channel_id, wards, cap_statuses, enabled, created_by) "
                          "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (channel_id) DO NOTHING RETURNING id",
                    (channel["id"], sub.wards, list(sub.cap_statuses), sub.enabled, actor))
    if row is None:
        raise Conflict("channel", f"{sub.channel!r} is already subscribed")
    return get(conn, int(row["id"]))


def get(conn: Conn, subscription_id: int) -> Subscription:
    rows = _named(conn, fetch_all(conn, f"SELECT {_COLS} FROM warning_subscriptions s WHERE s.id = %s",
                                  (subscription_id,)))
    if not rows:
        raise NotFound("subscription_id", f"no subscription {subscription_id}")
    return Subscription(**rows[0])


def delete(conn: Conn, subscription_id: int) -> None:
    if conn.execute("DELETE FROM warning_subscriptions WHERE id = %s", (subscription_id,)).rowcount == 0:
        raise NotFound("subscription_id", f"no subscription {subscription_id}")


def enqueue(conn: Conn, message_id: int, wards: list[str], cap_status: str, payload: dict[str, Any]) -> list[int]:
    """Outbox rows for the subscribers of a message's wards and status; returns their ids."""
    rows = conn.execute(
        "SELECT channel_id FROM warning_subscriptions WHERE enabled AND %s = ANY(cap_statuses) "
        "AND (wards IS NULL OR wards && %s) ORDER BY channel_id", (cap_status, wards)).fetchall()
    return outbox.enqueue_cap(conn, message_id, [int(r[0]) for r in rows], payload)
