"""The public side: published messages only, never a draft or an approved message not yet sent. An Atom index
(RFC 4287) of the warnings in force — the latest published message of each warning until it expires (a Cancel for
a while, so consumers that poll see it) — and each message's signed document as it was published.

The rendered index is cached in the process for ``feed_cache_s`` and dropped when this process publishes."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from alerts.warnings.cap_xml import cap_time
from alerts.warnings.config import WarningsConfig
from alerts.warnings.publishing import message_url
from ops_center.db import Conn

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    identifier: str
    msg_type: str
    cap_status: str
    sent: datetime
    expires_at: datetime
    headline_vi: str
    headline_en: str
    severity: str
    hazard: str


@dataclass(frozen=True, slots=True)
class Document:
    identifier: str
    xml: bytes
    sha256: str
    sent: datetime


def entries(conn: Conn, now: datetime) -> list[FeedEntry]:
    """The latest published message of every warning still listed at ``now``, newest first."""
    rows = conn.execute(
        "SELECT identifier, msg_type, cap_status, sent, expires_at, content -> 'content' -> 'texts' -> 'vi' ->> "
        "'headline', content -> 'content' -> 'texts' -> 'en' ->> 'headline', content -> 'content' ->> 'severity', "
        "content -> 'content' ->> 'hazard' FROM (SELECT DISTINCT ON (warning_id) * FROM warning_messages "
        "WHERE status = 'published' ORDER BY warning_id, id DESC) last WHERE expires_at > %s ORDER BY sent DESC, "
        "identifier", (now,)).fetchall()
    return [FeedEntry(*r) for r in rows]


def document(conn: Conn, identifier: str) -> Document | None:
    row = conn.execute("SELECT identifier, xml, xml_sha256, sent FROM warning_messages "
                       "WHERE identifier = %s AND status = 'published'", (identifier,)).fetchone()
    return Document(row[0], bytes(row[1]), row[2], row[3]) if row else None


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def atom(items: list[FeedEntry], config: WarningsConfig, now: datetime) -> bytes:
    base = config.public_base_url.rstrip("/")
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    feed.set(XML_LANG, "vi")
    _sub(feed, "id", f"{base}/cap/feed.atom")
    _sub(feed, "title", f"Cảnh báo thiên tai / Public warnings — {config.sender_name_vi}")
    _sub(feed, "updated", cap_time(max((e.sent for e in items), default=now)))
    author = _sub(feed, "author")
    _sub(author, "name", config.sender_name_vi)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/cap/feed.atom")
    for item in items:
        entry = _sub(feed, "entry")
        url = message_url(config, item.identifier)
        _sub(entry, "id", url)
        _sub(entry, "title", item.headline_vi)
        _sub(entry, "updated", cap_time(item.sent))
        _sub(entry, "published", cap_time(item.sent))
        _sub(entry, "link", rel="alternate", type="application/cap+xml", href=url)
        _sub(entry, "category", term=item.msg_type, label=f"msgType {item.msg_type}")
        _sub(entry, "summary", f"{item.headline_en} ({item.severity}; {item.cap_status}; "
                               f"expires {cap_time(item.expires_at)})")
    body: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8")
    return body


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: str
    built: float


class FeedCache:
    """The rendered index, shared by the requests of one process for ``ttl_s``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Rendered | None = None

    def get(self, conn: Conn, config: WarningsConfig, now: datetime) -> Rendered:
        value = self._value
        if value is not None and time.monotonic() - value.built < config.feed_cache_s:
            return value
        with self._lock:
            value = self._value
            if value is not None and time.monotonic() - value.built < config.feed_cache_s:
                return value
            body = atom(entries(conn, now), config, now)
            value = Rendered(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', time.monotonic())
            self._value = value
            return value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None


cache = FeedCache()
