"""Secrets never reach a log line: JWTs, our API keys (``ops_<prefix>_<secret>``: the prefix stays, it names the key),
bearer credentials and the values of secret-looking query or form parameters (``token``, ``api_key``,
``password``, …) are replaced before any handler sees the record.

``install_log_redaction`` wraps the process's log-record factory, so it covers every logger and handler — uvicorn's
access log and its "WebSocket /path?query" lines included — whenever they were configured. The audit log uses
``redact`` on what it stores too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

SECRET_PARAMS = ("token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "key", "password",
                 "passwd", "secret", "client_secret")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"\b(ops_[0-9a-f]{12})_[A-Za-z0-9_-]+"), r"\1_[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)((?:^|[?&;\s\"'])(?:" + "|".join(SECRET_PARAMS) + r")=)[^&;\s\"']*"), r"\1[redacted]"),
)


def redact(text: str) -> str:
    """``text`` with every secret-looking part replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with strings redacted, inside lists and dicts too (for JSON details)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = arg if isinstance(arg, str) else str(arg)
    clean = redact(text)
    return arg if clean == text else clean


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record's message, arguments (keeping their number: uvicorn's access formatter unpacks them) and
    exception text, in place."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redact_arg(v) for k, v in record.args.items()}
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


class _RedactingFactory:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.inner(*args, **kwargs)
        try:
            redact_record(record)
        except Exception:  # an argument whose str() fails: withhold the record's content, keep its shape
            record.msg = f"[log record of {record.name} withheld: it could not be redacted]"
            record.args = tuple("?" for _ in record.args) if isinstance(record.args, tuple) else None
            record.exc_info, record.exc_text = None, None
        return record


def install_log_redaction() -> None:
    """Redact every log record this process creates from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))
