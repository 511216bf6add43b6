"""The rollups behind the KPIs: ``dossier_daily(day, unit_code, ward_set, ward_code, <counters>)`` and the same
counters per month in ``dossier_monthly`` (for whole past months of month/year KPIs).

A dossier's contribution to the rollup is a pure function of its state (``contributions``). Every event batch
computes, for each dossier it changes, the contribution before and after, and adds the difference to the rollup in
the same transaction (``apply_deltas``): events may come in any order and any number of times, and the rollup is
always exactly what a rebuild from the ``dossiers`` table gives (``rebuild`` does that; the tests compare the two).

Counters, each on the day (local date, Asia/Ho_Chi_Minh) the thing happened; unit and ward are the received event's:

- ``received_<channel>`` on the received day; ``received_post_offered`` there too when the procedure is offered by
  post (the denominator of the postal receive share);
- ``resolved`` and ``resolved_on_time`` (resolved on or before the due date) on the resolved day;
- ``returned``, ``returned_postal`` and ``returned_post_offered`` on the returned day;
- ``overdue_in`` on the due date when the dossier was not resolved by then, ``overdue_out`` on the resolved day when
  it was resolved late. The open-overdue count at the close of day D is then the running sum of ``overdue_in -
  overdue_out`` up to D (see ``ops_center.dossiers.kpis``).

A dossier counts only once its received event is known (before that there is no unit, ward or due date). A
procedure is "offered by post" for a dossier when the catalogue says so at receipt, or when the dossier itself was
received or returned by post (it evidently was offered), so neither postal share can exceed 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ops_center.db import Conn
from ops_center.dossiers.calendar import local_date

COUNTERS: tuple[str, ...] = (
    "received_online_l3", "received_online_l4", "received_counter", "received_postal", "received_post_offered",
    "resolved", "resolved_on_time", "returned", "returned_postal", "returned_post_offered",
    "overdue_in", "overdue_out",
)  # fmt: skip
IDX = {name: i for i, name in enumerate(COUNTERS)}
Key = tuple[date, str, str, str]  # day, unit_code, ward_set, ward_code


@dataclass(slots=True)
class DossierState:
    """One row of ``dossiers``; ``None`` for what no event has told us yet."""

    id: str
    procedure_code: str | None = None
    unit_code: str | None = None
    ward_set: str = ""
    ward_code: str = ""
    channel: str | None = None
    received_at: datetime | None = None
    processing_days: int | None = None
    due_date: date | None = None
    offered_by_post: bool | None = None
    resolved_at: datetime | None = None
    returned_at: datetime | None = None
    return_channel: str | None = None

    def copy(self) -> DossierState:
        return DossierState(**{name: getattr(self, name) for name in self.__slots__})  # type: ignore[attr-defined]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DossierState:
        return cls(**{k: row[k] for k in cls.__slots__})  # type: ignore[attr-defined]


def post_offered(s: DossierState) -> bool:
    return bool(s.offered_by_post) or s.channel == "postal" or s.return_channel == "postal"


def contributions(s: DossierState) -> list[tuple[Key, int]]:
    """``(key, counter index)`` pairs, one per +1 this dossier adds to the rollup."""
    if s.received_at is None or s.unit_code is None or s.due_date is None:
        return []
    unit, wset, ward = s.unit_code, s.ward_set, s.ward_code
    out: list[tuple[Key, int]] = []
    rday = local_date(s.received_at)
    offered = post_offered(s)
    out.append(((rday, unit, wset, ward), IDX[f"received_{s.channel}"]))
    if offered:
        out.append(((rday, unit, wset, ward), IDX["received_post_offered"]))
    resolved_day = local_date(s.resolved_at) if s.resolved_at is not None else None
    if resolved_day is not None:
        key = (resolved_day, unit, wset, ward)
        out.append((key, IDX["resolved"]))
        if resolved_day <= s.due_date:
            out.append((key, IDX["resolved_on_time"]))
        else:
            out.append((key, IDX["overdue_out"]))
    if resolved_day is None or resolved_day > s.due_date:
        out.append(((s.due_date, unit, wset, ward), IDX["overdue_in"]))
    if s.returned_at is not None:
        key = (local_date(s.returned_at), unit, wset, ward)
        out.append((key, IDX["returned"]))
        if s.return_channel == "postal":
            out.append((key, IDX["returned_postal"]))
        if offered:
            out.append((key, IDX["returned_post_offered"]))
    return out


class Deltas:
    """Accumulated counter changes per rollup key."""

    def __init__(self) -> None:
        self.rows: dict[Key, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))

    def add(self, before: DossierState | None, after: DossierState) -> None:
        if before is not None:
            for key, i in contributions(before):
                self.rows[key][i] -= 1
        for key, i in contributions(after):
            self.rows[key][i] += 1

    def nonzero(self) -> list[tuple[Key, list[int]]]:
        return sorted((k, v) for k, v in self.rows.items() if any(v))


_COLS = ", ".join(COUNTERS)


def _upsert(table: str, bucket: str) -> str:
    return (
        f"INSERT INTO {table} ({bucket}, unit_code, ward_set, ward_code, {_COLS}) "
        f"SELECT * FROM unnest(%s::date[], %s::text[], %s::text[], %s::text[], "
        + ", ".join(["%s::integer[]"] * len(COUNTERS))
        + f") ON CONFLICT ({bucket}, unit_code, ward_set, ward_code) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in COUNTERS)
    )


_UPSERT_DAILY = _upsert("dossier_daily", "day")
_UPSERT_MONTHLY = _upsert("dossier_monthly", "month")


def _columns(rows: list[tuple[Key, list[int]]]) -> list[list[Any]]:
    columns: list[list[Any]] = [[k[i] for k, _ in rows] for i in range(4)]
    return columns + [[v[i] for _, v in rows] for i in range(len(COUNTERS))]


def apply_deltas(conn: Conn, deltas: Deltas) -> int:
    """Add the changes to ``dossier_daily`` and ``dossier_monthly``, one statement each (keys sorted, so
    concurrent batches never deadlock); returns the number of daily rows touched."""
    rows = deltas.nonzero()
    if not rows:
        return 0
    monthly: dict[Key, list[int]] = {}
    for (day, unit, wset, ward), v in rows:
        key = (day.replace(day=1), unit, wset, ward)
        acc = monthly.get(key)
        if acc is None:
            monthly[key] = list(v)
        else:
            for i, x in enumerate(v):
                acc[i] += x
    conn.execute(_UPSERT_DAILY, _columns(rows))  # type: ignore[arg-type]
    months = sorted((k, v) for k, v in monthly.items() if any(v))
    if months:
        conn.execute(_UPSERT_MONTHLY, _columns(months))  # type: ignore[arg-type]
    return len(rows)


def rebuild(conn: Conn, states: Iterable[DossierState] | None = None) -> int:
    """Recompute ``dossier_daily`` and ``dossier_monthly`` from scratch from ``dossiers`` (inside the caller's
    transaction)."""
    from ops_center.db import fetch_all

    conn.execute("LOCK TABLE dossier_daily, dossier_monthly IN EXCLUSIVE MODE")
    conn.execute("DELETE FROM dossier_daily")
    conn.execute("DELETE FROM dossier_monthly")
    deltas = Deltas()
    if states is None:
        fields = ", ".join(DossierState.__slots__)  # type: ignore[attr-defined]
        states = (DossierState.from_row(r) for r in fetch_all(conn, f"SELECT {fields} FROM dossiers"))
    for s in states:
        deltas.add(None, s)
    return apply_deltas(conn, deltas)
