"""The registry functions ingest calls (``load_registry``, ``registry_stamp``, ``record_seen``, ``record_status``) and
the service-level checks every caller gets, against the session's PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest.catalogue import default_catalogue
from ingest.decode import decode_message
from ops_center.db import Conn
from ops_center.devices import service
from ops_center.devices.models import Conflict, DeviceFilter, DeviceInfo, InvalidValue, NotFound
from ops_center.devices.text import fold
from tests.devices.conftest import uid


def test_load_registry_feeds_the_ingest_decoder(db: Conn) -> None:
    gw = service.create_gateway(db, uid("gw"), name="Cổng")
    on = service.create_device(db, uid("on"), kind="salinity", name="Trạm 1", gateway_id=gw.id, lon=105.1, lat=9.1)
    off = service.create_device(db, uid("off"), kind="rain", name="Trạm 2", enabled=False, expected_interval_s=60)
    reg = service.load_registry(db)
    assert reg[on.id].gateway_id == gw.id and reg[on.id].kind == "salinity" and reg[on.id].enabled
    assert (reg[on.id].lon, reg[on.id].lat, reg[on.id].expected_interval_s) == (105.1, 9.1, 600)
    assert reg[off.id].enabled is False and reg[off.id].expected_interval_s == 60
    assert reg[gw.id].kind == "gateway" and reg[gw.id].gateway_id is None

    devices = {k: DeviceInfo(e.device_id, e.enabled, e.gateway_id, e.kind, e.ward_code) for k, e in reg.items()}
    now = time.time()
    ok = decode_message(f"ops/v1/gateways/{gw.id}/telemetry",
                        f'[{{"bn": "{on.id}:", "n": "salinity_ppt", "v": 2.5, "t": {now}}}]'.encode(),
                        now, devices, default_catalogue(), 65536, 86400)
    assert ok.readings == [(now, on.id, "salinity_ppt", 2.5)] and ok.rejects == []
    refused = decode_message(f"ops/v1/devices/{off.id}/telemetry", b'{"ts": 1, "metrics": {"rain_mm": 1}}', now,
                             devices, default_catalogue(), 65536, 86400)
    assert [r.reason_code for r in refused.rejects] == ["disabled_device"]


def test_registry_stamp_changes_with_every_change(db: Conn) -> None:
    s0 = service.registry_stamp(db)
    d = service.create_device(db, uid("st"), kind="rain", name="Trạm")
    s1 = service.registry_stamp(db)
    service.set_device_enabled(db, d.id, False)
    s2 = service.registry_stamp(db)
    service.delete_device(db, d.id)
    s3 = service.registry_stamp(db)
    assert s0 != s1 != s2 != s3  # (s3 may equal s0: the registry is the same again)


def test_record_seen_only_moves_forward(db: Conn) -> None:
    a = service.create_device(db, uid("seen"), kind="rain", name="A")
    b = service.create_device(db, uid("seen"), kind="rain", name="B")
    gw = service.create_gateway(db, uid("gw"), name="G")
    t = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert service.record_seen(db, {a.id: t.timestamp(), b.id: t, gw.id: t, "not-registered": t}) == 3
    assert service.record_seen(db, {a.id: (t - timedelta(hours=1)).timestamp(), b.id: t + timedelta(minutes=5)}) == 1
    assert service.require_device(db, a.id).last_seen == t
    assert service.require_device(db, b.id).last_seen == t + timedelta(minutes=5)
    assert service.require_gateway(db, gw.id).last_seen == t
    assert service.record_seen(db, {}) == 0
    # with a minimum step, a time only a little later is not written
    assert service.record_seen(db, {a.id: t + timedelta(seconds=3)}, min_step_s=5) == 0
    assert service.record_seen(db, {a.id: t + timedelta(seconds=6)}, min_step_s=5) == 1
    assert service.require_device(db, a.id).last_seen == t + timedelta(seconds=6)
    assert service.require_device(db, a.id).stale is True  # 2026-01-01 is long ago relative to 2 x 600 s
    service.record_seen(db, {a.id: datetime.now(UTC)})
    assert service.require_device(db, a.id).stale is False


def test_record_status_emits_on_change_only(db: Conn) -> None:
    d = service.create_device(db, uid("stat"), kind="water_level", name="Trạm mực nước")
    now = time.time()

    def events() -> list[tuple[str, str]]:
        rows = db.execute("SELECT payload->>'state', coalesce(payload->>'previous', '-') FROM events "
                          "WHERE topic = 'device_status' AND subject = %s ORDER BY id", (d.id,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    assert service.record_status(db, d.id, "online", now) is True
    assert service.record_status(db, d.id, "online", now + 1) is False  # retained status redelivered
    assert service.record_status(db, d.id, "offline", now - 100) is False  # older than what is stored
    assert service.record_status(db, d.id, "offline", now + 2) is True  # its last will
    assert events() == [("online", "-"), ("offline", "online")]
    got = service.require_device(db, d.id)
    assert got.status == "offline" and got.status_at is not None
    with pytest.raises(InvalidValue, match="state: value 'rebooting'"):
        service.record_status(db, d.id, "rebooting", now)


def test_service_checks_name_field_and_value(db: Conn) -> None:
    with pytest.raises(InvalidValue, match=r"kind: value 'rocket' is not a known device kind \(one of: .*salinity"):
        service.create_device(db, uid(), kind="rocket", name="x")
    with pytest.raises(InvalidValue, match="id: value \"x'; DROP TABLE devices;--\" is not a valid device id"):
        service.create_device(db, "x'; DROP TABLE devices;--", kind="rain", name="x")
    with pytest.raises(InvalidValue, match="lat: is missing while lon is 105"):
        service.create_device(db, uid(), kind="rain", name="x", lon=105)
    with pytest.raises(InvalidValue, match="lon: value nan is not finite"):
        service.create_device(db, uid(), kind="rain", name="x", lon=float("nan"), lat=9.0)
    with pytest.raises(InvalidValue, match=r"name: value .* is not valid Unicode"):
        service.create_device(db, uid(), kind="rain", name="bad \ud800")
    with pytest.raises(InvalidValue, match=r"metadata\.a\.b: value .* is not valid Unicode"):
        service.create_device(db, uid(), kind="rain", name="x", metadata={"a": {"b": "\udfff"}})
    with pytest.raises(InvalidValue, match="metadata: value 'x' is not a JSON object"):
        service.create_device(db, uid(), kind="rain", name="x", metadata="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="expected_interval_s: value True is not a whole number"):
        service.create_device(db, uid(), kind="rain", name="x", expected_interval_s=True)  # type: ignore[arg-type]
    d = service.create_device(db, uid(), kind="rain", name="x")
    with pytest.raises(Conflict, match=f"id: value '{d.id}' is already the id of a device"):
        service.create_gateway(db, d.id, name="g")
    with pytest.raises(InvalidValue, match="enabled: is not a field of a device that can be changed"):
        service.update_device(db, d.id, {"enabled": False})
    with pytest.raises(NotFound, match="device_id: no device 'ghost'"):
        service.update_device(db, "ghost", {"name": "y"})
    with pytest.raises(InvalidValue, match="limit: value 0"):
        service.list_devices(db, DeviceFilter(), limit=0)


def test_vietnamese_search_folding() -> None:
    assert fold("Trạm đo mực nước Đầm Dơi") == "tram do muc nuoc dam doi"
    assert fold("  ẤP   Tân\tHưng ") == "ap tan hung"
    assert fold("Ngã Năm") == fold("NGA NAM")
