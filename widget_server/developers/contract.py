"""The postMessage contract between the widget and the partner page, in one table.

::

    widget page (iframe) ── widget.js posts {…payload, v: 1} to the verified parent origin
        resize                        → embed.js sizes the iframe (never re-emitted)
        registered, logged-in, …      → embed.js dispatches a DOM event of that type on
                                        the host element, then "widget-message"
    embed.js itself
        error                         → the widget cannot be shown on this page

The payloads the server renders are the widget's own Structs (imported below, so a
renamed field changes this contract too); the two that exist only in JavaScript
(``resize`` in static/widget.js, ``error`` in static/embed.js) are defined here, and a
test reads the scripts to keep them equal. Snippets and the developer reference are
both built from ``EVENTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec

from widget_server.web.widget.invitation_views import ActivatedEvent
from widget_server.web.widget.login_views import LoggedInEvent, LoggedOutEvent
from widget_server.web.widget.registration_views import CloseEvent, RegisteredEvent

#: The message format version widget.js stamps on every message (``v``).
VERSION: Final = 1

ErrorReason = Literal[
    "origin_not_allowed",
    "origin_missing",
    "unknown_pool",
    "frame_blocked",
    "storage_blocked",
    "storage_access_denied",
]

Sender = Literal["widget", "embed.js"]


class ResizeMessage(msgspec.Struct, frozen=True, kw_only=True):
    """The widget page's height; embed.js sizes the iframe from it."""

    v: Literal[1] = 1
    type: Literal["resize"] = "resize"
    height: int


class ErrorEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The widget cannot be shown on this page; embed.js shows a fallback instead."""

    v: Literal[1] = 1
    type: Literal["error"] = "error"
    reason: ErrorReason
    origin: str


#: A payload Struct class (a module-level alias: inside EventSpec, ``type`` is a field).
StructClass = type[msgspec.Struct]


@dataclass(frozen=True)
class EventSpec:
    """One message of the contract, as partners see it."""

    type: str
    #: The payload's Struct; None for ``widget-message``, whose detail is another event's.
    struct: StructClass | None
    sender: Sender
    #: Whether embed.js dispatches it as a DOM event on the host element.
    dispatched: bool
    bubbles: bool
    #: The snippet flows that send it (``/embed/{pool}/<flow>``).
    flows: tuple[str, ...]
    summary: str
    #: Every field of the detail object (``v`` included), with what it means.
    fields: Mapping[str, str] = field(default_factory=dict)
    version: int = VERSION


_V = "Message format version (currently 1)."
_TYPE = "The event name, the same as the DOM event's type."
_POOL = "The identity pool the widget belongs to."

EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        type="registered",
        struct=RegisteredEvent,
        sender="widget",
        dispatched=True,
        bubbles=True,
        flows=("register",),
        summary="The user finished registration (the account may still need activation "
        "by code when the pool asks for one, which the same flow does next).",
        fields={"v": _V, "type": _TYPE, "pool_id": _POOL, "user_id": "The new user's id "
                "(the ID token's `sub` once they log in)."},
    ),
    EventSpec(
        type="close",
        struct=CloseEvent,
        sender="widget",
        dispatched=True,
        bubbles=True,
        flows=("register",),
        summary="The person clicked \"Close\" after registering (offered when the pool or "
        "app sets `after_registration: {\"action\": \"close\"}`): remove or hide the widget.",
        fields={"v": _V, "type": _TYPE, "pool_id": _POOL},
    ),
    EventSpec(
        type="logged-in",
        struct=LoggedInEvent,
        sender="widget",
        dispatched=True,
        bubbles=True,
        flows=("login",),
        summary="The user logged in. With an app's client id, `code` is a one-time "
        "authorization code (single use, 60 s) for the app's backend to exchange at "
        "POST /oauth/token; it is posted only to the app's exact allowed origin.",
        fields={"v": _V, "type": _TYPE, "pool_id": _POOL, "code": "Present only for an "
                "app's login (data-client-id): the code to exchange on your backend."},
    ),
    EventSpec(
        type="logged-out",
        struct=LoggedOutEvent,
        sender="widget",
        dispatched=True,
        bubbles=True,
        flows=("login", "account"),
        summary="The user signed out in the widget; their session has ended.",
        fields={"v": _V, "type": _TYPE, "pool_id": _POOL},
    ),
    EventSpec(
        type="activated",
        struct=ActivatedEvent,
        sender="widget",
        dispatched=True,
        bubbles=True,
        flows=(),
        summary="An invited user activated their account (the invitation page, when it "
        "is embedded).",
        fields={"v": _V, "type": _TYPE, "pool_id": _POOL, "user_id": "The user's id."},
    ),
    EventSpec(
        type="resize",
        struct=ResizeMessage,
        sender="widget",
        dispatched=False,
        bubbles=False,
        flows=("register", "login", "account", "recover"),
        summary="The widget page's height changed. embed.js sizes the iframe from it "
        "(clamped to 100-4000 px) and does not re-emit it; a plain iframe ignores it.",
        fields={"v": _V, "type": _TYPE, "height": "The page height in CSS pixels."},
    ),
    EventSpec(
        type="error",
        struct=ErrorEvent,
        sender="embed.js",
        dispatched=True,
        bubbles=False,
        flows=("register", "login", "account", "recover"),
        summary="The widget cannot be shown on this page; embed.js replaces the frame with "
        "a notice and a button that opens the flow in a popup. Does not bubble.",
        fields={
            "v": _V,
            "type": _TYPE,
            "reason": "origin_not_allowed: this page's origin is not allowed for the pool "
            "or app; origin_missing: the widget could not tell the page's origin; "
            "unknown_pool: no such pool; frame_blocked: the browser refused or hid the "
            "frame for another reason (an extension, a policy). For login and account, "
            "when the browser blocks even partitioned cookies in the frame: "
            "storage_access_denied: the widget asked through the Storage Access API on a "
            "click and was refused; storage_blocked: it could not ask (no such API) or the "
            "grant still kept no cookie. The popup then keeps the session first-party.",
            "origin": "This page's origin, as the widget saw it: the one to allow.",
        },
    ),
    EventSpec(
        type="widget-message",
        struct=None,
        sender="embed.js",
        dispatched=True,
        bubbles=True,
        flows=("register", "login", "account", "recover"),
        summary="Dispatched after every other event (error included), with the same detail: "
        "one listener that sees them all, newer types included.",
    ),
)

BY_TYPE: dict[str, EventSpec] = {spec.type: spec for spec in EVENTS}


def field_names(spec: EventSpec) -> tuple[str, ...]:
    """The detail's fields in order: ``v`` and ``type`` first, as widget.js sends them."""
    if spec.struct is None:
        return ()
    names = [name for name in spec.struct.__struct_fields__ if name not in {"v", "type"}]
    return ("v", "type", *names)


