"""The pure parts of ``ops_center.db_replicas``: how a measured lag is judged (an idle primary does not make a
caught-up replica look stale), names that carry no secret, and the choice among replicas (in turn, never a stale
or failed one, the primary when none fits)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from psycopg_pool import ConnectionPool

from ops_center.db_replicas import Measure, Replica, ReplicaSet, ReplicaStatus, judge, replica_name


@pytest.mark.parametrize(("m", "lag", "usable"), [
    (Measure(True, 0.0, 3600.0), 0.0, True),  # caught up with an idle primary: its last commit an hour old
    (Measure(True, -128.0, 3600.0), 0.0, True),  # replayed past the position read a moment before
    (Measure(True, 4096.0, 0.4), 0.4, True),  # behind, but its last replayed commit is recent
    (Measure(True, 4096.0, 7.5, paused=True), 7.5, False),  # behind and stale: skipped
    (Measure(True, None, 1.0), 1.0, True),  # primary unreadable: judged by replay age alone
    (Measure(True, None, 30.0), 30.0, False),
    (Measure(True, None, None), None, False),  # nothing to judge by
    (Measure(False, None, None), None, False),  # promoted: a history of its own
])
def test_judge(m: Measure, lag: float | None, usable: bool) -> None:
    got, why = judge(m, max_lag_s=2.0)
    assert got == lag
    assert (why is None) == usable, why


def test_names_carry_no_secret() -> None:
    assert replica_name("postgresql://reader:s3cret@10.0.0.12:5433/ops?sslmode=require") == "10.0.0.12:5433/ops"
    assert replica_name("host=db2 dbname=ops user=u password=s3cret") == "db2:5432/ops"
    assert replica_name("postgresql://u:s3cret@h1:5432,h2:5432/ops") == "h1,h2:5432,5432/ops"
    assert "s3cret" not in replica_name("postgresql://u:s3cret@[broken")


def _set(n: int) -> ReplicaSet:
    pools = [ConnectionPool("", open=False) for _ in range(n + 1)]
    replicas = [Replica(f"r{i}:5432/ops", "", pools[i + 1]) for i in range(n)]
    return ReplicaSet(pools[0], "", replicas, max_lag_s=2.0, check_s=1.0, pool_timeout_s=1.0)


def _good(r: Replica) -> None:
    r.status = ReplicaStatus(r.name, usable=True, reachable=True, lag_s=0.0, checked_at=datetime.now(UTC))
    r.checked_mono = time.monotonic()


def test_choice_in_turn_and_fallback() -> None:
    rs = _set(2)
    assert not rs.source().replica and rs.primary_reads == 1  # nothing checked yet
    for r in rs.replicas:
        _good(r)
    names = [rs.source().name for _ in range(4)]
    assert sorted(names) == ["r0:5432/ops", "r0:5432/ops", "r1:5432/ops", "r1:5432/ops"]
    assert names[0] != names[1]
    assert not rs.source(primary_only=True).replica
    rs.report_failure("r0:5432/ops", OSError("gone"))
    assert {rs.source().name for _ in range(3)} == {"r1:5432/ops"}
    rs.replicas[1].checked_mono -= 60  # its last check long ago (the checker stuck): not trusted
    assert not rs.source().replica
    s = rs.statuses()
    assert [x.usable for x in s] == [False, False] and (s[1].reason or "").startswith("not checked for")
    assert s[0].failures == 1 and (s[0].reads, s[1].reads) == (2, 5)
