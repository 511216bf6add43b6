"""The procedures catalogue (thủ tục hành chính): code, name, legal processing time in business days, the highest
online level offered, whether it is offered through the public postal service."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.dossiers.models import CODE_RE, shown
from ops_center.storable import text_problem


class ProcedureError(ValueError):
    """A catalogue entry is invalid; the message names the entry, the field and the value."""


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    processing_days: int
    online_level: int = 2
    offered_by_post: bool = False
    agency: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "có": True, "không": False}


def validate(raw: Any, where: str = "procedure") -> Procedure:
    if not isinstance(raw, dict):
        raise ProcedureError(f"{where}: expected an object, got {type(raw).__name__}")
    known = {"code", "name", "processing_days", "online_level", "offered_by_post", "agency"}
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
    level = _int(raw.get("online_level", 2), f"{where}.online_level", 1, 4)
    post = raw.get("offered_by_post", False)
    if isinstance(post, str) and post.strip().lower() in _BOOL:
        post = _BOOL[post.strip().lower()]
    if not isinstance(post, bool):
        raise ProcedureError(f"{where}.offered_by_post: {shown(post)} is not true or false")
    agency = raw.get("agency", "") or ""
    if not isinstance(agency, str) or len(agency) > 500:
        raise ProcedureError(f"{where}.agency: {shown(agency)} must be a text of at most 500 characters")
    for key, text in (("name", name), ("agency", agency)):
        why = text_problem(text)
        if why is not None:
            raise ProcedureError(f"{where}.{key}: value {shown(text)} {why}")
    return Procedure(code, name.strip(), days, level, post, agency)


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
            "INSERT INTO procedures (code, name, processing_days, online_level, offered_by_post, agency) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
            "processing_days = EXCLUDED.processing_days, online_level = EXCLUDED.online_level, "
            "offered_by_post = EXCLUDED.offered_by_post, agency = EXCLUDED.agency, updated_at = now()",
            [(p.code, p.name, p.processing_days, p.online_level, p.offered_by_post, p.agency) for p in procedures],
        )
    return len(procedures)


def get(conn: Conn, code: str) -> Procedure | None:
    row = fetch_one(conn, "SELECT code, name, processing_days, online_level, offered_by_post, agency "
                          "FROM procedures WHERE code = %s", (code,))
    return Procedure(**row) if row else None


def list_procedures(conn: Conn, after: str = "", limit: int = 500) -> list[Procedure]:
    rows = fetch_all(conn, "SELECT code, name, processing_days, online_level, offered_by_post, agency "
                           "FROM procedures WHERE code > %s ORDER BY code LIMIT %s", (after, limit))
    return [Procedure(**r) for r in rows]


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
