"""Which write failures to retry and how to name the others. Pure: no I/O.

Only a failure of the *connection* (the database unreachable, shutting down, out of resources) or a *transient*
conflict (deadlock, serialization failure, a lock not available) is worth retrying the same write: it will succeed
later unchanged. Anything else a write raises was caused by what it wrote (a value the database refuses, a
constraint, a bug meeting an unusual input); retrying it unchanged fails again forever, so the writer isolates the
offending items instead (see ``ingest.service`` and ``ops_center.dossiers.service``) and dead-letters them with
:func:`describe` as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import psycopg

from ops_center.storable import clean_text, shown

RETRY_CLASSES: Final = frozenset({"08", "40", "53", "57", "58"})
"""SQLSTATE classes retried: connection exception, transaction rollback (deadlock, serialization), insufficient
resources, operator intervention (shutdown, cancel), system error."""
RETRY_STATES: Final = frozenset({"55P03", "55006"})
"""Lock not available, object in use."""
CONFLICT_CLASS: Final = "40"
WRITE_FAILED: Final = "write_failed"
"""The reason code of an item whose write the database refused."""


def is_retryable(exc: BaseException) -> bool:
    """True for connection-class and transient failures (retry the same write later), False for the rest."""
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:  # raised by the client: a lost connection is OperationalError, a refused value DataError
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in RETRY_CLASSES or state in RETRY_STATES


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure: retry at once, the connection is fine."""
    return isinstance(exc, psycopg.Error) and (exc.sqlstate or "")[:2] == CONFLICT_CLASS


@dataclass(frozen=True, slots=True)
class WriteFault:
    """Why the database refused a write, in dead-letter terms: reason code, a detail naming what it could, the
    column (or table/constraint) as the field, and the value or context it quoted."""

    reason: str
    detail: str
    field: str | None
    value: str | None


def describe(exc: BaseException) -> WriteFault:
    """The database's own words for a refused write (SQLSTATE, condition, message, detail, column and context when
    the server gave them); a non-database exception by its type and message."""
    if not isinstance(exc, psycopg.Error):
        text = clean_text(f"{type(exc).__name__}: {exc}")[:1000]
        return WriteFault(WRITE_FAILED, f"write failed: {text}", None, None)
    diag = exc.diag
    lines = str(exc).strip().splitlines()
    primary = diag.message_primary or (lines[0] if lines else type(exc).__name__)
    parts = [f"database refused the write: {exc.sqlstate or 'client'} {type(exc).__name__}: {primary}"]
    if diag.message_detail:
        parts.append(diag.message_detail)
    field = diag.column_name or diag.constraint_name or diag.table_name
    if diag.table_name and diag.column_name:
        field = f"{diag.table_name}.{diag.column_name}"
    if field:
        parts.append(f"field {field}")
    context = (diag.context or "").strip().splitlines()
    value = shown(context[0], 200) if context else None
    if value:
        parts.append(f"context {value}")
    return WriteFault(WRITE_FAILED, clean_text("; ".join(parts))[:2000], clean_text(field)[:256] if field else None,
                      value)
