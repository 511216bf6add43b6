"""Provision the simulated fleet through the device registry, and keep its secrets where the simulator finds them.

Idempotent: the first run registers every device (and gateway) with ``ops_center.devices.service``, issues its MQTT
credentials with ``ops_center.devices.credentials`` (the broker ACL then lets it write only its own topics) and
places it in its ward with ``geo.service.assign_ward`` when a boundary set is in force. A re-run reuses what is
there: a device that moved (another ``--seed``) or changed is updated, a secret the state file holds and the broker
still accepts is kept, and a missing or stale secret is rotated and recorded. Then the broker files are re-rendered
and the broker reloaded (``sync_broker``) if any account changed.

Secrets live in the state file (default ``.run/simulator/fleet.json``, mode 0600), never in the database (which
keeps only the ``$7$`` hashes).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psycopg

from ingest.simulator.fleet import UNITS, SimDevice, SimGateway
from ops_center.db import Conn
from ops_center.devices import credentials, provisioning, service
from ops_center.devices.models import Device, Gateway, PrincipalKind, WardAssignment
from ops_center.settings import REPO_ROOT, Settings

log = logging.getLogger("ingest.simulator")

DEFAULT_STATE: Final = REPO_ROOT / ".run" / "simulator" / "fleet.json"
STATE_VERSION: Final = 1


@dataclass
class FleetState:
    """The simulator's secrets, by principal id (device or gateway)."""

    path: Path
    secrets: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FleetState:
        """The state at ``path`` (empty when the file does not exist). A file that is not ours is refused."""
        if not path.exists():
            return cls(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--state: {str(path)!r} is not a readable simulator state file ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("secrets"), dict):
            raise ValueError(f"--state: {str(path)!r} has no 'secrets' object: not a simulator state file")
        secrets = {str(k): str(v) for k, v in doc["secrets"].items() if isinstance(v, str)}
        return cls(path, secrets, {k: v for k, v in doc.items() if k != "secrets"})

    def save(self) -> None:
        """Write atomically, readable by the owner only (0600, its folder 0700)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": STATE_VERSION, **self.info, "secrets": dict(sorted(self.secrets.items()))}, fh,
                      ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    """Registered but disabled by an operator: not simulated."""
    wards: int = 0
    """Principals whose ward was set or changed."""
    ward_set: str | None = None
    broker_synced: bool = False

    @property
    def registry_changed(self) -> bool:
        return bool(self.created or self.updated or self.wards)

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.rotated)} credentials "
                f"issued or rotated, {len(self.reused)} reused, {len(self.disabled)} disabled (skipped), "
                f"{self.wards} ward assignments ({self.ward_set or 'no boundary set in force'})")


WardResolver = Callable[[float, float], WardAssignment | None]


@dataclass
class Wards:
    """Ward assignment through ``geo.service.assign_ward`` (when geo is installed and a boundary set is in force).
    The geo index is built on first use only, so a re-run that moves nothing does not pay for it."""

    set_name: str | None
    resolve: WardResolver | None

    def needed(self, have: Device | Gateway | None, lon: float, lat: float) -> bool:
        """Whether the principal's ward must be (re)computed: new, moved, or placed in another set."""
        if self.resolve is None:
            return False
        return have is None or (have.lon, have.lat) != (lon, lat) or have.ward_set != self.set_name


def ward_resolver(conn: Conn) -> Wards:
    """``geo.service.assign_ward`` as a WardAssignment, if geo is installed and a boundary set is in force."""
    try:
        from geo.service import assign_ward, set_in_force
    except ImportError:
        return Wards(None, None)
    try:
        with conn.transaction():
            in_force = set_in_force(conn)
    except psycopg.Error as exc:
        log.warning("no ward assignment: geo is not ready (%s)", str(exc).strip().splitlines()[0])
        return Wards(None, None)
    if in_force is None:
        return Wards(None, None)

    def resolve(lon: float, lat: float) -> WardAssignment | None:
        ref = assign_ward(conn, lon, lat)
        return WardAssignment(ref.set_name, ref.code, ref.status) if ref.set_name else None

    return Wards(in_force, resolve)


def ensure_units(conn: Conn) -> None:
    for code, name, level in UNITS:
        if service.get_unit(conn, code) is None:
            service.create_unit(conn, code, name, level)


def _device_changes(have: Device, want: SimDevice) -> dict[str, Any]:
    wanted = {"kind": want.kind, "name": want.name, "lon": want.lon, "lat": want.lat, "unit_code": want.unit_code,
              "gateway_id": want.gateway_id, "expected_interval_s": want.expected_interval_s,
              "metadata": want.metadata()}
    return {k: v for k, v in wanted.items() if getattr(have, k) != v}


