"""The scorecard on the timescale flavour (the TimescaleDB build served by PGlite): migrations 0052–0053 and
0070–0072 apply, the feeds write, and every figure equals PostgreSQL's on the same hand-built data."""

from __future__ import annotations

from datetime import date

import pytest

from ops_center.db import Conn
from ops_center.dossiers import index_rollup
from ops_center.migrate import migrate
from ops_center.scorecard import drill, gather, service
from ops_center.scorecard.periods import Period, partition
from tests.scorecard.data import CAL, load
from tests.support.pglite import connect_timescale, start_pglite


@pytest.mark.timescale
def test_scorecard_on_timescale(sdb: Conn) -> None:
    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert migrate(conn)[0] == "timescale"
        load(conn)
        for level in ("unit", "ward", "district", "province"):
            for period in ("month", "range"):
                periods = partition(date(2025, 5, 1), date(2025, 7, 16), period)
                assert gather.counts(conn, periods, level, CAL) == gather.counts(sdb, periods, level, CAL), (
                    level, period)
        june = Period(date(2025, 6, 1), date(2025, 7, 1))
        assert service.scorecard(conn, "unit", "month", june, CAL) == service.scorecard(sdb, "unit", "month", june,
                                                                                         CAL)
        page = drill.page(conn, "2.1", "numerator", "unit", "U1", june, CAL)
        assert [d["id"] for d in page.items] == ["d1", "d2", "d3", "d5"]
        with conn.transaction():
            index_rollup.rebuild(conn)
        assert gather.counts(conn, [june], "province", CAL) == gather.counts(sdb, [june], "province", CAL)
