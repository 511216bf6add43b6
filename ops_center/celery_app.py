"""The Celery application (Redis broker) on which every package registers its tasks (``@app.task``), and from which
the API queues one (``deliver.delay``). Configuration is read lazily from Settings on first use, so importing this
module never needs a configured environment. Which task modules a worker loads, and the beat schedule, are the
composition's (``app/celery.py``)."""

from __future__ import annotations

from celery import Celery

from ops_center.settings import get_settings


class CeleryConfig:
    """Read by Celery attribute by attribute when the app first needs its configuration."""

    task_acks_late = True
    task_reject_on_worker_lost = True
    worker_prefetch_multiplier = 1
    task_serializer = "json"
    accept_content = ["json"]  # noqa: RUF012
    enable_utc = True
    broker_connection_retry_on_startup = True

    @property
    def broker_url(self) -> str:
        return get_settings().redis_url

    @property
    def timezone(self) -> str:
        return get_settings().timezone


app = Celery("ops_center")
app.config_from_object(CeleryConfig())
