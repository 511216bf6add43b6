"""The ``dossiers.recompute_due`` Celery task in a real worker (real Redis): after the calendar file changes, open
dossiers' due dates move and the rollup follows."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

from app import celery as celery_app
from ops_center.db import Conn
from ops_center.dossiers import service as svc
from ops_center.dossiers.calendar import load_calendar
from tests.dossiers.conftest import make_catalog, t

REPO = Path(__file__).resolve().parents[2]


def test_the_task_is_scheduled() -> None:
    assert "ops_center.dossiers.tasks" in celery_app.TASK_MODULES
    assert celery_app.BEAT_SCHEDULE["dossiers-recompute-due"]["task"] == "dossiers.recompute_due"


def test_recompute_due_in_a_real_worker(stack: Any, settings: Any, db: Conn, tmp_path: Path) -> None:
    from celery import Celery

    cat = make_catalog(db)
    svc.ingest_events(db, [{"dossier_id": cat.did("w"), "type": "received", "at": t(2025, 7, 7), "channel": "counter",
                            "procedure": cat.plain_proc, "unit": cat.unit}], "http:/dossiers/events",
                      calendar=load_calendar())
    due = db.execute("SELECT due_date FROM dossiers WHERE id = %s", (cat.did("w"),)).fetchone()
    assert due == (date(2025, 7, 14),)
    storm = tmp_path / "storm.yaml"
    storm.write_text("country: VN\nyears:\n  2025:\n    days_off:\n      - {date: 2025-07-09, name: 'Nghỉ tránh bão'}\n",
                     encoding="utf-8")
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/ops-center"), "worker", "--concurrency", "1", "--loglevel", "INFO",
         "--hostname", f"dossiers-{os.getpid()}@localhost"],
        env={**stack.env, "OPS_HOLIDAY_CALENDAR_FILE": str(storm)}, cwd=REPO, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        Celery(broker=settings.redis_url).send_task("dossiers.recompute_due")
        deadline = time.monotonic() + 120
        moved = None
        while time.monotonic() < deadline:
            moved = db.execute("SELECT due_date FROM dossiers WHERE id = %s", (cat.did("w"),)).fetchone()
            if moved == (date(2025, 7, 15),):
                break
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.3)
        assert moved == (date(2025, 7, 15),), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        svc.recompute_due_dates(db, load_calendar())  # the shipped calendar again, for the other tests
    overdue_in = db.execute("SELECT day FROM dossier_daily WHERE unit_code = %s AND overdue_in <> 0",
                            (cat.unit,)).fetchall()
    assert overdue_in == [(date(2025, 7, 14),)]
