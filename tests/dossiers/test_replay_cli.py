"""Replaying refused dossier events after the fix (API and CLI), and the ``ops-center dossiers`` / ``incidents``
commands: catalogue and categories from files, calendar, due dates, rollup rebuild."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from ops_center.db import Conn
from ops_center.dossiers import service as svc
from ops_center.dossiers.calendar import load_calendar
from tests.dossiers.conftest import make_catalog, t


def test_replay_after_the_procedure_is_added(client: TestClient, admin, db: Conn) -> None:  # type: ignore[no-untyped-def]
    cat = make_catalog(db)
    new_proc = f"NEW-{cat.tag}"
    ev = {"dossier_id": cat.did("r1"), "type": "received", "at": t(2025, 6, 2), "channel": "counter",
          "procedure": new_proc, "unit": cat.unit}
    r = svc.ingest_events(db, [ev, {"dossier_id": cat.did("r1"), "type": "resolved", "at": t(2025, 6, 3)}],
                          "http:/dossiers/events", calendar=load_calendar())
    assert [x[1] for x in r.rejected] == ["unknown_procedure"]
    letter = db.execute("SELECT id FROM dead_letters WHERE topic = 'http:/dossiers/events' AND value = %s",
                        (repr(new_proc),)).fetchone()
    assert letter is not None
    still = client.post("/dossiers/dead-letters/replay", json={"ids": [letter[0]]}, headers=admin.headers).json()
    assert still["failed"] == 1 and "still rejected: unknown_procedure" in still["items"][0]["result"]
    n_letters = db.execute("SELECT count(*) FROM dead_letters WHERE value = %s", (repr(new_proc),)).fetchone()
    assert n_letters == (1,)  # a replay writes no new dead letter
    db.execute("INSERT INTO procedures (code, name, processing_days) VALUES (%s, 'Thủ tục mới', 1)", (new_proc,))
    fixed = client.post("/dossiers/dead-letters/replay", json={"ids": [letter[0]]}, headers=admin.headers).json()
    assert (fixed["ok"], fixed["failed"]) == (1, 0)
    row = db.execute("SELECT replay_ok, replay_result FROM dead_letters WHERE id = %s", (letter[0],)).fetchone()
    assert row is not None and row[0] is True
    d = svc.get_dossier(db, cat.did("r1"), load_calendar())
    assert d is not None and d["status"] == "resolved_on_time" and d["procedure_code"] == new_proc
    again = client.post("/dossiers/dead-letters/replay", json={"ids": [letter[0]]}, headers=admin.headers).json()
    assert again["replayed"] == 0  # fixed letters are not replayed twice
    audit = db.execute("SELECT target, status FROM audit_log WHERE actor = %s AND action = %s",
                       (admin.username, "POST /dossiers/dead-letters/replay")).fetchall()
    assert audit and all(x == ("dossiers:dead-letters", 200) for x in audit)


def test_procedures_load_from_yaml_and_csv(tmp_path: Path, db: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    tag = secrets.token_hex(3)
    y = tmp_path / "procs.yaml"
    y.write_text(f"procedures:\n  - {{code: Y-{tag}, name: 'Cấp giấy chứng nhận quyền sử dụng đất', "
                 "processing_days: 30, online_level: 3, offered_by_post: true}\n", encoding="utf-8")
    c = tmp_path / "procs.csv"
    c.write_text(f"code,name,processing_days,online_level,offered_by_post\nC-{tag},Đăng ký thường trú,7,4,có\n",
                 encoding="utf-8")
    assert main(["dossiers", "procedures", "load", str(y)]) == 0
    assert main(["dossiers", "procedures", "load", str(c)]) == 0
    rows = db.execute("SELECT code, name, processing_days, offered_by_post FROM procedures WHERE code = ANY(%s) "
                      "ORDER BY code", ([f"Y-{tag}", f"C-{tag}"],)).fetchall()
    assert rows == [(f"C-{tag}", "Đăng ký thường trú", 7, True),
                    (f"Y-{tag}", "Cấp giấy chứng nhận quyền sử dụng đất", 30, True)]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {code: 'x y', name: a, processing_days: 1}\n", encoding="utf-8")
    assert main(["dossiers", "procedures", "load", str(bad)]) == 1
    assert "bad.yaml[0].code: 'x y'" in capsys.readouterr().err
    bad.write_text("- {code: A1, name: a, processing_days: 999}\n", encoding="utf-8")
    assert main(["dossiers", "procedures", "load", str(bad)]) == 1
    assert "processing_days: 999" in capsys.readouterr().err


def test_categories_load_and_list(tmp_path: Path, db: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    code = f"cat_{secrets.token_hex(3)}"
    f = tmp_path / "cats.yaml"
    f.write_text(f"categories:\n  - {{code: {code}, label_vi: 'Triều cường', label_en: 'King tide', "
                 "default_severity: major, sla_hours: 3, device_kinds: [tide]}\n", encoding="utf-8")
    assert main(["incidents", "categories", "load", str(f)]) == 0
    assert main(["incidents", "categories", "list"]) == 0
    out = capsys.readouterr().out
    assert "Triều cường / King tide" in out and "Ngập úng / Flooding" in out
    f.write_text(f"- {{code: {code}, label_vi: x, label_en: x, default_severity: huge, sla_hours: 3}}\n")
    assert main(["incidents", "categories", "load", str(f)]) == 1
    assert "default_severity: 'huge'" in capsys.readouterr().err


def test_calendar_due_and_rebuild_commands(db: Conn, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["dossiers", "due", "2025-01-24T09:00:00+07:00", "3"]) == 0
    assert capsys.readouterr().out.strip() == "2025-02-05"
    assert main(["dossiers", "due", "2025-01-24T09:00:00", "3"]) == 1
    assert main(["dossiers", "calendar", "--year", "2026"]) == 0
    out = capsys.readouterr().out
    assert "2026-02-17 Tue  Tết Bính Ngọ (mùng 1)" in out and "working 2026-08-22 Sat" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("years:\n  2025:\n    working_days: [2025-03-11]\n", encoding="utf-8")
    assert main(["dossiers", "calendar", "--file", str(broken)]) == 1
    assert "is a weekday" in capsys.readouterr().err
    before = db.execute("SELECT count(*), coalesce(sum(resolved), 0), coalesce(sum(overdue_in), 0) "
                        "FROM dossier_daily").fetchone()
    assert main(["dossiers", "rebuild-rollup"]) == 0
    after = db.execute("SELECT count(*), coalesce(sum(resolved), 0), coalesce(sum(overdue_in), 0) "
                       "FROM dossier_daily WHERE resolved <> 0 OR overdue_in <> 0 OR received_counter <> 0 "
                       "OR received_postal <> 0 OR received_online_l3 <> 0 OR received_online_l4 <> 0 "
                       "OR returned <> 0 OR overdue_out <> 0").fetchone()
    assert before is not None and after is not None and before[1:] == after[1:]
    assert main(["dossiers", "recompute-due"]) == 0
    assert "0 due dates moved" in capsys.readouterr().out
