"""What a registration POST may carry, decoded once into a tagged union.

Control fields (flow id, CSRF token, action, password, code) are typed and bounded
here; the schema fields travel on in ``StepSubmit.fields`` for ``forms.read_step``,
which knows which of them the current step accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

import msgspec

from widget_server.errors import InvalidInput
from widget_server.forms.safety import CONTROL_FIELDS
from widget_server.messages import msg

FlowId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Ticket = Annotated[str, msgspec.Meta(min_length=1, max_length=600)]
# Bounded by the request body limit only: the password policy refuses anything over its
# hard cap (password.too_long, on the field) before hashing or comparing it.
Password = Annotated[str, msgspec.Meta(max_length=1024 * 1024)]
StepId = Annotated[str, msgspec.Meta(max_length=64)]
CodeText = Annotated[str, msgspec.Meta(max_length=32)]

CONTROL = CONTROL_FIELDS  # schemas may not name a property so (forms/safety.py)


class _Base(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="action"
):
    flow_id: FlowId
    csrf_token: Token
    #: Present while the flow is not saved yet (see ``flows.registration.flow_ticket``).
    flow_ticket: Ticket | None = None


# ``frozen=True`` repeats _Base's (msgspec inherits it) so that mypy knows it too.
class StepSubmit(_Base, frozen=True, tag="next"):
    #: The step the form was rendered for; a replay of an earlier step is refused.
    step: StepId | None = None
    password: Password | None = None
    fields: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)


class StepBack(_Base, frozen=True, tag="back"):
    step: StepId | None = None


class CodeSubmit(_Base, frozen=True, tag="verify"):
    code: CodeText = ""


class ResendCode(_Base, frozen=True, tag="resend"):
    pass


Submission = StepSubmit | StepBack | CodeSubmit | ResendCode


def decode_submission(form: Mapping[str, Sequence[str]], default_action: str) -> Submission:
    """Turn a parsed form (name → values) into one ``Submission``.

    Raises ``InvalidInput`` with ``flow.malformed`` for anything that is not one of the
    shapes above (a control field twice, an unknown action, an over-long token).
    """
    control: dict[str, object] = {"action": default_action}
    fields: dict[str, tuple[str, ...]] = {}
    for name, values in form.items():
        if name not in CONTROL:
            fields[name] = tuple(values)
            continue
        if len(values) != 1:
            raise InvalidInput({"": [msg("flow.malformed")]})
        control[name] = values[0]
    if control.get("action") == "next":
        control["fields"] = fields
    elif control.get("action") == "back":
        # Back is a button inside the step's form: the browser sends the step's fields
        # along, and going back must not depend on (or store) them.
        control.pop("password", None)
    elif fields or "password" in control:
        raise InvalidInput({"": [msg("flow.malformed")]})
    try:
        submission: Submission = msgspec.convert(control, Submission)
    except msgspec.ValidationError as exc:
        raise InvalidInput({"": [msg("flow.malformed")]}) from exc
    return submission


def hashes_password(form: Mapping[str, Sequence[str]], default_action: str) -> bool:
    """Whether this post, if it is valid, hashes a password: a step sent with one. Read
    before anything is decoded or validated, to take a place in the hashing line first."""
    action = form.get("action") or (default_action,)
    return list(action) == ["next"] and any(form.get("password", ()))
