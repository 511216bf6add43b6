"""What the replica tests share: a province's data on the primary (boundaries, a year of dossiers, devices with two
days of readings, an admin), the read-heavy requests compared between primary and replica, settings that name the
replica, tokens, and ``/readyz``'s replica entry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from geo.demo import ensure_demo
from ops_center.auth.tokens import issue_token
from ops_center.auth.users import create_user
from ops_center.db import connect
from ops_center.migrate import migrate
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings
from tests.support import province_data
from tests.support.replica import StreamingPair

SET_2025 = "camau-2025"
METRIC = "salinity_ppt"


@dataclass(frozen=True)
class Province:
    """What was loaded, and the fixed windows every compared request uses."""

    admin: str
    admin_id: int
    devices: list[str]
    units: list[str]
    now: datetime

    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """The read-heavy requests: map summary (GeoJSON and CSV), KPIs, their trend, the 766 scorecard and its
        ranking, a device's chart, readings in buckets."""
        end = self.now.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(hours=36)
        today = self.now.date()
        year_ago = (today - timedelta(days=365)).replace(day=1)
        window = {"from": start.isoformat(), "to": end.isoformat()}
        days = {"from": year_ago.isoformat(), "to": today.isoformat()}
        return [
            ("/map/summary", {"set": SET_2025, **window}),
            ("/map/summary.csv", {"set": SET_2025, **window}),
            ("/kpis/dossiers", {"level": "unit", "period": "month", **days}),
            ("/kpis/dossiers/trend", {"level": "unit", "to": today.strftime("%Y-%m")}),
            ("/scorecard", {"level": "unit", "period": "month", **days, "limit": "500"}),
            ("/scorecard/ranking", {"level": "unit", **days}),
            (f"/devices/{self.devices[0]}/series", {"metric": METRIC, **window}),
            ("/readings/buckets", {"metric": METRIC, "interval_s": "3600", **window}),
        ]


def load_province(url: str, data_dir: Path, *, units: int = 4, dossiers_per_month: int = 40, devices: int = 4,
                  hours: int = 48) -> Province:
    """The data set, written on the primary through the owning services (``bench/replica.py`` loads a larger
    one): the Cà Mau boundary sets, 12 months of dossiers over ``units`` units, ``devices`` devices with
    ``hours`` of 5-minute readings."""
    now = datetime.now(UTC)
    with connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
        ensure_demo(conn, data_dir, say=lambda _: None)
        made = province_data.generate(conn, tag="RPL", marker="RPL", months=12, units=units,
                                      dossiers_per_month=dossiers_per_month, n_incidents=3, n_devices=devices,
                                      now=now)
        store = ReadingsStore.for_connection(conn)
        first = now.replace(second=0, microsecond=0) - timedelta(hours=hours)
        rows = [((first + timedelta(minutes=5 * i)).timestamp(), dev, METRIC, 1.0 + (i % 50) / 10 + d % 7)
                for d, dev in enumerate(made.devices) for i in range(hours * 12)]
        for i in range(0, len(rows), 50_000):
            with conn.transaction():
                store.write_batch(conn, rows[i:i + 50_000])
        user = create_user(conn, f"replica-admin-{secrets.token_hex(3)}", secrets.token_urlsafe(16), "admin")
    return Province(user.username, user.id, made.devices, made.units, now)


def replica_settings(base: Settings, pair: StreamingPair, *, replicas: list[str] | None = None,
                     max_lag_s: float = 5.0, check_s: float = 0.2, sticky_s: float = 5.0) -> Settings:
    """``base`` pointed at the pair's primary, naming ``replicas`` (default: the pair's replica)."""
    urls = [pair.replica_url] if replicas is None else replicas
    return base.model_copy(update={"database_url": pair.primary_url,
                                   "db_replica_urls": [SecretStr(u) for u in urls],
                                   "db_replica_max_lag_s": max_lag_s, "db_replica_check_s": check_s,
                                   "db_replica_sticky_s": sticky_s})


def bearer(settings: Settings, province: Province) -> dict[str, str]:
    token, _ = issue_token(settings.jwt_secret.get_secret_value(), province.admin, "admin", 3600,
                           user_id=province.admin_id)
    return {"Authorization": f"Bearer {token}"}


def replica_entry(readyz: dict[str, Any]) -> dict[str, Any]:
    """The first replica's entry of a ``/readyz`` answer."""
    items: list[dict[str, Any]] = readyz["checks"]["replicas"]["items"]
    return items[0]
