"""The province's 2019 report (../shared/seed/) reproduced from events, as of 2019-12-31.

What the report says, and the events built from it here (through the real write paths):

- "Có 19/19 cơ quan chuyên môn thuộc UBND tỉnh; 9/9 huyện, thành phố và 42/101 đơn vị cấp xã đã công bố quyết định
  áp dụng ... ISO": ISO 9001 facts for 19 departments, 9 district committees, 42 of 101 communes.
- Online meeting rooms: "UBND các huyện: Phú Tân, Ngọc Hiển, Cái Nước đã chủ động đầu tư hệ thống phòng họp trực
  tuyến cho các đơn vị cấp xã trực thuộc [trong năm], nâng tổng số đơn vị đã thực hiện đến nay là 9/9 huyện, thành
  phố (tuy nhiên, TP. Cà Mau chỉ đầu tư 1/9 xã/phường ...)": rooms for the 9 district committees; the communes of
  Phú Tân, Ngọc Hiển and Cái Nước from mid-2019, those of the other districts earlier, 1 of TP. Cà Mau's 9.
- "văn bản đi và đến ... được xử lý nhanh chóng, thông suốt từ cấp tỉnh đến cấp xã" (VIC): every unit on the document
  exchange axis; documents exchanged between the levels in 2019.
- "dịch vụ công trực tuyến với tổng số 137 thủ tục ... thí điểm ... mức độ 3, mức độ 4 đối với 457 thủ tục": 594
  procedures offered online (the report does not split them by level; 137 full and 457 partial here); "698 thủ tục
  hành chính được công bố thực hiện qua dịch vụ bưu chính công ích".
- "có 20.703 hồ sơ nộp trực tuyến (năm 2018 là 12.965 hồ sơ)": that many online received events in each year.

The figures not in the report (the split of online levels, which communes are certified) are our choices and are
not asserted beyond what the report states.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from ops_center.db import Conn, connect
from ops_center.dossiers import procedures
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from ops_center.migrate import migrate
from ops_center.readiness import exchange, facts, report
from tests.support.services import database

ICT = timezone(timedelta(hours=7))
DISTRICTS = ["TP. Cà Mau", "Thới Bình", "U Minh", "Trần Văn Thời", "Cái Nước", "Đầm Dơi", "Phú Tân", "Năm Căn",
             "Ngọc Hiển"]
EQUIPPED_IN_2019 = {"Phú Tân", "Ngọc Hiển", "Cái Nước"}
COMMUNES_PER_DISTRICT = [9, 12, 12, 12, 12, 11, 11, 11, 11]  # 101; TP. Cà Mau's 9 as the report counts them


def _communes() -> list[tuple[str, str]]:
    out = []
    for d, n in enumerate(COMMUNES_PER_DISTRICT):
        out += [(f"X-{d:02d}-{i:02d}", f"H-{d:02d}") for i in range(n)]
    return out


def _load(conn: Conn) -> None:
    conn.execute("INSERT INTO units (code, name, level) VALUES ('P', 'UBND tỉnh Cà Mau', 'province')")
    for i in range(19):
        conn.execute("INSERT INTO units (code, name, level, parent_code) VALUES (%s, %s, 'department', 'P')",
                     (f"SO-{i:02d}", f"Sở {i}"))
    for d, name in enumerate(DISTRICTS):
        conn.execute("INSERT INTO units (code, name, level, parent_code) VALUES (%s, %s, 'district', 'P')",
                     (f"H-{d:02d}", f"UBND {name}"))
    communes = _communes()
    for code, parent in communes:
        conn.execute("INSERT INTO units (code, name, level, parent_code) VALUES (%s, %s, 'commune', %s)",
                     (code, f"UBND xã {code}", parent))
    items: list[dict[str, Any]] = []
    everyone = ["P"] + [f"SO-{i:02d}" for i in range(19)] + [f"H-{d:02d}" for d in range(9)] + [c for c, _ in communes]
    items += [{"unit": u, "fact": "document_axis", "since": "2018-01-01"} for u in everyone]
    items += [{"unit": u, "fact": "iso_9001", "since": "2019-05-01"}
              for u in [f"SO-{i:02d}" for i in range(19)] + [f"H-{d:02d}" for d in range(9)]]
    items += [{"unit": c, "fact": "iso_9001", "since": "2019-09-01"} for c, _ in communes[:42]]
    items += [{"unit": f"H-{d:02d}", "fact": "meeting_room", "since": "2018-03-01"} for d in range(9)]
    for code, parent in communes:
        district = DISTRICTS[int(parent[2:])]
        if district == "TP. Cà Mau":
            if code.endswith("-00"):
                items.append({"unit": code, "fact": "meeting_room", "since": "2018-06-01"})
        else:
            items.append({"unit": code, "fact": "meeting_room",
                          "since": "2019-06-01" if district in EQUIPPED_IN_2019 else "2018-06-01"})
    items.append({"unit": "P", "fact": "national_portal", "since": "2019-12-09"})
    result = facts.ingest_facts(conn, items)
    assert (result.accepted, result.rejected) == (len(items), [])

    catalogue = [procedures.validate({
        "code": f"TT-{i:04d}", "name": f"Thủ tục {i}", "processing_days": 5,
        "online_service": "full" if i < 137 else "partial" if i < 594 else "none", "offered_by_post": i >= 302})
        for i in range(1000)]
    procedures.upsert(conn, catalogue)
    _dossiers(conn)
    docs = [{"id": f"VB-{i}", "from_unit": "P" if i % 3 == 0 else f"SO-{i % 19:02d}",
             "to_unit": f"H-{i % 9:02d}" if i % 2 else communes[i % 101][0],
             "sent_at": f"2019-{1 + i % 12:02d}-10T08:00:00+07:00"} for i in range(60)]
    assert exchange.ingest(conn, exchange.DOCUMENTS, docs, "http:/egov/documents").accepted == 60
    meetings = [{"id": f"HOP-{i}", "unit": f"H-{i % 9:02d}", "started_at": f"2019-{1 + i % 12:02d}-15T14:00:00+07:00"}
                for i in range(24)]
    assert exchange.ingest(conn, exchange.MEETINGS, meetings, "http:/egov/meetings").accepted == 24


def _dossiers(conn: Conn) -> None:
    """20,703 dossiers received online in 2019 and 12,965 in 2018, spread over the year and the communes."""
    rng = random.Random(2019)
    cal = load_calendar()
    now = datetime(2020, 1, 1, tzinfo=ICT)
    for year, count in ((2018, 12_965), (2019, 20_703)):
        events = []
        for n in range(count):
            at = datetime(year, 1, 1, 8, tzinfo=ICT) + timedelta(days=rng.randrange(365), minutes=rng.randrange(540))
            events.append({"dossier_id": f"HS-{year}-{n}", "type": "received", "at": at.isoformat(),
                           "channel": rng.choice(["online_l3", "online_l4"]), "procedure": f"TT-{rng.randrange(594):04d}",
                           "unit": f"X-{rng.randrange(9):02d}-00"})
        for i in range(0, len(events), 5000):
            r = dossiers.ingest_events(conn, events[i:i + 5000], "http:/dossiers/events", calendar=cal, now=now)
            assert r.rejected == []


@pytest.fixture(scope="module")
def rdb() -> Iterator[Conn]:
    with database("ops_readiness") as url, connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
        _load(conn)
        yield conn


def test_the_reports_figures_on_2019_12_31(rdb: Conn) -> None:
    answer = report.readiness(rdb, date(2019, 12, 31))
    iso = answer["facts"]["iso_9001"]
    assert iso["text"]["en"] == "ISO 9001: 19/19 departments, 9/9 districts, 42/101 communes"
    assert iso["text"]["vi"] == "Áp dụng ISO 9001: 19/19 sở, ban, ngành; 9/9 huyện, thành phố; 42/101 xã, phường, " \
                                "thị trấn"
    rooms = answer["facts"]["meeting_room"]
    assert rooms["by_level"]["district"] == {"with": 9, "of": 9}
    city = next(p for p in rooms["communes_by_parent"] if p["code"] == "H-00")
    assert (city["name"], city["with"], city["of"]) == ("UBND TP. Cà Mau", 1, 9)
    axis = answer["facts"]["document_axis"]["by_level"]
    assert axis == {"province": {"with": 1, "of": 1}, "department": {"with": 19, "of": 19},
                    "district": {"with": 9, "of": 9}, "commune": {"with": 101, "of": 101}}
    assert answer["facts"]["national_portal"]["by_level"]["province"] == {"with": 1, "of": 1}
    procs = answer["procedures"]
    assert (procs["online"], procs["by_post"]) == (137 + 457, 698)
    flows = answer["flows"]
    assert flows["dossiers"]["received_online"] == 20_703
    assert answer["flows_year_before"]["dossiers"]["received_online"] == 12_965
    assert (flows["from"], flows["to"]) == ("2019-01-01", "2019-12-31")
    assert flows["documents"]["exchanged"] == 60 and flows["meetings"] == {"sessions": 24, "units": 9}
    assert sum(flows["documents"]["by_levels"].values()) == 60


def test_any_date(rdb: Conn) -> None:
    """A year earlier the three districts had not equipped their communes, nor was anyone certified."""
    answer = report.readiness(rdb, date(2018, 12, 31))
    assert answer["facts"]["iso_9001"]["text"]["en"] == "ISO 9001: 0/19 departments, 0/9 districts, 0/101 communes"
    by_parent = {p["code"]: (p["with"], p["of"]) for p in answer["facts"]["meeting_room"]["communes_by_parent"]}
    assert by_parent["H-00"] == (1, 9) and by_parent["H-04"] == (0, 12) and by_parent["H-01"] == (12, 12)
    assert answer["facts"]["national_portal"]["by_level"]["province"] == {"with": 0, "of": 1}
    assert answer["flows"]["dossiers"]["received_online"] == 12_965


def test_communes_that_cease_to_exist(rdb: Conn) -> None:
    """From 2025-07-01 (the reform) the district committees and the old communes are gone: "of" follows."""
    with rdb.transaction():
        gone = [{"unit": f"H-{d:02d}", "fact": "exists", "since": "2025-07-01", "value": False} for d in range(9)]
        gone += [{"unit": c, "fact": "exists", "since": "2025-07-01", "value": False} for c, _ in _communes()]
        for i in range(64):
            rdb.execute("INSERT INTO units (code, name, level) VALUES (%s, %s, 'commune')", (f"XM-{i}", f"Xã {i}"))
        born = [{"unit": f"XM-{i}", "fact": "exists", "since": "2025-07-01"} for i in range(64)]
        assert facts.ingest_facts(rdb, gone + born).rejected == []
    before = report.fact_figures(rdb, date(2025, 6, 30))["iso_9001"]["by_level"]
    after = report.fact_figures(rdb, date(2025, 7, 1))["iso_9001"]["by_level"]
    assert (before["district"]["of"], before["commune"]["of"]) == (9, 101)
    assert (after["district"]["of"], after["commune"]["of"]) == (0, 64)
