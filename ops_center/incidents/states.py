"""The incident status machine: new → assigned → in_progress → resolved → closed, with reopen.

Reopening takes a resolved or closed incident back to ``in_progress`` (its unit keeps it). Anything else is refused
with a message naming the current status, the asked one and the ones allowed from here.
"""

from __future__ import annotations

from typing import Final

from ops_center.incidents.models import STATUSES, BadTransition, IncidentError

TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    "new": ("assigned",),
    "assigned": ("in_progress", "assigned"),  # assigned → assigned: hand over to another unit
    "in_progress": ("resolved", "assigned"),
    "resolved": ("closed", "in_progress"),  # in_progress: reopen
    "closed": ("in_progress",),  # reopen
}
REOPEN_FROM: Final = ("resolved", "closed")


def allowed(current: str) -> tuple[str, ...]:
    return TRANSITIONS.get(current, ())


def check(current: str, target: str) -> None:
    """Raise ``BadTransition`` unless ``current → target`` is allowed."""
    if target not in STATUSES:
        raise IncidentError(f"to: {target!r} is not a status (one of {', '.join(STATUSES)})")
    if target not in allowed(current):
        options = ", ".join(allowed(current)) or "none"
        raise BadTransition(f"to: cannot go from {current!r} to {target!r}; allowed from {current!r}: {options}")


def is_reopen(current: str, target: str) -> bool:
    return current in REOPEN_FROM and target == "in_progress"
