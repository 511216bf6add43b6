"""Public warnings for staff (CAP 1.2, see docs/cap.md): draft from alerts/incidents or from scratch, edit,
approve or reject (a second person with the publishing right: never one's own draft), publish (signed, into the
public feed and to webhook subscribers), update and cancel (further messages, same workflow), discard a draft;
list and read with state, messages, audit trail and deliveries; the templates; webhook subscribers (admin)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from alerts.warnings import subscriptions, views, workflow
from alerts.warnings.compose import compose
from alerts.warnings.config import get_config
from alerts.warnings.feed import cache as feed_cache
from alerts.warnings.models import Actor, WarningError
from alerts.warnings.schemas import CancelIn, DecisionIn, DraftIn, EditIn, Inputs
from alerts.warnings.templates import current
from alerts.warnings.vocab import decision18
from api.deps import AdminOnly, ConnDep, PoolDep, Principal, SettingsDep, Staff, require
from api.json_types import IsoAwareDateTime
from api.problems import ProblemError
from ops_center.auth.roles import Permission, roles_with
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from ops_center.signing_keys import SigningKeyMissing, load_pair

log = logging.getLogger("api.warnings")
router = APIRouter(tags=["warnings"])

Drafters = Annotated[Principal, Depends(require(*roles_with(Permission.draft_warnings)))]
Publishers = Annotated[Principal, Depends(require(*roles_with(Permission.publish_warnings)))]
Workflow = Annotated[Principal, Depends(require(*sorted(set(roles_with(Permission.draft_warnings))
                                                        | set(roles_with(Permission.publish_warnings)))))]
WarningId = Annotated[int, Path(ge=1, le=2**62)]


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.role)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _problems() -> Iterator[None]:
    """Domain refusals as problem+json naming the field (422, 403 two-person rule, 404, 409)."""
    try:
        yield
    except WarningError as exc:
        title = {403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(exc.status, "Invalid request")
        raise ProblemError(exc.status, title, str(exc),
                           errors=[{"field": exc.field, "message": exc.message}]) from exc


def _audit(request: Request, warning_id: int, **detail: Any) -> None:
    request.state.audit_target = f"warning:{warning_id}"
    request.state.audit_detail = detail


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None] | None:
    """The publication period asked for: [issued_from, issued_to), an end not given open (none: no filter)."""
    return None if start is None and end is None else (start, end)


@router.get("/warnings")
def list_warnings(conn: ConnDep, _: Staff,
                  state: Literal["pending", "active", "updated", "cancelled", "expired"] | None = None,
                  hazard: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = None,
                  awaiting: Literal["approval", "publishing"] | None = None,
                  issued_from: Annotated[IsoAwareDateTime | None, Query(
                      description="only warnings with a message published at or after this (and before issued_to)")
                  ] = None,
                  issued_to: IsoAwareDateTime | None = None,
                  cursor: Annotated[str | None, Query(max_length=1024)] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> dict[str, Any]:
    key = decode_cursor(cursor)
    before = int(key["before"]) if key and str(key.get("before", "")).isdigit() else None
    items, more = views.list_warnings(conn, now=_now(), state=state, hazard=hazard, awaiting=awaiting,
                                      before_id=before, limit=limit, issued=_period(issued_from, issued_to))
    return {"items": items, "next_cursor": encode_cursor({"before": items[-1]["id"]}) if more else None}


@router.get("/warnings/templates")
def templates(_: Staff) -> dict[str, Any]:
    """The template set in force (hazards, their values and bands), the Decision 18 risk levels and, per hazard
    graded by the decision, the levels it may take (``hazard_levels``; severity then follows the level)."""
    tset = current()
    d18 = decision18()
    return {"version": tset.version, "issued": tset.issued.isoformat(),
            "hazards": {k: h.model_dump(mode="json") for k, h in tset.hazards.items()},
            "risk_levels": {str(k): {"label_vi": v.label_vi, "label_en": v.label_en, "colour": v.colour,
                                     "severity": v.severity} for k, v in d18.levels.items()},
            "hazard_levels": {k: list(d18.hazards[h.decision18].levels) for k, h in tset.hazards.items()
                              if h.decision18 is not None},
            "decision": d18.decision}


@router.post("/warnings/compose")
def compose_draft(body: DraftIn, conn: ConnDep, _: Drafters) -> dict[str, Any]:
    """What ``POST /warnings`` would draft from this body, written nowhere: the content the template composes
    (texts in both languages, wards, severity, urgency, certainty, times), for the drafting form to start from."""
    with _problems():
        return {"inputs": body.model_dump(mode="json", exclude_defaults=True),
                "content": compose(conn, body, _now(), get_config()).as_json()}


@router.post("/warnings", status_code=201)
def draft(body: DraftIn, request: Request, conn: ConnDep, principal: Drafters) -> dict[str, Any]:
    with _problems():
        warning_id = workflow.draft(conn, body, _actor(principal), _now(), get_config())
        _audit(request, warning_id, step="drafted", alerts=body.alerts, incidents=body.incidents)
        return views.warning_detail(conn, warning_id, _now())


@router.get("/warnings/{warning_id}")
def read(warning_id: WarningId, conn: ConnDep, _: Staff) -> dict[str, Any]:
    with _problems():
        return views.warning_detail(conn, warning_id, _now())


@router.get("/warnings/{warning_id}/preview.xml", response_class=Response,
            responses={200: {"content": {"application/cap+xml": {}}}})
def preview(warning_id: WarningId, conn: ConnDep, _: Staff) -> Response:
    """The message in preparation as the CAP document it would be (unsigned, provisional identifier)."""
    with _problems():
        body = workflow.preview_open(conn, warning_id, _now(), get_config())
    return Response(body, media_type="application/cap+xml; charset=utf-8", headers={"Cache-Control": "no-store"})


@router.patch("/warnings/{warning_id}")
def edit(warning_id: WarningId, body: EditIn, request: Request, conn: ConnDep,
         principal: Drafters) -> dict[str, Any]:
    _audit(request, warning_id, step="edited", version=body.version)
    with _problems():
        workflow.edit(conn, warning_id, body, _actor(principal), _now(), get_config())
        return views.warning_detail(conn, warning_id, _now())


@router.post("/warnings/{warning_id}/approve")
def approve(warning_id: WarningId, body: DecisionIn, request: Request, conn: ConnDep,
            principal: Publishers) -> dict[str, Any]:
    _audit(request, warning_id, step="approved", version=body.version)
    with _problems():
        workflow.approve(conn, warning_id, body, _actor(principal), _now())
        return views.warning_detail(conn, warning_id, _now())


@router.post("/warnings/{warning_id}/reject")
def reject(warning_id: WarningId, body: DecisionIn, request: Request, conn: ConnDep,
           principal: Publishers) -> dict[str, Any]:
    _audit(request, warning_id, step="rejected", version=body.version)
    with _problems():
        workflow.reject(conn, warning_id, body, _actor(principal))
        return views.warning_detail(conn, warning_id, _now())


def _deliver(outbox_ids: list[int]) -> None:
    """Queue the deliveries once the publication committed (the beat dispatcher is the safety net)."""
    if not outbox_ids:
        return
    try:
        from alerts import tasks

        for outbox_id in outbox_ids:
            tasks.deliver.delay(outbox_id)
    except Exception:  # a broker outage delays delivery (alerts.dispatch re-enqueues), never the publication
        log.exception("could not queue deliveries %s; the dispatcher will", outbox_ids)


@router.post("/warnings/{warning_id}/publish")
def publish(warning_id: WarningId, request: Request, pool: PoolDep, settings: SettingsDep,
            principal: Workflow) -> dict[str, Any]:
    _audit(request, warning_id, step="published")
    try:
        pair = load_pair(settings)
    except SigningKeyMissing as exc:
        raise ProblemError(503, "Signing key unavailable", str(exc)) from exc
    with _problems(), pool.connection() as conn:
        with conn.transaction():
            outbox_ids = workflow.publish(conn, warning_id, _actor(principal), _now(), get_config(), pair)
        feed_cache.invalidate()
        _deliver(outbox_ids)
        with conn.transaction():
            return views.warning_detail(conn, warning_id, _now())


@router.post("/warnings/{warning_id}/update", status_code=201)
def update(warning_id: WarningId, body: Inputs, request: Request, conn: ConnDep,
           principal: Drafters) -> dict[str, Any]:
    _audit(request, warning_id, step="update_drafted")
    with _problems():
        workflow.update(conn, warning_id, body, _actor(principal), _now(), get_config())
        return views.warning_detail(conn, warning_id, _now())


@router.post("/warnings/{warning_id}/cancel", status_code=201)
def cancel(warning_id: WarningId, body: CancelIn, request: Request, conn: ConnDep,
           principal: Drafters) -> dict[str, Any]:
    _audit(request, warning_id, step="cancel_drafted")
    with _problems():
        workflow.cancel(conn, warning_id, body, _actor(principal), _now())
        return views.warning_detail(conn, warning_id, _now())


@router.delete("/warnings/{warning_id}/draft", status_code=204)
def discard(warning_id: WarningId, request: Request, conn: ConnDep, principal: Drafters) -> Response:
    _audit(request, warning_id, step="discarded")
    with _problems():
        workflow.discard(conn, warning_id, _actor(principal))
    return Response(status_code=204)


@router.get("/warning-subscriptions")
def list_subscriptions(conn: ConnDep, _: AdminOnly) -> dict[str, Any]:
    return {"items": [s.as_json() for s in subscriptions.list_subscriptions(conn)], "next_cursor": None}


@router.post("/warning-subscriptions", status_code=201)
def subscribe(body: subscriptions.SubscriptionIn, request: Request, conn: ConnDep,
              principal: AdminOnly) -> dict[str, Any]:
    with _problems():
        sub = subscriptions.create(conn, body, principal.name)
    request.state.audit_target = f"warning_subscription:{sub.id}"
    return sub.as_json()


@router.delete("/warning-subscriptions/{subscription_id}", status_code=204)
def unsubscribe(subscription_id: Annotated[int, Path(ge=1, le=2**62)], request: Request, conn: ConnDep,
                _: AdminOnly) -> Response:
    request.state.audit_target = f"warning_subscription:{subscription_id}"
    with _problems():
        subscriptions.delete(conn, subscription_id)
    return Response(status_code=204)
