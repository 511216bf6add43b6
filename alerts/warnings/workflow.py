"""The two-person workflow of a warning, each step in the caller's transaction and recorded in
``warning_events``:

draft (Alert) → [edit …] → approve (another person with the right to publish) | reject → publish →
update (an Update message, same workflow) … → cancel (a Cancel message, same workflow).

A warning has at most one message in preparation. Approval is of a content version: any edit withdraws it. Nobody
approves a message they drafted or edited; the table enforces it too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.warnings import store
from alerts.warnings.compose import compose
from alerts.warnings.config import WarningsConfig
from alerts.warnings.models import LANGS, Actor, Conflict, Forbidden, Lang
from alerts.warnings.publishing import preview, publish_message
from alerts.warnings.schemas import CancelIn, Content, DecisionIn, DraftIn, EditIn, Inputs, Texts, TextsIn
from ops_center.auth.roles import Permission, has_permission
from ops_center.db import Conn
from ops_center.events import emit
from ops_center.signing_keys import SigningPair

CANCEL_HEADLINE: dict[Lang, str] = {"vi": "Hủy cảnh báo: ", "en": "Cancelled: "}
CANCEL_INSTRUCTION: dict[Lang, str] = {"vi": "Cảnh báo trước đây không còn hiệu lực; không cần ứng phó thêm.",
                                       "en": "The earlier warning no longer applies; no further action is needed."}


def _step(conn: Conn, warning_id: int, message_id: int | None, kind: str, actor: Actor,
          detail: dict[str, Any]) -> None:
    """Record a step in the warning's audit trail and tell the live feed (topic ``warning``) at commit."""
    store.add_event(conn, warning_id, message_id, kind, actor, detail)
    emit(conn, "warning", {"warning_id": warning_id, "message_id": message_id, "step": kind, "actor": actor.name,
                           "detail": detail}, subject=f"warning:{warning_id}")


def _need(actor: Actor, *permissions: Permission) -> None:
    if not any(has_permission(actor.role, p) for p in permissions):
        names = " or ".join(p.value for p in permissions)
        raise Forbidden("role", f"role {actor.role.value!r} may not do this; needs {names}")


def _document(inputs: Inputs, content: Content) -> dict[str, object]:
    return {"inputs": inputs.model_dump(mode="json", exclude_defaults=True), "content": content.as_json()}


def _open(conn: Conn, warning_id: int, version: int | None = None) -> store.MessageRow:
    store.get_warning(conn, warning_id, lock=True)
    message = store.open_message(conn, warning_id, lock=True)
    if message is None:
        raise Conflict("warning_id", f"warning {warning_id} has no message in preparation")
    if version is not None and message.version != version:
        raise Conflict("version", f"the message is at version {message.version}, not {version}: reload it")
    return message


def draft(conn: Conn, inputs: DraftIn, actor: Actor, now: datetime, config: WarningsConfig) -> int:
    """A new warning with its first message (Alert) as a draft; returns the warning id."""
    _need(actor, Permission.draft_warnings)
    content = compose(conn, inputs, now, config)
    warning = store.create_warning(conn, content.hazard, actor)
    message = store.insert_message(conn, warning.id, "Alert", inputs.cap_status, _document(inputs, content), actor)
    store.add_sources(conn, message.id, [s.model_dump() for s in content.sources])
    _step(conn, warning.id, message.id, "drafted", actor, {"msg_type": "Alert", "version": 1})
    return warning.id


def _merged(stored: Inputs, change: Inputs) -> Inputs:
    """``stored`` with the fields ``change`` sets replaced (texts field by field, per language)."""
    changes = change.model_dump(exclude_unset=True, exclude={"version", "texts"})
    texts = {lang: t.model_dump(exclude_none=True) for lang, t in stored.texts.items()}
    for lang, patch in change.texts.items():
        texts[lang] = {**texts.get(lang, {}), **patch.model_dump(exclude_unset=True)}
    return Inputs.model_validate({**stored.model_dump(), **changes, "texts": texts})


def edit(conn: Conn, warning_id: int, change: EditIn, actor: Actor, now: datetime, config: WarningsConfig) -> None:
    _need(actor, Permission.draft_warnings)
    message = _open(conn, warning_id, change.version)
    if message.msg_type == "Cancel":
        raise Conflict("msg_type", "a Cancel is not edited: discard it and cancel again")
    inputs = _merged(Inputs.model_validate(message.content["inputs"]), change)
    content = compose(conn, inputs, now, config)
    updated = store.update_content(conn, message.id, _document(inputs, content), inputs.cap_status, actor)
    store.add_sources(conn, message.id, [s.model_dump() for s in content.sources])
    _step(conn, warning_id, message.id, "edited", actor,
                    {"version": updated.version, "fields": sorted(change.model_fields_set - {"version"}),
                     "approval_withdrawn": message.status == "approved"})


def approve(conn: Conn, warning_id: int, decision: DecisionIn, actor: Actor, now: datetime) -> None:
    """The second person's approval of the content at ``decision.version``."""
    _need(actor, Permission.publish_warnings)
    message = _open(conn, warning_id, decision.version)
    if message.status == "approved":
        raise Conflict("status", f"already approved by {message.approved_by}")
    if actor.name in message.authors:
        raise Forbidden("approver", f"two-person rule: {actor.name!r} drafted or edited this message; another "
                                    "person with the right to publish must approve it")
    expires = Content.model_validate(message.content["content"]).expires
    if expires <= now:
        raise Conflict("expires", f"the message expired at {expires.isoformat()}; edit it first")
    store.set_approval(conn, message.id, actor, message.version)
    _step(conn, warning_id, message.id, "approved", actor,
                    {"version": message.version, "note": decision.note})


