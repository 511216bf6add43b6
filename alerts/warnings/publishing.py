"""Publishing an approved message: CAP identifier and references, the ward areas, the XML document, its signature
(checked against the certificate before anything is stored), the stored copy that the public feed serves byte for
byte, and the outbox rows for webhook subscribers — all in the caller's transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import cast

from alerts.warnings import store, subscriptions
from alerts.warnings.areas import ward_areas
from alerts.warnings.cap_xml import Envelope, build, reference, to_bytes
from alerts.warnings.config import WarningsConfig
from alerts.warnings.models import Actor, CapStatus, MsgType
from alerts.warnings.schemas import Content
from alerts.warnings.signing import sign, verify
from ops_center.db import Conn
from ops_center.settings import LOCAL_TZ
from ops_center.signing_keys import SigningPair


def message_url(config: WarningsConfig, identifier: str) -> str:
    return f"{config.public_base_url.rstrip('/')}/cap/messages/{identifier}.xml"


def listed_until(msg_type: str, content: Content, sent: datetime, earlier: list[store.MessageRow],
                 config: WarningsConfig) -> datetime:
    """Until when the public feed lists the message: its expiry; a Cancel stays at least ``cancel_listed_h``
    and as long as what it cancels would have, so consumers that poll see it."""
    if msg_type != "Cancel":
        return content.expires
    floor = sent + timedelta(hours=config.cancel_listed_h)
    return max([floor, *(m.expires_at for m in earlier if m.expires_at is not None)])


def _envelope(conn: Conn, message: store.MessageRow, content: Content, earlier: list[store.MessageRow],
              sent: datetime, identifier: str, config: WarningsConfig) -> Envelope:
    return Envelope(
        identifier=identifier, sender=config.sender, sent=sent, status=_cap_status(message.cap_status),
        msg_type=_msg_type(message.msg_type),
        references=tuple(reference(config.sender, m.identifier, m.sent) for m in earlier
                         if m.identifier and m.sent),
        note=content.note, sender_names={"vi": config.sender_name_vi, "en": config.sender_name_en},
        web=message_url(config, identifier), contact=config.contact,
        geocode_value_name=config.geocode_value_name)


def preview(conn: Conn, message: store.MessageRow, now: datetime, config: WarningsConfig) -> bytes:
    """The document ``message`` would become if published now, unsigned, with a provisional identifier."""
    content = Content.model_validate(message.content["content"])
    sent = now.astimezone(LOCAL_TZ).replace(microsecond=0)
    env = _envelope(conn, message, content, store.published(conn, message.warning_id), sent,
                    f"{config.identifier_prefix}.preview.{message.id}.v{message.version}", config)
    return to_bytes(build(env, content, ward_areas(conn, content.ward_set, content.wards, content.ward_names,
                                                   config)))


def publish_message(conn: Conn, message: store.MessageRow, actor: Actor, now: datetime, config: WarningsConfig,
                    pair: SigningPair) -> tuple[store.MessageRow, list[int]]:
    """Sign and store ``message`` (approved) as published; returns it and the outbox ids written for it."""
    content = Content.model_validate(message.content["content"])
    earlier = store.published(conn, message.warning_id)
    sent = now.astimezone(LOCAL_TZ).replace(microsecond=0)
    identifier = f"{config.identifier_prefix}.{sent:%Y%m%d}.{message.id}"
    env = _envelope(conn, message, content, earlier, sent, identifier, config)
    areas = ward_areas(conn, content.ward_set, content.wards, content.ward_names, config)
    xml = sign(build(env, content, areas), pair)
    verify(xml, pair.cert_pem)  # never publish a document that does not verify
    row = store.set_published(conn, message.id, actor, identifier, sent,
                              listed_until(message.msg_type, content, sent, earlier, config), xml,
                              hashlib.sha256(xml).hexdigest())
    payload = {"warning_id": message.warning_id, "message_id": message.id, "identifier": identifier,
               "msg_type": message.msg_type, "url": env.web, "xml": xml.decode("utf-8")}
    outbox_ids = subscriptions.enqueue(conn, message.id, content.wards, message.cap_status, payload)
    return row, outbox_ids


def _cap_status(value: str) -> CapStatus:
    assert value in ("Actual", "Exercise", "System", "Test")  # the table's CHECK constraint
    return cast(CapStatus, value)


def _msg_type(value: str) -> MsgType:
    assert value in ("Alert", "Update", "Cancel")  # the table's CHECK constraint
    return cast(MsgType, value)
