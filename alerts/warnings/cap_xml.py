"""The CAP 1.2 document of a message (``urn:oasis:names:tc:emergency:cap:1.2``), elements in the order of the
OASIS schema: alert → one <info> per language (vi-VN, en-US) → one <area> per ward. No insignificant whitespace
is written, so the document survives validators that re-parse it dropping blank text before checking the
signature. Times are local (+07:00), to the second, as CAP requires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from alerts.warnings.areas import Area
from alerts.warnings.models import CAP_LANGUAGE, LANGS, CapStatus, Lang, MsgType
from alerts.warnings.schemas import Content
from alerts.warnings.vocab import event_terms

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
LOCAL_CODE_NAME = "vn.camau.ioc:hazard"
RISK_LEVEL_NAME = "VN-QD18-2021:risk_level"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The <alert>-level fields of one message."""

    identifier: str
    sender: str
    sent: datetime
    status: CapStatus
    msg_type: MsgType
    references: tuple[str, ...]  # "sender,identifier,sent" of earlier messages
    note: str | None
    sender_names: dict[Lang, str]
    web: str
    contact: str
    geocode_value_name: str


def cap_time(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def reference(sender: str, identifier: str, sent: datetime) -> str:
    return f"{sender},{identifier},{cap_time(sent)}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _pair(parent: etree._Element, tag: str, name: str, value: str) -> None:
    el = _sub(parent, tag)
    _sub(el, "valueName", name)
    _sub(el, "value", value)


def _area(info: etree._Element, area: Area, value_name: str) -> None:
    el = _sub(info, "area")
    _sub(el, "areaDesc", area.name)
    for polygon in area.polygons:
        _sub(el, "polygon", polygon)
    _pair(el, "geocode", value_name, area.code)


def _info(root: etree._Element, env: Envelope, content: Content, lang: Lang, areas: list[Area]) -> None:
    texts = content.texts[lang]
    info = _sub(root, "info")
    _sub(info, "language", CAP_LANGUAGE[lang])
    _sub(info, "category", content.category)
    _sub(info, "event", texts.event)
    _sub(info, "responseType", content.response_type)
    for tag in ("urgency", "severity", "certainty"):
        _sub(info, tag, getattr(content, tag))
    for code in content.event_codes:
        _pair(info, "eventCode", event_terms().value_name, code)
    if content.local_code:
        _pair(info, "eventCode", LOCAL_CODE_NAME, content.local_code)
    _sub(info, "onset", cap_time(content.onset))
    _sub(info, "expires", cap_time(content.expires))
    _sub(info, "senderName", env.sender_names[lang])
    _sub(info, "headline", texts.headline)
    _sub(info, "description", texts.description)
    _sub(info, "instruction", texts.instruction)
    _sub(info, "web", env.web)
    _sub(info, "contact", env.contact)
    for key, value in sorted(content.parameters.items()):
        name = RISK_LEVEL_NAME if key == "risk_level" else f"{content.local_code or content.hazard}:{key}"
        _pair(info, "parameter", name, value)
    for area in areas:
        _area(info, area, env.geocode_value_name)


def build(env: Envelope, content: Content, areas: list[Area]) -> etree._Element:
    """The unsigned <alert> element."""
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", env.identifier)
    _sub(root, "sender", env.sender)
    _sub(root, "sent", cap_time(env.sent))
    _sub(root, "status", env.status)
    _sub(root, "msgType", env.msg_type)
    _sub(root, "scope", "Public")
    if env.note:
        _sub(root, "note", env.note)
    if env.references:
        _sub(root, "references", " ".join(env.references))
    for lang in LANGS:
        _info(root, env, content, lang, areas)
    return root


def to_bytes(root: etree._Element) -> bytes:
    document: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return document
