"""The ``readiness`` snapshot kind: the report's "x of y" figures of each month, as of its last day (today for the
running month) — per unit fact and level the units that have it out of those that exist, the procedures offered
online and by post, and the month's documents exchanged, meeting sessions and dossiers received online. Counts
only: no unit, document, meeting or dossier is named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from ops_center.db import Conn
from ops_center.dossiers.calendar import local_date
from ops_center.federation import periods
from ops_center.federation.registry import Metric, Producer
from ops_center.federation.wire import Count, Ratio, Wire
from ops_center.readiness import facts, report

Day = Annotated[str, Field(pattern=r"^2[0-9]{3}-[01][0-9]-[0-3][0-9]$")]


class WithOf(Wire):
    with_: Count = Field(alias="with")
    of: Count


class FactFigures(Wire):
    department: WithOf
    district: WithOf
    commune: WithOf
    share: Ratio = Field(description="units with the fact / units of the three levels that exist")


class Facts(Wire):
    iso_9001: FactFigures
    meeting_room: FactFigures
    document_axis: FactFigures
    national_portal: FactFigures
    admin_center: FactFigures
    e_certified_copy: FactFigures


class Procedures(Wire):
    total: Count
    online_partial: Count
    online_full: Count
    by_post: Count
    online_share: Ratio


class Flows(Wire):
    documents_exchanged: Count
    documents_via_axis: Count
    via_axis_share: Ratio
    meeting_sessions: Count
    meeting_units: Count
    dossiers_received: Count
    dossiers_online: Count
    online_share: Ratio


class Readiness(Wire):
    as_of: Day = Field(description="the day the facts and the catalogue are read (the month's last, or today)")
    facts: Facts
    procedures: Procedures
    month: Flows = Field(description="from the month's first day to as_of")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _fact(levels: Mapping[str, Mapping[str, int]]) -> FactFigures:
    counts = {lvl: WithOf.model_validate({"with": int(levels[lvl]["with"]), "of": int(levels[lvl]["of"])})
              for lvl in report.REPORT_LEVELS}
    return FactFigures(**counts, share=_share(sum(c.with_ for c in counts.values()),
                                              sum(c.of for c in counts.values())))


def _flows(flows: Mapping[str, Any]) -> Flows:
    docs, meetings, dossiers = flows["documents"], flows["meetings"], flows["dossiers"]
    return Flows(documents_exchanged=docs["exchanged"], documents_via_axis=docs["via_axis"],
                 via_axis_share=_share(docs["via_axis"], docs["exchanged"]),
                 meeting_sessions=meetings["sessions"], meeting_units=meetings["units"],
                 dossiers_received=dossiers["received"], dossiers_online=dossiers["received_online"],
                 online_share=_share(dossiers["received_online"], dossiers["received"]))


def figures(conn: Conn, first: date, day: date) -> Readiness | None:
    """The snapshot for ``[first, day]``; None when there is nothing to say (no unit, procedure or flow)."""
    fact_rows = report.fact_figures(conn, day)
    procs = report.procedure_figures(conn, day)
    flows = _flows(report.flows(conn, first, day + timedelta(days=1)))
    units = sum(fact_rows["iso_9001"]["by_level"][lvl]["of"] for lvl in report.REPORT_LEVELS)
    if not units and not procs["total"] and not (flows.documents_exchanged or flows.meeting_sessions
                                                 or flows.dossiers_received):
        return None
    return Readiness(
        as_of=day.isoformat(), facts=Facts(**{f: _fact(fact_rows[f]["by_level"]) for f in report.REPORTED}),
        procedures=Procedures(total=procs["total"], online_partial=procs["online_partial"],
                              online_full=procs["online_full"], by_post=procs["by_post"],
                              online_share=_share(procs["online"], procs["total"])),
        month=flows)


def build(conn: Conn, months: Sequence[str], now: datetime) -> dict[str, Readiness]:
    today = local_date(now)
    out: dict[str, Readiness] = {}
    for month in months:
        first, stop = periods.bounds(month)
        if first > today:
            continue
        found = figures(conn, first, min(stop - timedelta(days=1), today))
        if found is not None:
            out[month] = found
    return out


def _metrics() -> tuple[Metric, ...]:
    out = [Metric(f"{fact}_share", ("facts", fact, "share"), f"Tỷ lệ đơn vị {facts.LABELS[fact][1]}",
                  f"Units with {facts.LABELS[fact][0]}", "ratio") for fact in report.REPORTED]
    out += [Metric("procedures_online_share", ("procedures", "online_share"), "Tỷ lệ TTHC cung cấp trực tuyến",
                   "Procedures offered online", "ratio"),
            Metric("documents_via_axis_share", ("month", "via_axis_share"),
                   "Tỷ lệ văn bản điện tử qua trục liên thông", "Documents exchanged via the axis", "ratio"),
            Metric("meeting_sessions", ("month", "meeting_sessions"), "Phiên họp trực tuyến trong tháng",
                   "Online meeting sessions in the month", "count"),
            Metric("dossiers_online_share", ("month", "online_share"), "Tỷ lệ hồ sơ tiếp nhận trực tuyến",
                   "Dossiers received online", "ratio")]
    return tuple(out)


PRODUCER = Producer(
    kind="readiness", title_vi="Chỉ số sẵn sàng chính quyền điện tử", title_en="E-government readiness",
    data_model=Readiness, build=build, topics=frozenset({"dossier"}), history=True, metrics=_metrics(),
)
