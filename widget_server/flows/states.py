"""Legal state transitions of a registration flow, in one table.

::

    form(step 1) ─next→ form(step 2) … ─complete→ code ─verify→ done
         ↑  └────────────back────────────┘           │ ↺ resend
         └──────────── (expired: a new flow) ────────┘

``form``: collecting the schema's steps (``Flow.step`` says which).
``code``: user (``new``) and code exist; waiting for the 6 digits.
``done``: user ``active``, address ``verified``; every further POST is refused.
"""

from __future__ import annotations

from typing import Literal

from widget_server.errors import FlowStateError

State = Literal["form", "code", "done"]
Action = Literal["next", "back", "complete", "verify", "resend"]

TRANSITIONS: dict[tuple[State, Action], State] = {
    ("form", "next"): "form",
    ("form", "back"): "form",
    ("form", "complete"): "code",
    ("code", "verify"): "done",
    ("code", "resend"): "code",
}


def transition(state: str, action: Action) -> State:
    target = TRANSITIONS.get((state, action))  # type: ignore[arg-type]
    if target is None:
        raise FlowStateError("flow.completed" if state == "done" else "flow.wrong_step")
    return target
