"""The batching policy between paho's network thread and the decoder (ingest/intake.py)."""

from __future__ import annotations

import threading

from ingest.intake import Intake, Pending


def _msg(i: int, size: int = 10) -> Pending:
    return (i + 1, 1, b"ops/v1/devices/d/telemetry", b"x" * size)


def _taker(intake: Intake, stopping: threading.Event) -> tuple[threading.Thread, list[list[Pending] | None]]:
    got: list[list[Pending] | None] = []
    t = threading.Thread(target=lambda: got.append(intake.next_batch(stopping)), daemon=True)
    t.start()
    return t, got


def test_a_batch_waits_for_its_age_or_for_being_full() -> None:
    intake = Intake(max_messages=100, max_bytes=1 << 20, flush_s=3600.0)
    stopping = threading.Event()
    intake.put(_msg(0))
    t, got = _taker(intake, stopping)
    t.join(0.3)
    assert t.is_alive() and not got  # one message, an hour to go: still waiting
    for i in range(1, 100):
        intake.put(_msg(i))
    t.join(10)
    assert got and got[0] is not None and [m[0] for m in got[0]] == list(range(1, 101))


def test_an_old_enough_batch_goes_as_it_is() -> None:
    intake = Intake(max_messages=100, max_bytes=1 << 20, flush_s=0.05)
    intake.put(_msg(0))
    intake.put(_msg(1))
    batch = intake.next_batch(threading.Event())
    assert batch is not None and len(batch) == 2 and len(intake) == 0


def test_batches_are_cut_by_count_and_by_payload_bytes_and_the_rest_is_due_at_once() -> None:
    intake = Intake(max_messages=10, max_bytes=1000, flush_s=3600.0)
    stopping = threading.Event()
    for i in range(25):
        intake.put(_msg(i))
    assert [len(intake.next_batch(stopping) or []) for _ in range(2)] == [10, 10]
    big = Intake(max_messages=1000, max_bytes=1000, flush_s=3600.0)
    for i in range(25):
        big.put(_msg(i, size=300))
    sizes = [len(big.next_batch(stopping) or []) for _ in range(6)]
    assert sizes == [4, 4, 4, 4, 4, 4]  # 1,200 bytes reach the cap of 1,000 at the fourth message
    assert len(big) == 1


def test_stopping_hands_over_what_is_left_then_nothing() -> None:
    intake = Intake(max_messages=100, max_bytes=1 << 20, flush_s=3600.0)
    stopping = threading.Event()
    for i in range(5):
        intake.put(_msg(i))
    stopping.set()
    intake.wake.set()
    batch = intake.next_batch(stopping)
    assert batch is not None and len(batch) == 5
    assert intake.next_batch(stopping) is None
