"""Legal status changes of a user, in one table.

::

                 activate (admin) / code verified
          new ───────────────────────────────────→ active ──deactivate──→ inactive
           │                                        │  ↑                    │
           │                                        │  └────reactivate──────┘
           └──────────── delete ────────────────────┴───────── delete ──────┴──→ deleted

``new``: created but not activated (self-registration waiting for its code, or an
admin's invitation). ``active``: the only status that may log in (login comes with a
later issue; it must check ``can_log_in``). ``inactive``: kept, but locked out until an
admin reactivates it. ``deleted``: personal data erased; the row stays so the audit
trail can name it by id. Nothing leaves ``deleted``.
"""

from __future__ import annotations

from typing import Literal

from widget_server.errors import Conflict

Status = Literal["new", "active", "inactive", "deleted"]
Action = Literal["activate", "deactivate", "reactivate", "delete"]
STATUSES: tuple[Status, ...] = ("new", "active", "inactive", "deleted")

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    ("new", "activate"): "active",
    ("active", "deactivate"): "inactive",
    ("inactive", "reactivate"): "active",
    ("new", "delete"): "deleted",
    ("active", "delete"): "deleted",
    ("inactive", "delete"): "deleted",
}


def transition(status: str, action: str) -> Status:
    """The status ``action`` leads to from ``status``, or ``Conflict`` if it is not allowed."""
    target = TRANSITIONS.get((status, action))  # type: ignore[arg-type]
    if target is None:
        raise Conflict("admin.status_transition", status=status, action=action)
    return target


def can_log_in(status: str) -> bool:
    return status == "active"
