"""The procedures catalogue (thủ tục hành chính): code, name, legal processing time in business days, the online
service offered (none, partial or full — Decree 42/2022; the legacy ``online_level`` 3 and 4 mean partial and full),
whether it is offered through the public postal service, and what the national service index needs: eligible for
full online, has fees, result is a paper document, citizen-facing, and its publication (the decision date, the
legal basis's effective date, the date it was made public on the national procedure database, and which of its
seven required parts are present)."""

from __future__ import annotations

import contextlib
import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import yaml

from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.dossiers.models import CODE_RE, shown
from ops_center.storable import text_problem


class ProcedureError(ValueError):
    """A catalogue entry is invalid; the message names the entry, the field and the value."""


ONLINE_SERVICES: Final = ("none", "partial", "full")
PARTS: Final = ("name", "steps", "method", "components", "time_limit", "applicants", "agency")
"""The seven parts a published procedure must state (Decree 63/2010, art. 8(2))."""
FLAGS: Final = ("full_online_eligible", "has_fees", "paper_result", "citizen_facing")
DATES: Final = ("decision_date", "legal_effective_date", "public_date")
_LEVEL_OF = {"none": 2, "partial": 3, "full": 4}


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    processing_days: int
    online_level: int = 2
    offered_by_post: bool = False
    agency: str = ""
    online_service: str = "none"
    full_online_eligible: bool = False
    has_fees: bool = False
    paper_result: bool = False
    citizen_facing: bool = False
    decision_date: date | None = None
    legal_effective_date: date | None = None
    public_date: date | None = None
    parts: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in DATES:
            out[key] = out[key].isoformat() if out[key] else None
        out["parts"] = list(self.parts)
        return out


_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "có": True, "không": False}


def validate(raw: Any, where: str = "procedure") -> Procedure:
    if not isinstance(raw, dict):
        raise ProcedureError(f"{where}: expected an object, got {type(raw).__name__}")
    known = {"code", "name", "processing_days", "online_level", "offered_by_post", "agency", "online_service",
             *FLAGS, *DATES, "parts"}
    for key in raw:
        if key not in known:
            raise ProcedureError(f"{where}.{key}: unknown field (expected {', '.join(sorted(known))})")
    code = raw.get("code")
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise ProcedureError(f"{where}.code: {shown(code)} is not a valid code (pattern {CODE_RE.pattern})")
    name = raw.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 1000:
        raise ProcedureError(f"{where}.name: {shown(name)} must be a text of 1 to 1000 characters")
    days = _int(raw.get("processing_days"), f"{where}.processing_days", 0, 365)
    level, service = _online(raw, where)
    post = _bool(raw.get("offered_by_post", False), f"{where}.offered_by_post")
    agency = raw.get("agency", "") or ""
    if not isinstance(agency, str) or len(agency) > 500:
        raise ProcedureError(f"{where}.agency: {shown(agency)} must be a text of at most 500 characters")
    for key, text in (("name", name), ("agency", agency)):
        why = text_problem(text)
        if why is not None:
            raise ProcedureError(f"{where}.{key}: value {shown(text)} {why}")
    flag = {f: _bool(raw.get(f, False), f"{where}.{f}") for f in FLAGS}
    day = {d: _date(raw.get(d), f"{where}.{d}") for d in DATES}
    return Procedure(code, name.strip(), days, level, post, agency, service,
                     full_online_eligible=flag["full_online_eligible"], has_fees=flag["has_fees"],
                     paper_result=flag["paper_result"], citizen_facing=flag["citizen_facing"],
                     decision_date=day["decision_date"], legal_effective_date=day["legal_effective_date"],
                     public_date=day["public_date"], parts=_parts(raw.get("parts"), f"{where}.parts"))