def optional_fields(spec: EventSpec) -> frozenset[str]:
    """Fields left out of the message when they have no value (a ``None`` default: the
    views drop ``None`` rather than send ``null``)."""
    if spec.struct is None:
        return frozenset()
    defaults = dict(zip(reversed(spec.struct.__struct_fields__),
                        reversed(spec.struct.__struct_defaults__), strict=False))
    return frozenset(name for name, default in defaults.items() if default is None)


def dom_events(flow: str) -> tuple[str, ...]:
    """The DOM events a snippet of ``flow`` may listen to, ``error`` last."""
    found = [s.type for s in EVENTS if s.dispatched and s.struct is not None and flow in s.flows]
    return (*(t for t in found if t != "error"), "error")


def event_schema(spec: EventSpec) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the event's ``detail`` object."""
    if spec.struct is None:
        others = [{"$ref": f"#/$defs/{s.type}"} for s in EVENTS if s.dispatched and s.struct]
        # "$schema" belongs at the root only.
        defs = {s.type: {k: v for k, v in event_schema(s).items() if k != "$schema"}
                for s in EVENTS if s.dispatched and s.struct}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": spec.type,
            "description": spec.summary,
            "oneOf": others,
            "$defs": defs,
        }
    generated: dict[str, Any] = msgspec.json.schema(spec.struct)
    body = generated["$defs"][spec.struct.__name__]
    optional = optional_fields(spec)
    properties: dict[str, Any] = {
        "v": {"const": spec.version, "description": spec.fields["v"]},
        "type": {"const": spec.type, "description": spec.fields["type"]},
    }
    for name in field_names(spec)[2:]:
        prop = dict(body["properties"][name])
        if name in optional:
            # Absent rather than null: the schema says what a present value looks like.
            prop = next(p for p in prop.pop("anyOf") if p != {"type": "null"}) | prop
            prop.pop("default", None)
        properties[name] = prop | {"description": spec.fields[name]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": spec.type,
        "description": spec.summary,
        "type": "object",
        "properties": properties,
        "required": [n for n in field_names(spec) if n not in optional],
    }
