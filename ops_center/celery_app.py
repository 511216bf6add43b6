"""The Celery application (Redis broker). Configuration is read lazily from Settings on first use, so importing
this module never needs a configured environment. Task modules of the other packages are included by name."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from typing import Any

from celery import Celery

from ops_center.settings import get_settings

TASK_MODULES = ["ops_center.maintenance", "ops_center.federation.tasks"]
OPTIONAL_TASK_MODULES = ["alerts.tasks", "ops_center.dossiers.tasks", "geo.tasks"]
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "readings-partitions": {"task": "ops_center.maintenance.ensure_partitions", "schedule": timedelta(hours=1)},
    "dead-letters-retention": {"task": "ops_center.maintenance.prune_dead_letters", "schedule": timedelta(hours=1)},
    "alerts-evaluate": {"task": "alerts.evaluate", "schedule": timedelta(seconds=30)},
    "alerts-tick": {"task": "alerts.tick", "schedule": timedelta(seconds=15)},
    "alerts-dispatch": {"task": "alerts.dispatch", "schedule": timedelta(seconds=5)},
    "geo-reassign": {"task": "geo.reassign_if_due", "schedule": timedelta(minutes=5)},
    "dossiers-recompute-due": {"task": "dossiers.recompute_due", "schedule": timedelta(hours=6)},
}


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class _Config:
    """Read by Celery attribute by attribute when the app first needs its configuration."""

    task_acks_late = True
    task_reject_on_worker_lost = True
    worker_prefetch_multiplier = 1
    task_serializer = "json"
    accept_content = ["json"]  # noqa: RUF012
    enable_utc = True
    broker_connection_retry_on_startup = True

    @property
    def beat_schedule(self) -> dict[str, dict[str, Any]]:
        from ops_center.federation.config import beat_entries, get_config

        return {**BEAT_SCHEDULE, **beat_entries(get_config())}

    @property
    def broker_url(self) -> str:
        return get_settings().redis_url

    @property
    def timezone(self) -> str:
        return get_settings().timezone

    @property
    def include(self) -> list[str]:
        return TASK_MODULES + [m for m in OPTIONAL_TASK_MODULES if _present(m)]


app = Celery("ops_center")
app.config_from_object(_Config())
