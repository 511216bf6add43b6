"""Federation settings (environment ``OPS_FEDERATION_*``), kept apart from the core Settings like the alerting
engine's. ``mode``: ``off`` (a standalone province), ``province`` (publishes to ``upstream_url``) or ``national``
(accepts snapshots from provinces and serves the national screen)."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["off", "province", "national"]


class FederationConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPS_FEDERATION_", env_file=os.environ.get("OPS_ENV_FILE", ".env"),
                                      env_file_encoding="utf-8", extra="ignore")

    mode: Mode = "off"
    # provincial side: the upstream national instance and this province's identity there
    upstream_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+[^\s?#]*$", max_length=500)
    province_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$")
    token: SecretStr | None = None
    publish_interval_s: float = Field(default=900.0, gt=0, le=86400)
    """The schedule: every kind is rebuilt (unchanged content makes no new version) and a heartbeat is sent."""
    tick_interval_s: float = Field(default=10.0, gt=0, le=3600)
    """How often change marks are turned into snapshots and due deliveries are enqueued."""
    history_months: int = Field(default=12, ge=1, le=60)
    http_timeout_s: float = Field(default=10.0, gt=0, le=120)
    retry_base_s: float = Field(default=5.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    delivery_lease_s: float = Field(default=60.0, gt=0)
    # national side
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_clock_skew_s: float = Field(default=300.0, ge=0)
    """A province whose clock is further ahead than this is flagged (its snapshots are still accepted)."""
    boundaries_file: Path | None = None
    """The 34 provinces' outlines; default ``<data_dir>/vietnam/provinces_2025.geojson`` (read at runtime)."""

    @model_validator(mode="after")
    def _province_needs_upstream(self) -> FederationConfig:
        if self.mode == "province":
            missing = [n for n in ("upstream_url", "province_code", "token") if getattr(self, n) is None]
            if missing:
                raise ValueError("OPS_FEDERATION_MODE=province needs " +
                                 ", ".join(f"OPS_FEDERATION_{n.upper()}" for n in missing))
        return self


@lru_cache(maxsize=1)
def get_config() -> FederationConfig:
    return FederationConfig()


def beat_entries(cfg: FederationConfig) -> dict[str, dict[str, Any]]:
    """The federation's Celery beat entries (``ops_center.federation.tasks``)."""
    return {
        "federation-tick": {"task": "federation.tick", "schedule": timedelta(seconds=cfg.tick_interval_s)},
        "federation-publish": {"task": "federation.publish", "schedule": timedelta(seconds=cfg.publish_interval_s)},
    }
