"""Form nodes: what a template needs to draw one field, and nothing about any pool."""

from __future__ import annotations

from typing import Literal

import msgspec

from widget_server.messages import Msg, msg

NodeType = Literal["input", "textarea", "select", "radio", "checkbox", "hidden", "submit"]


class Option(msgspec.Struct, frozen=True, kw_only=True):
    value: str
    label: str


class FormNode(msgspec.Struct, frozen=True, kw_only=True):
    """One control. ``attributes`` go verbatim (escaped) onto the control element.

    ``attributes`` must not repeat what the template writes itself (id, name, type, value,
    class, required, aria-*): the browser would keep only the first of two duplicates.
    """

    type: NodeType
    name: str
    input_type: str = "text"
    label: str | None = None
    help: str | None = None
    required: bool = False
    value: str | bool | None = None
    options: tuple[Option, ...] = ()
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    messages: tuple[Msg, ...] = ()
    rules: tuple[Msg, ...] = ()


# Texts the partials draw themselves. They are Msgs, not strings, so a theme's ``copy`` can
# re-word them through ``t``; the caller adds these to the Jinja environment's globals.
TEMPLATE_GLOBALS: dict[str, Msg] = {
    "ws_optional": msg("form.optional", level="info"),
    "ws_choose": msg("form.choose", level="info"),
}