def _gateway_changes(have: Gateway, want: SimGateway) -> dict[str, Any]:
    wanted = {"name": want.name, "lon": want.lon, "lat": want.lat, "metadata": {"simulated": True}}
    return {k: v for k, v in wanted.items() if getattr(have, k) != v}


def _same_ward(have: Device | Gateway, ward: WardAssignment | None) -> bool:
    if ward is None:
        return have.ward_set is None and have.ward_code is None
    return (have.ward_set, have.ward_code, have.ward_status) == (ward.set_name, ward.code, ward.status)


def _reuse(conn: Conn, principal_id: str, state: FleetState) -> bool:
    """Whether the state file's secret for ``principal_id`` is the one its (enabled) account accepts."""
    secret = state.secrets.get(principal_id)
    if secret is None:
        return False
    return credentials.accepts(conn, principal_id, secret)


def _credentials(conn: Conn, settings: Settings, kind: PrincipalKind, principal_id: str, state: FleetState,
                 report: ProvisionReport) -> None:
    """Keep a working secret, or rotate (creating a missing account) and record the new one."""
    if _reuse(conn, principal_id, state):
        report.reused.append(principal_id)
        return
    state.secrets[principal_id] = provisioning.rotate(conn, settings, kind, principal_id).password
    report.rotated.append(principal_id)


def _created(principal_id: str, password: str, state: FleetState, report: ProvisionReport) -> None:
    state.secrets[principal_id] = password
    report.created.append(principal_id)
    report.rotated.append(principal_id)


def provision(conn: Conn, settings: Settings, devices: Sequence[SimDevice], gateways: Sequence[SimGateway],
              state: FleetState) -> ProvisionReport:
    """Register, update and credential the fleet in one transaction, then save ``state`` and sync the broker.
    ``conn`` must not be inside a transaction."""
    report = ProvisionReport()
    with conn.transaction():
        ensure_units(conn)
        wards = ward_resolver(conn)
        report.ward_set = wards.set_name
        for gw in gateways:
            _gateway(conn, settings, gw, wards, state, report)
        for dev in devices:
            _device(conn, settings, dev, wards, state, report)
    state.save()
    if report.rotated:
        report.broker_synced = credentials.sync_broker(settings, conn)
    return report


def _gateway(conn: Conn, settings: Settings, gw: SimGateway, wards: Wards, state: FleetState,
             report: ProvisionReport) -> None:
    have = service.get_gateway(conn, gw.id)
    place = wards.needed(have, gw.lon, gw.lat)
    ward = wards.resolve(gw.lon, gw.lat) if place and wards.resolve else None
    if have is None:
        _, creds = provisioning.provision_gateway(conn, settings, gw.id, name=gw.name, lon=gw.lon, lat=gw.lat,
                                                  unit_code=UNITS[0][0], metadata={"simulated": True}, ward=ward)
        _created(gw.id, creds.password, state, report)
        report.wards += ward is not None
        return
    if not have.enabled:
        report.disabled.append(gw.id)
        return
    changes = _gateway_changes(have, gw)
    if place:  # the registry sets a gateway's ward together with its location
        changes.update({"lon": gw.lon, "lat": gw.lat})
        report.wards += not _same_ward(have, ward)
    if changes:
        service.update_gateway(conn, gw.id, changes, ward=ward)
        report.updated.append(gw.id)
    _credentials(conn, settings, "gateway", gw.id, state, report)


def _device(conn: Conn, settings: Settings, dev: SimDevice, wards: Wards, state: FleetState,
            report: ProvisionReport) -> None:
    have = service.get_device(conn, dev.id)
    place = wards.needed(have, dev.lon, dev.lat)
    ward = wards.resolve(dev.lon, dev.lat) if place and wards.resolve else None
    if have is None:
        _, creds = provisioning.provision_device(
            conn, settings, dev.id, kind=dev.kind, name=dev.name, lon=dev.lon, lat=dev.lat, unit_code=dev.unit_code,
            gateway_id=dev.gateway_id, expected_interval_s=dev.expected_interval_s, metadata=dev.metadata(),
            ward=ward)
        _created(dev.id, creds.password, state, report)
        report.wards += ward is not None
        return
    if not have.enabled:
        report.disabled.append(dev.id)
        return
    changes = _device_changes(have, dev)
    if changes:
        report.updated.append(dev.id)
        have = service.update_device(conn, dev.id, changes, ward=ward)
    if place and not _same_ward(have, ward):
        service.set_device_ward(conn, dev.id, ward)
        report.wards += 1
    _credentials(conn, settings, "device", dev.id, state, report)
