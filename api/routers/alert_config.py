"""Alerting configuration: rules (admin, operator; also as a YAML upload), silences (admin, operator), inhibition
rules (admin, operator), escalation policies and notification channels (admin). Invalid documents are refused with
422 and ``errors: [{field, message, value}]`` naming each bad field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter

from alerts import escalation, inhibition, remuting, rule_changes, rule_files, silences
from alerts.errors import RuleError
from alerts.escalation import PolicyIn
from alerts.inhibition import InhibitRuleIn
from alerts.models import utcnow
from alerts.notify import channels
from alerts.notify.channels import EmailConfig, WebhookConfig
from alerts.rules import store
from alerts.rules.models import RULE_ADAPTER, Rule, parse_rule
from alerts.silences import SilenceIn
from api.deps import AdminOnly, ConnDep, Operators, Staff
from api.fields import StoredDocument
from api.openapi import errors, request_body
from api.problems import ProblemError
from ops_center.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**53 - 1)]
Document = StoredDocument


def _invalid(exc: RuleError, what: str) -> ProblemError:
    return ProblemError(422, f"Invalid {what}", str(exc), errors=exc.errors)


def _after(cursor: str | None, key: str = "id") -> int | None:
    data = decode_cursor(cursor)
    if data is None:
        return None
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise HTTPException(400, "cursor: not a cursor returned by this API")
    return value


class WebhookChannel(BaseModel):
    """A notification channel posting JSON to a URL (documentation of the body; validated by alerts.notify)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
    type: Literal["webhook"]
    config: WebhookConfig
    enabled: StrictBool = True


