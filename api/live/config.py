"""Tuning of the live feed (``OPS_LIVE_`` environment prefix); the defaults suit a wall screen on a LAN."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LiveSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OPS_LIVE_",
        env_file=os.environ.get("OPS_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    queue_limit: int = Field(default=2000, ge=1, description="events queued for one client before it is dropped as slow")
    send_timeout_s: float = Field(default=5.0, gt=0, description="one frame not written within this → dropped as slow")
    frame_items: int = Field(default=500, ge=1, description="events per WebSocket frame at most")
    coalesce_s: float = Field(default=0.25, ge=0, description="telemetry of one device is sent at most once per window")
    fetch_interval_s: float = Field(default=0.02, ge=0, description="minimum spacing of event fetches (batches NOTIFYs)")
    batch_size: int = Field(default=1000, ge=1, description="events fetched per query")
    poll_interval_s: float = Field(default=2.0, gt=0, description="fetch anyway this often (a lost NOTIFY costs ≤ this)")
    gap_timeout_s: float = Field(default=60.0, ge=0, description="how long an id gap (uncommitted transaction) is awaited")
    catchup_limit: int = Field(default=5000, ge=0, description="more missed events than this → the client must reload")
    catchup_max_age_s: float = Field(default=3600.0, ge=0, description="missed events older than this → reload")
    max_clients: int = Field(default=500, ge=1, description="live sockets per API process, all accounts together")
    max_per_principal: int = Field(default=20, ge=1, description="live sockets of one account (or API process)")
    reserved_for_operators: int = Field(default=50, ge=0, description="of max_clients, slots only admins and "
                                        "operators may take: leaders are refused 1013 past max_clients minus this")
    max_pending: int = Field(default=100, ge=1, description="sockets accepted but not yet authenticated")
    auth_timeout_s: float = Field(default=10.0, gt=0, description="the first message (auth) must come within this")
    principal_recheck_s: float = Field(default=5.0, gt=0, description="every connected account's state and role "
                                       "is re-read this often (and at once on a NOTIFY ops_principals)")
    max_message_bytes: int = Field(default=65536, ge=256, description="largest client message accepted")
    max_errors: int = Field(default=20, ge=1, description="bad client messages tolerated before the socket is closed")
    device_refresh_s: float = Field(default=30.0, gt=0, description="how often the device → ward map is reloaded")
