"""What the simulated one-stop-shop sets up before it sends anything, as the province's operators and an admin
would: the units (the province, departments, the 2019 districts and communes, the 2025 communes) and the
procedures catalogue in the registry (idempotent), and the system's API key of role integration, minted for an
enabled admin (a key borrows its owner's standing) and kept in the state file while it still works."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any, Final

import shapely

from ingest.simulator.geography import Geography
from ingest.simulator.onestop import Commune, Commune2019, Config, Province
from ingest.simulator.onestop_catalogue import AddBusinessDays, catalogue
from ingest.simulator.onestop_units import province_units
from ingest.simulator.provision import FleetState
from ops_center.auth import users
from ops_center.auth.accounts import AccountRefused, check_key_owner
from ops_center.auth.apikeys import create_api_key, verify_api_key
from ops_center.auth.roles import Role
from ops_center.db import Conn
from ops_center.devices import service as registry
from ops_center.dossiers import procedures

log = logging.getLogger("ingest.simulator.onestop")
KEY_NAME: Final = "simulator-onestop"
DEFAULT_KEY_OWNER: Final = "admin"
"""The admin account ``make up`` creates; the simulator's API key belongs to it (keys borrow an admin's standing)."""


class ProvisionError(RuntimeError):
    """The one-stop-shop cannot be provisioned as asked (the message names the option and the value)."""


def build_province(geo: Geography, wards_2019: Any | None, prefix: str) -> Province:
    """Commune units of the 2025 wards, each with the 2019 wards its territory covers (area weights), and the 2019
    communes with their districts, from the 2019 boundary frame (``geo.boundaries.load_boundaries(...).frame``;
    None: no history before the reform)."""
    codes19: list[str] = []
    tree = None
    geoms19: list[Any] = []
    communes19: list[Commune2019] = []
    if wards_2019 is not None:
        codes19 = [str(c) for c in wards_2019["code"]]
        geoms19 = list(wards_2019.geometry.values)
        tree = shapely.STRtree(geoms19)
        communes19 = [Commune2019(f"{prefix}-ubnd19-{r.code}", str(r.code), str(r.name), str(r.parent_code),
                                  str(r.parent_name)) for r in wards_2019.itertuples()]
    communes = []
    for w in geo.wards:
        cover: list[tuple[str, float]] = []
        if tree is not None:
            for i in tree.query(w.geometry):
                share = shapely.area(shapely.intersection(w.geometry, geoms19[int(i)])) / max(w.geometry.area, 1e-12)
                if share > 0.01:
                    cover.append((codes19[int(i)], round(share, 4)))
        communes.append(Commune(f"{prefix}-ubnd-{w.code}", w.code, tuple(cover), 2.0 if w.urban else 1.0, w.name))
    return Province(tuple(communes), tuple(codes19), tuple(w.code for w in geo.wards), tuple(communes19), prefix)


def load_wards_2019(path: Path) -> Any | None:
    """The 2019 ward frame (code, name, district, geometry), or None when the file is missing (no history before
    the reform)."""
    if not path.is_file():
        log.warning("no %s: the one-stop-shop has no history before 2025-07-01", path)
        return None
    from geo.boundaries import CAMAU_2019, load_boundaries

    return load_boundaries(path, CAMAU_2019).frame


def key_owner(conn: Conn, username: str) -> users.User:
    """The enabled admin who owns the simulator's API key, its row held (``FOR SHARE``) while the key is minted."""
    found = users.get_user(conn, username)
    row = users.get_user_by_id(conn, found.id, lock=True) if found is not None else None
    try:
        return check_key_owner(row, KEY_NAME)
    except AccountRefused as exc:
        raise ProvisionError(f"--onestop-key-owner {username!r}: {exc}; an API key belongs to an enabled admin "
                             f"(ops-center users create {username} --role admin)") from exc


def _may_act(owner: users.User | None) -> bool:
    try:
        check_key_owner(owner, KEY_NAME)
    except AccountRefused:
        return False
    return True


def provision(conn: Conn, config: Config, egov: dict[str, Any], province: Province, state: FleetState, *,
              owner: str = DEFAULT_KEY_OWNER, seed: int, today: date, add_business_days: AddBusinessDays) -> str:
    """Units and procedures in the registry (idempotent: a unit already there is left as it is, the catalogue is
    upserted), and the API key of role integration the systems send with (kept while it works: not revoked, its
    owner still an enabled admin; else a new one for ``owner``)."""
    entries = [procedures.validate(e, f"catalogue[{e['code']}]") for e in catalogue(config, seed, today,
                                                                                    add_business_days)]
    with conn.transaction():
        for u in province_units(config, egov, province):
            if registry.get_unit(conn, u.code) is None:
                registry.create_unit(conn, u.code, u.name, u.level, parent_code=u.parent, ward_code=u.ward)
        procedures.upsert(conn, entries)
        key = state.secrets.get("api_key")
        found = verify_api_key(conn, key) if key else None
        if found is None or found.role != Role.integration or not _may_act(found.owner):
            _, key = create_api_key(conn, KEY_NAME, Role.integration, key_owner(conn, owner))
            state.secrets["api_key"] = key
            state.save()
    assert key is not None
    return key
