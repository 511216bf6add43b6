"""Messages queued for the ingest share group while its consumers are offline (#13; DESIGN.md, "Pitfalls": a fresh
MQTT 3.1.1 persistent session on a ``$share`` subscription once received only half of what was queued for it).

Each case publishes a burst far above Mosquitto's stock limits (20 in flight, 1,000 queued) while every consumer of
the group is down, then brings them back and checks exact counts: every reading stored once, and counted once in
the hourly and daily rollups."""

from __future__ import annotations

import secrets
import time

from tests.pipeline.conftest import add_devices, count_readings, publish, wait_count

N_OFFLINE = 40_000


def _prefix() -> str:
    return f"o{secrets.token_hex(3)}_"


def _exact(db, prefix: str, want: int) -> None:  # type: ignore[no-untyped-def]
    assert wait_count(db, prefix, want, timeout=180) == want
    time.sleep(1.0)  # anything redelivered twice would land now
    assert count_readings(db, prefix) == want
    like = prefix.replace("_", r"\_") + "%"
    hourly, daily = db.execute(
        "SELECT (SELECT sum(count) FROM readings_hourly WHERE device_id LIKE %s), "
        "(SELECT sum(count) FROM readings_daily WHERE device_id LIKE %s)", (like, like)).fetchone()
    assert (hourly, daily) == (want, want)


def test_burst_queued_for_a_fresh_session(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    """The session and its shared subscription were made a moment ago and have never carried a message."""
    prefix = _prefix()
    add_devices(db, prefix, 40)
    ing = ingest_factory()
    ing.start()  # creates the persistent session and subscribes
    assert ing.terminate() == 0
    pub = publish(stack, N_OFFLINE, prefix=prefix, devices=40)
    assert pub.wait(240) == 0  # every message acknowledged by the broker: queued for the offline session
    ing.start()
    _exact(db, prefix, N_OFFLINE)
    assert ing.terminate() == 0


def test_burst_queued_for_a_resumed_session_after_sigkill(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    """The session carried a stream, its process was killed with messages in flight (received, not acked), and a
    burst was queued before it came back."""
    prefix = _prefix()
    add_devices(db, prefix, 40)
    ing = ingest_factory()
    ing.start()
    first = publish(stack, 10_000, prefix=prefix, devices=40, rate=8_000)
    while count_readings(db, prefix) < 3_000:
        time.sleep(0.05)
    ing.kill()
    assert first.wait(240) == 0
    rest = publish(stack, N_OFFLINE, prefix=prefix, devices=40, start=10_000)
    assert rest.wait(240) == 0
    ing.start()
    _exact(db, prefix, 10_000 + N_OFFLINE)
    assert ing.terminate() == 0


def test_burst_queued_while_the_whole_group_is_down(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    """Two processes share the subscription; both stop; the burst is split between their offline sessions; each
    comes back and drains its part."""
    prefix = _prefix()
    add_devices(db, prefix, 40)
    a, b = ingest_factory(0), ingest_factory(1)
    a.start()
    b.start()
    assert a.terminate() == 0 and b.terminate() == 0
    pub = publish(stack, N_OFFLINE, prefix=prefix, devices=40)
    assert pub.wait(240) == 0
    a.start()
    b.start()
    _exact(db, prefix, N_OFFLINE)
    got_a, got_b = _acked(a), _acked(b)
    assert got_a > 0 and got_b > 0, (got_a, got_b)  # each drained the part queued for its own session
    assert got_a + got_b >= N_OFFLINE, (got_a, got_b)  # a redelivery is acked again, never less
    assert a.terminate() == 0 and b.terminate() == 0


def _acked(ing) -> float:  # type: ignore[no-untyped-def]
    """The process's acked count (its metrics page may be slow to answer on a busy machine)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = ing.metric("ingest_messages_acked_total")
        if got is not None:
            return float(got)
        time.sleep(0.2)
    raise AssertionError(f"no metrics from {ing.client_id}")
