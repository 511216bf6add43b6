"""SenML names resolved once per batch (``decode_message(..., names=memo)``): the same readings and rejections as
decoding each message alone — a device named by two gateways is judged per gateway, a rejection repeats in every
pack that repeats the name, and base names and bare names still resolve per pack."""

from __future__ import annotations

import orjson

from ingest.decode import NameMemo, decode_message
from tests.ingest.test_decode import CAT, MAX_AGE, MAX_PAYLOAD, NOW, REGISTRY


def _packs() -> list[tuple[str, bytes]]:
    gw1, gw2, dev = "ops/v1/gateways/gw-1/telemetry", "ops/v1/gateways/gw-2/telemetry", "ops/v1/devices/sal-01/telemetry"
    recs = [{"n": "rain-1:rain_mm", "v": 1.0, "t": NOW - 10}, {"n": "other-1:rain_mm", "v": 2.0, "t": NOW - 10},
            {"n": "nobody:rain_mm", "v": 3.0, "t": NOW - 10}, {"n": "rain-off:rain_mm", "v": 4.0, "t": NOW - 10},
            {"bn": "node-3:", "n": "water_level_cm", "v": 5.0, "t": NOW - 9}, {"n": "rain_mm", "v": 6.0, "t": NOW - 9}]
    out = []
    for k in range(3):
        out.append((gw1, orjson.dumps([{**r, "t": r["t"] + k} for r in recs])))
        out.append((gw2, orjson.dumps([{**r, "t": r["t"] + k} for r in recs])))
        out.append((dev, orjson.dumps([{"n": "salinity_ppt", "v": 1.5 + k, "t": NOW - 5},
                                       {"n": "rain-1:rain_mm", "v": 1.0, "t": NOW - 5}])))
    return out


def test_a_shared_memo_changes_nothing() -> None:
    memo: NameMemo = {}
    for topic, payload in _packs():
        alone = decode_message(topic, payload, NOW, REGISTRY, CAT, MAX_PAYLOAD, MAX_AGE)
        shared = decode_message(topic, payload, NOW, REGISTRY, CAT, MAX_PAYLOAD, MAX_AGE, memo)
        assert shared.readings == alone.readings
        assert shared.rejects == alone.rejects
        assert alone.rejects  # every pack has something refused, and it is refused again with the memo
    assert set(memo) == {(None, "gw-1"), (None, "gw-2"), ("sal-01", None)}