def reject(conn: Conn, warning_id: int, decision: DecisionIn, actor: Actor) -> None:
    """Send the message back to its authors (an approval is withdrawn); the note says why."""
    _need(actor, Permission.publish_warnings)
    message = _open(conn, warning_id, decision.version)
    if actor.name in message.authors:
        raise Forbidden("approver", f"{actor.name!r} drafted or edited this message: discard it instead")
    if message.status == "approved":
        store.set_approval(conn, message.id, None, message.version)
    _step(conn, warning_id, message.id, "rejected", actor,
                    {"version": message.version, "note": decision.note})


def publish(conn: Conn, warning_id: int, actor: Actor, now: datetime, config: WarningsConfig,
            pair: SigningPair) -> list[int]:
    """Publish the approved message; returns the outbox ids to deliver once the transaction commits."""
    _need(actor, Permission.draft_warnings, Permission.publish_warnings)
    message = _open(conn, warning_id)
    if message.status != "approved" or message.approved_version != message.version:
        raise Conflict("status", "the message is not approved: a second person with the right to publish must "
                                 "approve it first (two-person rule)")
    row, outbox_ids = publish_message(conn, message, actor, now, config, pair)
    _step(conn, warning_id, message.id, "published", actor,
                    {"identifier": row.identifier, "msg_type": row.msg_type, "approved_by": row.approved_by})
    if outbox_ids:
        _step(conn, warning_id, message.id, "delivery_queued", actor, {"outbox": outbox_ids})
    return outbox_ids


def _last_published(conn: Conn, warning_id: int, now: datetime) -> store.MessageRow:
    store.get_warning(conn, warning_id, lock=True)
    if store.open_message(conn, warning_id) is not None:
        raise Conflict("warning_id", f"warning {warning_id} already has a message in preparation")
    published = store.published(conn, warning_id)
    if not published:
        raise Conflict("warning_id", f"warning {warning_id} has not been published yet: edit its draft instead")
    last = published[-1]
    if last.msg_type == "Cancel":
        raise Conflict("warning_id", f"warning {warning_id} was cancelled")
    return last


def update(conn: Conn, warning_id: int, change: Inputs, actor: Actor, now: datetime,
           config: WarningsConfig) -> None:
    """An Update message drafted from the last published one with ``change`` applied (same workflow)."""
    _need(actor, Permission.draft_warnings)
    last = _last_published(conn, warning_id, now)
    base = Inputs.model_validate(last.content["inputs"])
    inputs = _merged(base, change)
    if "expires" not in change.model_fields_set and base.expires is not None and base.expires <= now:
        inputs = inputs.model_copy(update={"expires": None})  # the template's default from now
    content = compose(conn, inputs, now, config)
    message = store.insert_message(conn, warning_id, "Update", inputs.cap_status, _document(inputs, content), actor)
    store.add_sources(conn, message.id, [s.model_dump() for s in content.sources])
    _step(conn, warning_id, message.id, "drafted", actor, {"msg_type": "Update", "version": 1})


def cancel(conn: Conn, warning_id: int, request: CancelIn, actor: Actor, now: datetime) -> None:
    """A Cancel message for the warning (same workflow): the last content, marked all-clear, with the reason."""
    _need(actor, Permission.draft_warnings)
    last = _last_published(conn, warning_id, now)
    content = Content.model_validate(last.content["content"])
    texts = {lang: _cancel_texts(content.texts[lang], lang, request.reason, request.texts.get(lang))
             for lang in LANGS}
    expires = max(content.expires, now + timedelta(hours=1))
    cancelled = content.model_copy(update={"texts": texts, "urgency": "Past", "response_type": "AllClear",
                                           "note": request.reason, "expires": expires})
    inputs = Inputs.model_validate(last.content["inputs"])
    message = store.insert_message(conn, warning_id, "Cancel", last.cap_status,
                                   _document(inputs, Content.model_validate(cancelled.model_dump())), actor)
    _step(conn, warning_id, message.id, "drafted", actor,
                    {"msg_type": "Cancel", "version": 1, "reason": request.reason})


def _cancel_texts(old: Texts, lang: Lang, reason: str, given: TextsIn | None) -> Texts:
    texts = Texts(event=old.event, headline=(CANCEL_HEADLINE[lang] + old.headline)[:160],
                  description=reason, instruction=CANCEL_INSTRUCTION[lang])
    if given is not None:
        texts = texts.model_copy(update=given.model_dump(exclude_none=True))
    return Texts.model_validate(texts.model_dump())


def discard(conn: Conn, warning_id: int, actor: Actor) -> None:
    """Drop the message in preparation (nothing was published from it)."""
    _need(actor, Permission.draft_warnings)
    message = _open(conn, warning_id)
    store.set_discarded(conn, message.id)
    _step(conn, warning_id, message.id, "discarded", actor, {"version": message.version})


def preview_open(conn: Conn, warning_id: int, now: datetime, config: WarningsConfig) -> bytes:
    """The unsigned CAP document of the message in preparation, as an approver would publish it."""
    store.get_warning(conn, warning_id)
    message = store.open_message(conn, warning_id)
    if message is None:
        raise Conflict("warning_id", f"warning {warning_id} has no message in preparation")
    return preview(conn, message, now, config)
