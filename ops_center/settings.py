"""The one Settings object of the whole system (pydantic-settings, ``OPS_`` environment prefix).

Values come from the environment, then from the env file named by ``OPS_ENV_FILE`` (default ``.env`` in the working
directory, written by ``make up``), then from the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JWT_SECRET = "change-me-dev-only"
LOCAL_TIMEZONE = "Asia/Ho_Chi_Minh"
"""The province's time zone, defined here only: the default of ``Settings.timezone`` and of every ``tz`` parameter,
and the zone of the local days and months the KPIs, map summaries, federation periods and the brief count in."""
LOCAL_TZ = ZoneInfo(LOCAL_TIMEZONE)
"""``LOCAL_TIMEZONE`` as a tzinfo, for code that works in local time without Settings at hand."""


def _default_data_dir() -> Path:
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OPS_",
        env_file=os.environ.get("OPS_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Literal["dev", "test", "prod"] = "prod"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/ops_center"
    db_pool_min: int = 1
    db_pool_max: int = 10
    # how long a request waits for a pooled connection before it answers 503 (the database is down or saturated)
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    # read replicas (docs/scaling.md, ops_center/db_replicas.py): PostgreSQL hot standbys streaming from the primary,
    # as a JSON list of connection URLs; the read-heavy routes read from one whose replay lag is at most
    # db_replica_max_lag_s (measured every db_replica_check_s), else from the primary
    db_replica_urls: list[SecretStr] = Field(default_factory=list)
    db_replica_max_lag_s: float = Field(default=2.0, gt=0)
    db_replica_check_s: float = Field(default=1.0, gt=0, le=60)
    db_replica_pool_max: int = Field(default=10, ge=1)
    # a read waits at most this long for a replica's pooled connection before it goes to the primary instead
    db_replica_pool_timeout_s: float = Field(default=1.0, gt=0)
    # after a client's write, its reads stay on the primary this long (a cookie: read your own writes)
    db_replica_sticky_s: float = Field(default=5.0, ge=0, le=3600)

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str = "ops-ingest"
    mqtt_password: SecretStr = SecretStr("")
    mqtt_passwd_file: Path = REPO_ROOT / ".run" / "mosquitto" / "passwd"
    # the broker's access control: Mosquitto's dynamic security plugin, its JSON state file (no secrets in it) and the
    # account that manages it at run time over $CONTROL (empty password: derived from mqtt_password)
    mqtt_dynsec_file: Path = REPO_ROOT / ".run" / "mosquitto" / "dynsec.json"
    mqtt_dynsec_plugin: Path | None = None
    mqtt_admin_username: str = "ops-broker-admin"
    mqtt_admin_password: SecretStr = SecretStr("")
    mqtt_pid_file: Path | None = REPO_ROOT / ".run" / "mosquitto" / "mosquitto.pid"

    redis_url: str = "redis://127.0.0.1:6379/0"

    data_dir: Path = Field(default_factory=_default_data_dir)
    timezone: str = LOCAL_TIMEZONE

    # dossiers and incidents: the business-day calendar (None: the shipped Việt Nam file) and Open311 reads
    holiday_calendar_file: Path | None = None
    open311_public_read: bool = True

    # ingest: batching, limits, its client identity and metrics endpoint
    ingest_batch_max: int = 20000
    ingest_batch_max_bytes: int = 4 * 1024 * 1024
    ingest_flush_ms: int = 10
    ingest_client_id: str | None = None
    ingest_share_group: str = "ingest"
    ingest_metrics_port: int = 9100
    ingest_max_payload: int = 65536
    ingest_max_age_s: float = 7 * 86400
    ingest_catalogue_file: Path | None = None
    ingest_registry_refresh_s: float = 5.0
    ingest_registry_negative_s: float = 2.0
    dead_letter_payload_cap: int = 8192
    # dead letters: at most this many stored per device (publisher) per window; over it they are only counted
    dead_letter_device_cap: int = Field(default=100, ge=1)
    dead_letter_device_window_s: int = Field(default=600, ge=1, le=86400)
    dead_letter_retention_days: int = Field(default=30, ge=1)

    # the center's signing key and its X.509 certificate (PEM files; public warnings are signed with them).
    # `make up` and the test stacks generate a self-signed pair (ops-center keys ensure); never committed.
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None

    jwt_secret: SecretStr = SecretStr(DEFAULT_JWT_SECRET)
    jwt_ttl_s: int = 900
    # every request checks the account's current state and role; answers are cached per process this long
    auth_cache_s: float = Field(default=2.0, ge=0, le=30)
    # login throttling (``limits`` strings, failed attempts only, shared through Redis; see docs/security.md)
    login_limit_address: str = "30 per 10 minutes"
    login_limit_account_address: str = "5 per minute"
    login_limit_account: str = "10 per 10 minutes"
    login_device_cookie_days: int = Field(default=90, ge=1)
    # reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or networks); empty: the socket peer
    trusted_proxies: list[str] = Field(default_factory=list)
    api_base_url: str = "http://127.0.0.1:8000"
    # HTTP hardening: Host names the API answers to (comma separated; "*.example.vn" for subdomains; the reverse
    # proxy's public name goes here), and how long a client may take to send a request line and its headers
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "::1"])
    http_header_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET and self.env != "dev":
            raise ValueError(
                "OPS_JWT_SECRET is the built-in development default; set a real secret "
                f"(or OPS_ENV=dev for local development), got OPS_ENV={self.env!r}"
            )
        if len(self.jwt_secret.get_secret_value()) < 16:
            raise ValueError("OPS_JWT_SECRET must be at least 16 characters long")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
