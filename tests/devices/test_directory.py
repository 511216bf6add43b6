"""The device directory (``ops_center.devices.directory``): one copy per process of every device and gateway,
reloaded when the change stamp moves or a caller's copy is older than it accepts; ids looked up join it."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from ops_center.db import Conn
from ops_center.devices import service
from ops_center.devices.directory import DeviceDirectory, shared
from ops_center.devices.models import WardAssignment
from ops_center.settings import Settings
from tests.devices.conftest import uid


def test_reloads_when_the_stamp_moves_and_only_then(db: Conn) -> None:
    d = DeviceDirectory()
    assert d.refresh(db) is True
    version = d.version
    assert d.refresh(db) is False and d.version == version  # nothing changed: one small query, no reload
    dev = service.create_device(db, uid("dir"), kind="salinity", name="Trạm thư mục", lon=105.1, lat=9.1, ward=WardAssignment("test-set", "30001", "inside"))
    assert d.refresh(db) is True and d.version > version
    entry = d.entries[dev.id]
    assert (entry.kind, entry.name, entry.ward_code, entry.enabled) == ("salinity", "Trạm thư mục", "30001", True)
    assert d.refresh(db, max_age_s=0) is True  # a caller that accepts no age reloads anyway


def test_devices_leave_gateways_out_and_look_ups_join_the_copy(db: Conn) -> None:
    d = DeviceDirectory()
    d.refresh(db)
    gw = service.create_gateway(db, uid("dgw"), name="Cổng thư mục")
    dev = service.create_device(db, uid("dlk"), kind="rain", name="Trạm mới", gateway_id=gw.id)
    version = d.version
    found = d.look_up(db, [dev.id, gw.id, "no-such-device"])
    assert set(found) == {dev.id, gw.id} and d.version > version
    assert dev.id in d.devices() and gw.id not in d.devices() and gw.id in d.entries
    assert d.entries[gw.id].kind == "gateway" and d.entries[dev.id].gateway_id == gw.id


def test_the_asynchronous_refresh_reads_the_same(db: Conn, settings: Settings) -> None:
    dev = service.create_device(db, uid("das"), kind="salinity", name="Trạm async", lon=105.2, lat=9.2, ward=WardAssignment("test-set", "30002", "inside"))

    async def run() -> DeviceDirectory:
        d = DeviceDirectory()
        async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            async def query(sql: str, params: Any) -> list[tuple[Any, ...]]:
                cur = await conn.execute(sql, params)
                return await cur.fetchall()

            assert await d.refresh_async(query) is True
            assert await d.refresh_async(query) is False
        return d

    d = asyncio.run(run())
    assert d.entries == service.load_registry(db)
    assert d.entries[dev.id].ward_code == "30002"


def test_one_directory_per_process() -> None:
    assert shared() is shared()