class EmailChannel(BaseModel):
    """A notification channel sending e-mail over SMTP."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
    type: Literal["email"]
    config: EmailConfig
    enabled: StrictBool = True


Channel = Annotated[WebhookChannel | EmailChannel, Field(discriminator="type")]
RULE_BODY = request_body(RULE_ADAPTER, description="an alert rule of one of five kinds (`kind` says which)")
SILENCE_BODY = request_body(SilenceIn, description="a silence: the matchers it mutes and until when")
INHIBIT_BODY = request_body(InhibitRuleIn, description="an inhibition rule")
POLICY_BODY = request_body(PolicyIn, description="an escalation policy: steps of channels, later and later")
CHANNEL_BODY = request_body(TypeAdapter(Channel), description="a webhook or e-mail channel")


class RuleFile(BaseModel):
    """A YAML rule file (or a bare list of rules); all or nothing."""

    model_config = ConfigDict(extra="forbid")
    rules: list[Rule] | None = None
    channels: list[Channel] | None = Field(default=None, description="needs the admin role")
    escalation_policies: list[PolicyIn] | None = Field(default=None, description="needs the admin role")
    inhibit_rules: list[InhibitRuleIn] | None = None


RULE_FILE_BODY = request_body(
    TypeAdapter(RuleFile | list[Rule]), media_type="application/yaml",
    description=f"A YAML document of at most {rule_files.MAX_FILE_BYTES} bytes: the sections as for their own routes.")


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


# -- rules ---------------------------------------------------------------------------------------------------------
@router.get("/alert-rules", response_model=Page, tags=["alert rules"])
def list_rules(conn: ConnDep, _: Staff, kind: Literal["threshold", "rate", "absence", "geo_count", "kpi"] | None = None,
               enabled: bool | None = None, cursor: Annotated[str | None, Query(max_length=1024)] = None,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> Page:
    rows = store.list_rules(conn, kind=kind, enabled=enabled, after_id=_after(cursor) or 0, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=[store.rule_json(r) for r in rows],
                next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more and rows else None)


@router.post("/alert-rules", status_code=201, tags=["alert rules"], openapi_extra=RULE_BODY)
def create_rule(body: Document, conn: ConnDep, principal: Operators, request: Request) -> dict[str, Any]:
    try:
        rule = parse_rule(body)
        row = rule_changes.create_rule(conn, rule, principal.name)
    except RuleError as exc:
        raise _invalid(exc, "rule") from exc
    request.state.audit_target = f"alert_rule:{row['id']}"
    return store.rule_json(row)


@router.post("/alert-rules/import", tags=["alert rules"], openapi_extra=RULE_FILE_BODY, responses=errors(413))
async def import_rules(request: Request, conn: ConnDep, principal: Operators,
                       dry_run: bool = False) -> dict[str, Any]:
    """A YAML rule file as the request body (``rules`` and optionally ``channels``, ``escalation_policies``,
    ``inhibit_rules``); all or nothing. Channels and policies in the file need the admin role."""
    request.state.audit_target = "alert_rules:import"
    raw = await request.body()
    if len(raw) > rule_files.MAX_FILE_BYTES:
        raise HTTPException(413, f"body: rule file larger than {rule_files.MAX_FILE_BYTES} bytes ({len(raw)})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, f"body: not UTF-8 text (byte {exc.start})") from exc
    try:
        rf = rule_files.parse_text(text)
        if (rf.channels or rf.policies) and principal.role.value != "admin":
            raise HTTPException(403, "channels and escalation_policies in a rule file need the admin role")
        if dry_run:
            return {"valid": True, "rules": [r.name for r in rf.rules]}
        report = rule_files.apply(conn, rf, principal.name)
    except RuleError as exc:
        raise _invalid(exc, "rule file") from exc
    return {"valid": True, **report}


@router.get("/alert-rules/{rule_id}", tags=["alert rules"])
def get_rule(rule_id: Id, conn: ConnDep, _: Staff) -> dict[str, Any]:
    row = store.get_rule(conn, rule_id)
    if row is None:
        raise HTTPException(404, f"rule_id: no rule {rule_id}")
    return store.rule_json(row)


@router.put("/alert-rules/{rule_id}", tags=["alert rules"], openapi_extra=RULE_BODY)
def replace_rule(rule_id: Id, body: Document, conn: ConnDep, principal: Operators,
                 request: Request) -> dict[str, Any]:
    request.state.audit_target = f"alert_rule:{rule_id}"
    try:
        row = rule_changes.replace_rule(conn, rule_id, parse_rule(body), principal.name)
    except RuleError as exc:
        raise _invalid(exc, "rule") from exc
    if row is None:
        raise HTTPException(404, f"rule_id: no rule {rule_id}")
    return store.rule_json(row)


@router.delete("/alert-rules/{rule_id}", status_code=204, tags=["alert rules"])
def delete_rule(rule_id: Id, conn: ConnDep, principal: Operators, request: Request) -> None:
    request.state.audit_target = f"alert_rule:{rule_id}"
    if not rule_changes.delete_rule(conn, rule_id, principal.name):
        raise HTTPException(404, f"rule_id: no rule {rule_id}")


# -- silences ------------------------------------------------------------------------------------------------------
@router.get("/silences", response_model=Page, tags=["silences"])
def list_silences(conn: ConnDep, _: Staff, state: Literal["active", "pending", "expired"] | None = None,
                  cursor: Annotated[str | None, Query(max_length=1024)] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> Page:
    now = utcnow()
    rows = silences.list_silences(conn, now, state, _after(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=[silences.silence_json(r, now) for r in rows],
                next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more and rows else None)


@router.post("/silences", status_code=201, tags=["silences"], openapi_extra=SILENCE_BODY)
def create_silence(body: Document, conn: ConnDep, principal: Operators, request: Request) -> dict[str, Any]:
    """Create a silence; matching open alerts are muted in the same transaction."""
    now = utcnow()
    try:
        row = silences.create(conn, silences.validate_silence(body), principal.name, now)
    except RuleError as exc:
        raise _invalid(exc, "silence") from exc
    request.state.audit_target = f"silence:{row['id']}"
    changed = remuting.refresh(conn, now)
    return {**silences.silence_json(row, now), "alerts_changed": changed}


@router.get("/silences/{silence_id}", tags=["silences"])
def get_silence(silence_id: Id, conn: ConnDep, _: Staff) -> dict[str, Any]:
    row = silences.get(conn, silence_id)
    if row is None:
        raise HTTPException(404, f"silence_id: no silence {silence_id}")
    return silences.silence_json(row, utcnow())


@router.delete("/silences/{silence_id}", tags=["silences"])
def expire_silence(silence_id: Id, conn: ConnDep, _: Operators, request: Request) -> dict[str, Any]:
    """Expire a silence now (kept for the record); alerts it muted are unmuted in the same transaction."""
    request.state.audit_target = f"silence:{silence_id}"
    now = utcnow()
    row = silences.expire(conn, silence_id, now)
    if row is None:
        raise HTTPException(404, f"silence_id: no silence {silence_id}")
    changed = remuting.refresh(conn, now)
    return {**silences.silence_json(row, now), "alerts_changed": changed}


# -- inhibition rules ----------------------------------------------------------------------------------------------
@router.get("/inhibit-rules", response_model=Page, tags=["inhibition"])
def list_inhibit_rules(conn: ConnDep, _: Staff) -> Page:
    return Page(items=inhibition.list_rules(conn))


@router.post("/inhibit-rules", status_code=201, tags=["inhibition"], responses=errors(409),
             openapi_extra=INHIBIT_BODY)
def create_inhibit_rule(body: Document, conn: ConnDep, principal: Operators, request: Request) -> dict[str, Any]:
    try:
        r = inhibition.validate_inhibit_rule(body)
    except RuleError as exc:
        raise _invalid(exc, "inhibition rule") from exc
    if inhibition.id_named(conn, r.name) is not None:
        raise HTTPException(409, f"name: an inhibition rule named {r.name!r} exists")
    row, _ = inhibition.upsert(conn, r, principal.name)
    request.state.audit_target = f"inhibit_rule:{row['id']}"
    remuting.refresh(conn)
    return row


@router.put("/inhibit-rules/{rule_id}", tags=["inhibition"], openapi_extra=INHIBIT_BODY, responses=errors(409))
def replace_inhibit_rule(rule_id: Id, body: Document, conn: ConnDep, _: Operators,
                         request: Request) -> dict[str, Any]:
    request.state.audit_target = f"inhibit_rule:{rule_id}"
    try:
        r = inhibition.validate_inhibit_rule(body)
    except RuleError as exc:
        raise _invalid(exc, "inhibition rule") from exc
    other = inhibition.id_named(conn, r.name)
    if other is not None and other != rule_id:  # found by schemathesis: the unique index answered 500
        raise HTTPException(409, f"name: another inhibition rule is named {r.name!r}")
    row = inhibition.update(conn, rule_id, r)
    if row is None:
        raise HTTPException(404, f"rule_id: no inhibition rule {rule_id}")
    remuting.refresh(conn)
    return row


@router.delete("/inhibit-rules/{rule_id}", status_code=204, tags=["inhibition"])
def delete_inhibit_rule(rule_id: Id, conn: ConnDep, _: Operators, request: Request) -> None:
    request.state.audit_target = f"inhibit_rule:{rule_id}"
    if not inhibition.delete(conn, rule_id):
        raise HTTPException(404, f"rule_id: no inhibition rule {rule_id}")
    remuting.refresh(conn)


# -- escalation policies -------------------------------------------------------------------------------------------
@router.get("/escalation-policies", response_model=Page, tags=["escalation"])
def list_policies(conn: ConnDep, _: Operators) -> Page:
    return Page(items=escalation.list_policies(conn))


@router.post("/escalation-policies", status_code=201, tags=["escalation"], responses=errors(409),
             openapi_extra=POLICY_BODY)
def create_policy(body: Document, conn: ConnDep, principal: AdminOnly, request: Request) -> dict[str, Any]:
    try:
        p = escalation.validate_policy(body)
    except RuleError as exc:
        raise _invalid(exc, "escalation policy") from exc
    if escalation.policy_id_by_name(conn, p.name) is not None:
        raise HTTPException(409, f"name: an escalation policy named {p.name!r} exists")
    row, _ = escalation.upsert_policy(conn, p, principal.name)
    request.state.audit_target = f"escalation_policy:{row['id']}"
    return row


@router.get("/escalation-policies/{policy_id}", tags=["escalation"])
def get_policy(policy_id: Id, conn: ConnDep, _: Operators) -> dict[str, Any]:
    row = escalation.get_policy(conn, policy_id)
    if row is None:
        raise HTTPException(404, f"policy_id: no escalation policy {policy_id}")
    return row


@router.put("/escalation-policies/{policy_id}", tags=["escalation"], responses=errors(409),
            openapi_extra=POLICY_BODY)
def replace_policy(policy_id: Id, body: Document, conn: ConnDep, _: AdminOnly, request: Request) -> dict[str, Any]:
    request.state.audit_target = f"escalation_policy:{policy_id}"
    try:
        p = escalation.validate_policy(body)
    except RuleError as exc:
        raise _invalid(exc, "escalation policy") from exc
    other = escalation.policy_id_by_name(conn, p.name)
    if other is not None and other != policy_id:
        raise HTTPException(409, f"name: another escalation policy is named {p.name!r}")
    row = escalation.update_policy(conn, policy_id, p)
    if row is None:
        raise HTTPException(404, f"policy_id: no escalation policy {policy_id}")
    return row


@router.delete("/escalation-policies/{policy_id}", status_code=204, tags=["escalation"])
def delete_policy(policy_id: Id, conn: ConnDep, _: AdminOnly, request: Request) -> None:
    request.state.audit_target = f"escalation_policy:{policy_id}"
    if not escalation.delete_policy(conn, policy_id):
        raise HTTPException(404, f"policy_id: no escalation policy {policy_id}")


# -- notification channels -----------------------------------------------------------------------------------------
@router.get("/notify-channels", response_model=Page, tags=["notifications"])
def list_channels(conn: ConnDep, _: AdminOnly) -> Page:
    return Page(items=channels.list_channels(conn))


@router.post("/notify-channels", status_code=201, tags=["notifications"], responses=errors(409),
             openapi_extra=CHANNEL_BODY)
def create_channel(body: Document, conn: ConnDep, principal: AdminOnly, request: Request) -> dict[str, Any]:
    try:
        ch = channels.validate_channel(body)
    except RuleError as exc:
        raise _invalid(exc, "channel") from exc
    if channels.id_named(conn, ch.name) is not None:
        raise HTTPException(409, f"name: a channel named {ch.name!r} exists")
    row, _ = channels.upsert_channel(conn, ch, principal.name)
    request.state.audit_target = f"notify_channel:{row['id']}"
    return row


@router.put("/notify-channels/{channel_id}", tags=["notifications"], responses=errors(409),
            openapi_extra=CHANNEL_BODY)
def replace_channel(channel_id: Id, body: Document, conn: ConnDep, _: AdminOnly, request: Request) -> dict[str, Any]:
    request.state.audit_target = f"notify_channel:{channel_id}"
    try:
        ch = channels.validate_channel(body)
    except RuleError as exc:
        raise _invalid(exc, "channel") from exc
    other = channels.id_named(conn, ch.name)
    if other is not None and other != channel_id:
        raise HTTPException(409, f"name: another channel is named {ch.name!r}")
    row = channels.update_channel(conn, channel_id, ch)
    if row is None:
        raise HTTPException(404, f"channel_id: no channel {channel_id}")
    return row


@router.delete("/notify-channels/{channel_id}", status_code=204, tags=["notifications"])
def delete_channel(channel_id: Id, conn: ConnDep, _: AdminOnly, request: Request) -> None:
    request.state.audit_target = f"notify_channel:{channel_id}"
    if not channels.delete_channel(conn, channel_id):
        raise HTTPException(404, f"channel_id: no channel {channel_id}")

