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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from psycopg.rows import dict_row

from ops_center import counters
from ops_center.counters import CounterTables
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
    # the national service index (migration 0052; see ops_center.dossiers.index_rollup)
    synced_at: datetime | None = None
    digitised: bool = False
    reused_data: bool = False
    from_personal_store: bool = False
    population_data: bool = False
    fee_due: bool = False
    paid_online_at: datetime | None = None
    supplement_requests: list[datetime] = field(default_factory=list)
    supplement_receipts: list[datetime] = field(default_factory=list)
    outcome: str | None = None
    electronic_result: bool = False
    result_synced_at: datetime | None = None
    rating: str | None = None
    rated_at: datetime | None = None
    paper_result: bool = False
    full_online_eligible: bool = False
    late_day: date | None = None
    end_on_time: bool | None = None

    def copy(self) -> DossierState:
        values = {name: getattr(self, name) for name in self.__slots__}
        values["supplement_requests"] = list(self.supplement_requests)
        values["supplement_receipts"] = list(self.supplement_receipts)
        return DossierState(**values)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DossierState:
        return cls(**{k: row[k] for k in cls.__slots__})


RECEIVED_COUNTER = {"online_partial": "received_online_l3", "online_full": "received_online_l4",
                    "counter": "received_counter", "postal": "received_postal"}
"""The counter of each receive channel (the columns keep the report's level names: l3 = partial, l4 = full)."""


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
    assert s.channel is not None  # set with received_at
    out.append(((rday, unit, wset, ward), IDX[RECEIVED_COUNTER[s.channel]]))
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


TABLES = CounterTables("dossier_daily", "dossier_monthly",
                       (("unit_code", "text"), ("ward_set", "text"), ("ward_code", "text")), COUNTERS)


class Deltas(counters.Deltas):
    """Accumulated counter changes per rollup key."""

    def __init__(self) -> None:
        super().__init__(len(COUNTERS))

    def add(self, before: DossierState | None, after: DossierState) -> None:
        if before is not None:
            for key, i in contributions(before):
                self.bump(key, i, -1)
        for key, i in contributions(after):
            self.bump(key, i, 1)


def apply_deltas(conn: Conn, deltas: Deltas) -> int:
    """Add the changes to ``dossier_daily`` and ``dossier_monthly``, one statement each (keys sorted, so
    concurrent batches never deadlock); returns the number of daily rows touched."""
    return counters.apply(conn, TABLES, deltas)


def load_states(conn: Conn, where: str = "true", params: tuple[Any, ...] = ()) -> Iterator[DossierState]:
    """Dossier states straight from the table (a server-side cursor: any number of rows)."""
    fields = ", ".join(DossierState.__slots__)
    with conn.transaction(), conn.cursor(name="dossier_states", row_factory=dict_row) as cur:
        cur.itersize = 5000
        cur.execute(f"SELECT {fields} FROM dossiers WHERE {where}", params)
        for row in cur:
            yield DossierState.from_row(row)


def rebuild(conn: Conn, states: Iterable[DossierState] | None = None) -> int:
    """Recompute ``dossier_daily`` and ``dossier_monthly`` from scratch from ``dossiers`` (inside the caller's
    transaction)."""
    counters.clear(conn, TABLES)
    deltas = Deltas()
    for s in (load_states(conn) if states is None else states):
        deltas.add(None, s)
    return apply_deltas(conn, deltas)
