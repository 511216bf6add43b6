"""Helpers for the dossier tests: a unique catalogue (units, procedures) per test in the shared session database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from ops_center.db import Conn, connect
from ops_center.migrate import migrate
from tests.support.services import database

ICT = timezone(timedelta(hours=7))


def t(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> str:
    return datetime(y, m, d, hh, mm, tzinfo=ICT).isoformat()


@dataclass(frozen=True)
class Catalog:
    tag: str
    unit: str  # a commune unit with ward W1
    unit2: str  # a department without a ward
    ward: str
    post_proc: str  # 2 business days, offered by post
    plain_proc: str  # 5 business days, not offered by post
    same_day: str  # 0 days

    def did(self, n: int | str) -> str:
        return f"HS-{self.tag}-{n}"


def make_catalog(conn: Conn, tag: str | None = None) -> Catalog:
    tag = tag or secrets.token_hex(3)
    c = Catalog(tag, f"UBND-{tag}", f"SO-{tag}", f"9{int(tag, 16) % 10000:04d}", f"P2-{tag}", f"P5-{tag}",
                f"P0-{tag}")
    conn.execute("INSERT INTO units (code, name, level, ward_code) VALUES (%s, %s, 'commune', %s), "
                 "(%s, %s, 'department', NULL)",
                 (c.unit, f"UBND xã Tân Thành {tag}", c.ward, c.unit2, f"Sở Tư pháp {tag}"))
    conn.execute("INSERT INTO procedures (code, name, processing_days, online_level, offered_by_post) VALUES "
                 "(%s, 'Cấp bản sao trích lục hộ tịch', 2, 4, true), "
                 "(%s, 'Đăng ký kết hôn có yếu tố nước ngoài', 5, 3, false), "
                 "(%s, 'Chứng thực bản sao từ bản chính', 0, 2, false)",
                 (c.post_proc, c.plain_proc, c.same_day))
    return c


@pytest.fixture
def cat(db: Conn) -> Catalog:
    return make_catalog(db)


@pytest.fixture(scope="module")
def kdb() -> Iterator[Conn]:
    """A database of its own (postgres flavour) holding only the hand-made KPI data set (``kpi_data``)."""
    from tests.dossiers.kpi_data import load_dataset

    with database("ops_kpi") as url, connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
        load_dataset(conn)
        yield conn
