"""The federation on the timescale flavour (the TimescaleDB build served by PGlite): the change trigger, the
outbox build of every kind, and the national side's accept and reads — the same calls as on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ops_center.devices import service as devices
from ops_center.federation import outbox, registry
from ops_center.federation.national import credentials, receive, store
from ops_center.migrate import migrate
from tests.support.pglite import connect_timescale, start_pglite
from tests.support.province_data import generate

pytestmark = pytest.mark.timescale


def test_federation_on_timescale(stack) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert migrate(conn)[0] == "timescale"
        outbox.set_publishing(conn, True)
        conn.commit()
        generate(conn, tag="TS", marker="PIITS", months=2, dossiers_per_month=10, n_incidents=2, n_devices=3, now=now)
        conn.commit()
        devices.record_status(conn, "dv-TS-00", "online", now)
        conn.commit()
        assert {"dossier", "incident", "device_status"} <= {r[0] for r in conn.execute(
            "SELECT topic FROM federation_changes").fetchall()}
        report = outbox.publish(conn, "96", now, history_months=2)
        conn.commit()
        kinds = registry.producers().values()
        n = sum(2 if p.history else 1 for p in kinds)  # 2 months of each monthly kind + each state kind once
        assert {"dossier_kpis", "scorecard_766", "readiness"} <= {p.kind for p in kinds if p.history}
        assert not report.errors and len(report.built) == n, report
        assert conn.execute("SELECT count(*) FROM federation_changes").fetchone() == (0,)
        again = outbox.publish(conn, "96", now, history_months=2)
        assert again.built == [] and again.unchanged == n
        credentials.ensure_province(conn, "96", "Tỉnh Cà Mau")
        rows = conn.execute("SELECT envelope FROM federation_outbox ORDER BY id").fetchall()
        outcomes = [receive.accept(conn, "96", r[0], now, max_skew_s=300).outcome for r in rows]
        assert outcomes == ["stored"] * n
        assert receive.accept(conn, "96", rows[0][0], now, max_skew_s=300).outcome == "duplicate"
        conn.commit()
        kpis = [r[0] for r in rows if r[0]["kind"] == "dossier_kpis"]
        month = max(kpis, key=lambda e: e["data"]["province"]["received"]["total"])
        values = store.metric_values(conn, "dossier_kpis", ("province", "received", "total"), month["period"])
        assert values["96"].value == month["data"]["province"]["received"]["total"] > 0
        [status] = store.statuses(conn)
        assert status.code == "96" and status.last_contact_at is not None
