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
from ops_center.broker.passwd import mosquitto_verify
from ops_center.db import Conn
from ops_center.devices import credentials, service
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


def ward_resolver(conn: Conn) -> WardResolver | None:
    """``geo.service.assign_ward`` as a WardAssignment, if geo is installed and a boundary set is in force."""
    try:
        from geo.service import assign_ward, set_in_force
    except ImportError:
        return None
    try:
        with conn.transaction():
            if set_in_force(conn) is None:
                return None
    except psycopg.Error as exc:
        log.warning("no ward assignment: geo is not ready (%s)", str(exc).strip().splitlines()[0])
        return None

    def resolve(lon: float, lat: float) -> WardAssignment | None:
        ref = assign_ward(conn, lon, lat)
        return WardAssignment(ref.set_name, ref.code, ref.status) if ref.set_name else None

    return resolve


def ensure_units(conn: Conn) -> None:
    for code, name in UNITS:
        if service.get_unit(conn, code) is None:
            service.create_unit(conn, code, name, "department")


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


def _credentials(conn: Conn, settings: Settings, kind: PrincipalKind, principal_id: str, state: FleetState,
                 report: ProvisionReport, new: bool) -> None:
    secret = state.secrets.get(principal_id)
    if not new and secret is not None:
        row = conn.execute("SELECT password_hash, enabled FROM mqtt_accounts WHERE username = %s",
                           (principal_id,)).fetchone()
        if row is not None and row[1] and mosquitto_verify(row[0], secret):
            report.reused.append(principal_id)
            return
    creds = (credentials.issue(conn, kind, principal_id, settings) if new and
             credentials.get_account(conn, principal_id) is None
             else credentials.rotate(conn, kind, principal_id, settings, enabled=True))
    state.secrets[principal_id] = creds.password
    report.rotated.append(principal_id)


def provision(conn: Conn, settings: Settings, devices: Sequence[SimDevice], gateways: Sequence[SimGateway],
              state: FleetState) -> ProvisionReport:
    """Register, update and credential the fleet in one transaction, then save ``state`` and sync the broker.
    ``conn`` must not be inside a transaction."""
    report = ProvisionReport()
    with conn.transaction():
        ensure_units(conn)
        resolve = ward_resolver(conn)
        for gw in gateways:
            ward = resolve(gw.lon, gw.lat) if resolve else None
            report.ward_set = report.ward_set or (ward.set_name if ward else None)
            have_gw = service.get_gateway(conn, gw.id)
            if have_gw is None:
                service.create_gateway(conn, gw.id, name=gw.name, lon=gw.lon, lat=gw.lat, unit_code=UNITS[0][0],
                                       metadata={"simulated": True}, ward=ward)
                report.created.append(gw.id)
                report.wards += ward is not None
            else:
                if not have_gw.enabled:
                    report.disabled.append(gw.id)
                    continue
                changes = _gateway_changes(have_gw, gw)
                if changes:
                    service.update_gateway(conn, gw.id, changes, ward=ward)
                    report.updated.append(gw.id)
                if not _same_ward(service.require_gateway(conn, gw.id), ward):
                    # the registry sets a gateway's ward with its location
                    service.update_gateway(conn, gw.id, {"lon": gw.lon, "lat": gw.lat}, ward=ward)
                    report.wards += 1
            _credentials(conn, settings, "gateway", gw.id, state, report, new=have_gw is None)
        for dev in devices:
            ward = resolve(dev.lon, dev.lat) if resolve else None
            report.ward_set = report.ward_set or (ward.set_name if ward else None)
            have = service.get_device(conn, dev.id)
            if have is None:
                service.create_device(conn, dev.id, kind=dev.kind, name=dev.name, lon=dev.lon, lat=dev.lat,
                                      unit_code=dev.unit_code, gateway_id=dev.gateway_id,
                                      expected_interval_s=dev.expected_interval_s, metadata=dev.metadata(),
                                      ward=ward)
                report.created.append(dev.id)
                report.wards += ward is not None
            else:
                if not have.enabled:
                    report.disabled.append(dev.id)
                    continue
                changes = _device_changes(have, dev)
                if changes:
                    have = service.update_device(conn, dev.id, changes, ward=ward)
                    report.updated.append(dev.id)
                if not _same_ward(have, ward):
                    service.set_device_ward(conn, dev.id, ward)
                    report.wards += 1
            _credentials(conn, settings, "device", dev.id, state, report, new=have is None)
    state.save()
    if report.rotated:
        report.broker_synced = credentials.sync_broker(settings, conn)
    return report
