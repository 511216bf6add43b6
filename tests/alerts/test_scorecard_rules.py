"""Alert rules on the national service index and on the e-government feeds (issue #14): a unit's 2.1 under 95% this
month; a unit's document feed silent for 2 business days. Real database, real scheduled cycle."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from alerts import scheduled
from alerts.errors import RuleError
from alerts.rules.models import parse_rule
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from ops_center.readiness import exchange
from tests.alerts.conftest import alerts_for, make_rule, uid


def test_a_units_2_1_under_95_percent_this_month(conn) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    unit, proc = f"UBND-SC-{tag}", f"PSC-{tag}"
    conn.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND xã Tân Hưng Đông', 'commune')", (unit,))
    conn.execute("INSERT INTO procedures (code, name, processing_days) VALUES (%s, 'Đăng ký khai sinh', 2)", (proc,))
    conn.commit()
    now = datetime(2025, 3, 20, 5, 0, tzinfo=UTC)
    cal = load_calendar()

    def ev(n: int, kind: str, day: int, **kw: str) -> dict[str, str]:
        return {"dossier_id": f"SC-{tag}-{n}", "type": kind, "at": f"2025-03-{day:02d}T09:00:00+07:00", **kw}

    # received Monday 03-03, due Wednesday 03-05: one on time, three late -> 1/4
    evs = [ev(i, "received", 3, channel="counter", procedure=proc, unit=unit) for i in range(4)]
    evs += [ev(0, "resolved", 4)] + [ev(i, "resolved", 12) for i in range(1, 4)]
    assert dossiers.ingest_events(conn, evs, "test", calendar=cal, now=now).rejected == []
    conn.commit()
    rid = make_rule(conn, {"kind": "kpi", "kpi": "766.2.1", "level": "unit", "codes": [unit], "target": 0.95,
                           "period": "month", "min_count": 2, "name": uid("sc")})
    report = scheduled.evaluate(conn, now=now, rule_ids=[rid])
    conn.commit()
    assert report.errors == {} and report.fired == 1, report
    [a] = alerts_for(conn, rid)
    assert a["value"] == 0.25 and a["labels"] == {"level": "unit", "kpi": "766.2.1", "unit": unit}
    assert a["summary"].endswith(f"766.2.1 of {unit} is 0.25 (target 0.95)")
    # 76 more on time: 77/80 = 96.25% >= 95% -> resolved
    more = [ev(i, "received", 17, channel="online_full", procedure=proc, unit=unit) for i in range(10, 86)]
    more += [ev(i, "resolved", 18) for i in range(10, 86)]
    assert dossiers.ingest_events(conn, more, "test", calendar=cal, now=now).rejected == []
    conn.commit()
    report = scheduled.evaluate(conn, now=now + timedelta(minutes=1), rule_ids=[rid])
    conn.commit()
    assert report.resolved == 1, report


def test_a_units_document_feed_silent_two_business_days(conn) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    unit, peer, mute = f"VP-{tag}", f"SO-{tag}", f"XA-{tag}"
    conn.execute("INSERT INTO units (code, name, level) VALUES (%s, 'Văn phòng UBND tỉnh', 'department'), "
                 "(%s, 'Sở Tài chính', 'department'), (%s, 'UBND xã Lợi An', 'commune')", (unit, peer, mute))
    doc = {"id": f"VB-{tag}", "from_unit": unit, "to_unit": peer, "sent_at": "2025-03-17T09:00:00+07:00"}
    assert exchange.ingest(conn, exchange.DOCUMENTS, [doc], "test", now=datetime(2025, 3, 17, 3, tzinfo=UTC)
                           ).accepted == 1
    conn.commit()
    rid = make_rule(conn, {"kind": "absence", "feed": "documents", "business_days": 2, "units": [unit, mute],
                           "name": uid("feed")})
    wed = datetime(2025, 3, 19, 2, tzinfo=UTC)  # Monday's document, then only Tuesday passed
    report = scheduled.evaluate(conn, now=wed, rule_ids=[rid])
    conn.commit()
    assert report.errors == {} and report.fired == 1  # only the unit never heard on the feed
    [never] = alerts_for(conn, rid)
    assert never["labels"] == {"level": "unit", "unit": mute, "feed": "documents"} and never["value"] is None
    thu = datetime(2025, 3, 20, 2, tzinfo=UTC)  # Tuesday and Wednesday passed without a document
    report = scheduled.evaluate(conn, now=thu, rule_ids=[rid])
    conn.commit()
    assert report.fired == 1
    silent = next(a for a in alerts_for(conn, rid) if a["labels"]["unit"] == unit)
    assert silent["value"] == 2.0 and silent["summary"].endswith("for 2 business days")
    later = {**doc, "id": f"VB2-{tag}", "sent_at": "2025-03-20T08:00:00+07:00"}
    assert exchange.ingest(conn, exchange.DOCUMENTS, [later], "test", now=thu + timedelta(hours=2)).accepted == 1
    conn.commit()
    report = scheduled.evaluate(conn, now=thu + timedelta(hours=3), rule_ids=[rid])
    conn.commit()
    assert report.resolved == 1


@pytest.mark.parametrize(("doc", "field"), [
    ({"kind": "kpi", "kpi": "766.6.1", "level": "unit", "target": 0.9}, "kpi"),
    ({"kind": "kpi", "kpi": "766.total", "level": "unit", "target": 90}, "target"),
    ({"kind": "absence", "feed": "faxes", "business_days": 2}, "feed"),
    ({"kind": "absence", "feed": "documents", "business_days": 0}, "business_days"),
    ({"kind": "absence", "feed": "documents", "business_days": 2, "units": ["a b"]}, "units[0]"),
])
def test_bad_rules_name_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(RuleError) as exc:
        parse_rule({"name": "r", **doc})
    assert exc.value.errors[0]["field"] == field
