"""The Celery wiring: the task modules a worker loads and the beat schedule, for ``ops-center worker`` and
``ops-center beat``. The app itself (broker, serializer, time zone) is the core's ``ops_center.celery_app.app``, on
which the task modules register; this module configures it with everything the core may not name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alerts import tasks as alerts_tasks
from geo import tasks as geo_tasks
from ops_center import maintenance
from ops_center.celery_app import CeleryConfig, app
from ops_center.dossiers import tasks as dossiers_tasks
from ops_center.federation import tasks as federation_tasks
from ops_center.federation.config import beat_entries, get_config

__all__ = ["BEAT_SCHEDULE", "TASK_MODULES", "app"]

TASK_MODULES = [m.__name__ for m in (maintenance, federation_tasks, alerts_tasks, dossiers_tasks, geo_tasks)]
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "readings-partitions": {"task": "ops_center.maintenance.ensure_partitions", "schedule": timedelta(hours=1)},
    "dead-letters-retention": {"task": "ops_center.maintenance.prune_dead_letters", "schedule": timedelta(hours=1)},
    "alerts-evaluate": {"task": "alerts.evaluate", "schedule": timedelta(seconds=30)},
    "alerts-tick": {"task": "alerts.tick", "schedule": timedelta(seconds=15)},
    "alerts-dispatch": {"task": "alerts.dispatch", "schedule": timedelta(seconds=5)},
    "geo-reassign": {"task": "geo.reassign_if_due", "schedule": timedelta(minutes=5)},
    "dossiers-recompute-due": {"task": "dossiers.recompute_due", "schedule": timedelta(hours=6)},
}
"""Fixed entries; the federation adds its own from its configuration (``beat_entries``), read when beat starts."""


class _Wiring(CeleryConfig):
    @property
    def beat_schedule(self) -> dict[str, dict[str, Any]]:
        return {**BEAT_SCHEDULE, **beat_entries(get_config())}

    @property
    def include(self) -> list[str]:
        return TASK_MODULES


app.config_from_object(_Wiring())
