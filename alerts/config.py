"""Tunables of the alerting engine (environment ``OPS_ALERTS_*``), kept apart from the core Settings."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertsConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPS_ALERTS_", env_file=os.environ.get("OPS_ENV_FILE", ".env"),
                                      env_file_encoding="utf-8", extra="ignore")

    rules_refresh_s: float = 3.0
    """How often a stream evaluator reloads its rules."""
    devices_refresh_s: float = 30.0
    """How often a stream evaluator reloads the device registry (kind, ward, unit); devices it has not seen yet are
    looked up as they appear."""
    mute_cache_s: float = 2.0
    """How long a stream evaluator reuses its silences/inhibition snapshot for new alerts (the beat's muting
    refresh corrects anything decided on a snapshot that old)."""
    evaluate_interval_s: float = 30.0
    """Beat interval of scheduled (window) rules."""
    tick_interval_s: float = 15.0
    """Beat interval of muting refresh, escalation and reminders."""
    dispatch_interval_s: float = 5.0
    """Beat interval of the outbox dispatcher (the safety net; deliveries are also enqueued directly)."""
    delivery_lease_s: float = 60.0
    """A claimed outbox row is re-sent by another worker after this long without a recorded outcome."""
    http_timeout_s: float = 10.0
    smtp_timeout_s: float = 10.0
    retry_base_s: float = 5.0
    retry_max_s: float = 900.0
    max_attempts: int = 8
    default_flap_window_s: float = 300.0


@lru_cache(maxsize=1)
def get_config() -> AlertsConfig:
    return AlertsConfig()