def _online(raw: dict[str, Any], where: str) -> tuple[int, str]:
    """(online_level, online_service): either may be given; both must then agree."""
    service = raw.get("online_service")
    if service is not None and (not isinstance(service, str) or service not in ONLINE_SERVICES):
        raise ProcedureError(f"{where}.online_service: {shown(service)} is not one of {', '.join(ONLINE_SERVICES)}")
    if raw.get("online_level") is None:
        return (_LEVEL_OF[service] if service else 2), (service or "none")
    level = _int(raw.get("online_level"), f"{where}.online_level", 1, 4)
    implied = {3: "partial", 4: "full"}.get(level, "none")
    if service is not None and service != implied:
        raise ProcedureError(f"{where}.online_service: {shown(service)} contradicts online_level {level} "
                             f"(which means {implied!r})")
    return level, implied


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, str) and value.strip().lower() in _BOOL:
        value = _BOOL[value.strip().lower()]
    if not isinstance(value, bool):
        raise ProcedureError(f"{where}: {shown(value)} is not true or false")
    return value


def _date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) <= 10:
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if type(value) is not date or not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise ProcedureError(f"{where}: {shown(value)} is not a date (YYYY-MM-DD) between 2000 and 2100")
    return value


def _parts(value: Any, where: str) -> tuple[str, ...]:
    """The parts present: a list (or a CSV cell separated by ``;``) of names among ``PARTS``, each once."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [p.strip() for p in value.split(";") if p.strip()]
    if not isinstance(value, list) or len(value) > len(PARTS):
        raise ProcedureError(f"{where}: {shown(value)} must be a list of at most {len(PARTS)} of "
                             f"{', '.join(PARTS)}")
    for item in value:
        if item not in PARTS:
            raise ProcedureError(f"{where}: {shown(item)} is not one of {', '.join(PARTS)}")
    if len(set(value)) != len(value):
        raise ProcedureError(f"{where}: {shown(value)} names a part twice")
    return tuple(p for p in PARTS if p in value)


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if type(value) is not int or not lo <= value <= hi:
        raise ProcedureError(f"{where}: {shown(value)} must be a whole number from {lo} to {hi}")
    return value


def upsert(conn: Conn, procedures: list[Procedure]) -> int:
    """Insert or update; dossiers already received keep the processing time and due date they were given."""
    if not procedures:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO procedures ({_COLS}) VALUES ({', '.join(['%s'] * len(_FIELDS))}) "
            f"ON CONFLICT (code) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in _FIELDS if c != "code") + ", updated_at = now()",
            [tuple(list(p.parts) if c == "parts" else getattr(p, c) for c in _FIELDS) for p in procedures],
        )
    return len(procedures)


_FIELDS: tuple[str, ...] = Procedure.__slots__
_COLS = ", ".join(_FIELDS)


def _from_row(row: dict[str, Any]) -> Procedure:
    return Procedure(**{**row, "parts": tuple(row["parts"])})


def get(conn: Conn, code: str) -> Procedure | None:
    row = fetch_one(conn, f"SELECT {_COLS} FROM procedures WHERE code = %s", (code,))
    return _from_row(row) if row else None


def list_procedures(conn: Conn, after: str = "", limit: int = 500) -> list[Procedure]:
    rows = fetch_all(conn, f"SELECT {_COLS} FROM procedures WHERE code > %s ORDER BY code LIMIT %s", (after, limit))
    return [_from_row(r) for r in rows]


def all_procedures(conn: Conn) -> list[Procedure]:
    """The whole catalogue (the national service index reads it: a few thousand rows)."""
    return [_from_row(r) for r in fetch_all(conn, f"SELECT {_COLS} FROM procedures ORDER BY code")]


def read_file(path: Path | str) -> list[Procedure]:
    """Procedures from a YAML file (a list, or ``{procedures: [...]}``) or a CSV file with a header row."""
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".csv":
        items: Any = list(csv.DictReader(io.StringIO(text)))
        items = [{k: v for k, v in row.items() if v not in (None, "")} for row in items]
    else:
        doc = yaml.safe_load(text)
        items = doc.get("procedures") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ProcedureError(f"{p}: expected a list of procedures")
    out = [validate(item, f"{p.name}[{i}]") for i, item in enumerate(items)]
    dup = sorted(c for c, n in Counter(x.code for x in out).items() if n > 1)
    if dup:
        raise ProcedureError(f"{p.name}: duplicate codes {', '.join(dup[:10])}")
    return out
