"""Senders: one attempt to deliver a payload over a channel. Each returns a ``SendResult`` that says whether a
failure is worth retrying (5xx, 408/425/429, timeouts, refused connections; SMTP 4xx) or not (other 4xx; SMTP 5xx)."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import orjson

from alerts.notify.channels import EmailConfig, WebhookConfig
from alerts.notify.payloads import alertmanager_body, email_subject, email_text, ops_body
from ops_center.delivery import RETRYABLE_HTTP, SendResult, post, post_json

__all__ = ["RETRYABLE_HTTP", "SendResult", "build_email", "send_cap_webhook", "send_email", "send_webhook"]


def send_webhook(cfg: WebhookConfig, payload: dict[str, Any], key: str, *, receiver: str, external_url: str,
                 timeout_s: float) -> SendResult:
    body = (alertmanager_body(payload, receiver, external_url) if cfg.format == "alertmanager"
            else ops_body(payload))
    headers = {**cfg.headers, "Idempotency-Key": key, "User-Agent": "ops-center-alerts/1",
               "X-Ops-Event": payload["event"]}
    return post_json(cfg.url, orjson.dumps(body), headers, cfg.timeout_s or timeout_s)


CAP_MEDIA_TYPE = "application/cap+xml"


def send_cap_webhook(cfg: WebhookConfig, payload: dict[str, Any], key: str, *, timeout_s: float) -> SendResult:
    """POST a signed CAP document as it was published (``application/cap+xml``, UTF-8), byte for byte, so the
    receiver can verify its signature."""
    headers = {**cfg.headers, "Content-Type": f"{CAP_MEDIA_TYPE}; charset=utf-8", "Idempotency-Key": key,
               "User-Agent": "ops-center-warnings/1", "X-Ops-Event": "cap",
               "X-CAP-Identifier": payload["identifier"], "X-CAP-MsgType": payload["msg_type"]}
    return post(cfg.url, payload["xml"].encode("utf-8"), headers, cfg.timeout_s or timeout_s)


def build_email(cfg: EmailConfig, payload: dict[str, Any], key: str, external_url: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = email_subject(payload, cfg.subject_prefix)
    msg["From"] = cfg.from_addr
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{key}@ops-center>"
    msg["X-Ops-Idempotency-Key"] = key
    msg.set_content(email_text(payload, external_url), charset="utf-8")
    return msg


def send_email(cfg: EmailConfig, payload: dict[str, Any], key: str, *, external_url: str,
               timeout_s: float) -> SendResult:
    msg = build_email(cfg, payload, key, external_url)
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=timeout_s) as smtp:
            if cfg.starttls:
                smtp.starttls()
            if cfg.username:
                smtp.login(cfg.username, os.environ.get(cfg.password_env or "", ""))
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return SendResult(False, all(400 <= c < 500 for c in codes), codes[0] if codes else None,
                          f"recipients refused: {str(exc.recipients)[:200]}")
    except smtplib.SMTPResponseException as exc:
        return SendResult(False, 400 <= exc.smtp_code < 500, exc.smtp_code,
                          f"SMTP {exc.smtp_code}: {exc.smtp_error[:200]!r}")
    except smtplib.SMTPNotSupportedError as exc:
        return SendResult(False, False, None, f"{type(exc).__name__}: {str(exc)[:200]}")
    except OSError as exc:  # disconnects, refused connections, timeouts (smtplib errors are OSErrors too)
        return SendResult(False, True, None, f"{type(exc).__name__}: {str(exc)[:200]}")
    return SendResult(True, status_code=250)
