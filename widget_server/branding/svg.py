"""What an uploaded SVG may contain: drawing, and nothing that runs or fetches.

An SVG is served from our own origin and may be opened on its own, where it is a
document: a script in it would run with our origin's rights. So a file is refused,
never silently rewritten (the designer learns what to remove), when it has:

- a DOCTYPE or entity declarations (entity expansion, external entities);
- ``<script>``, or elements that embed other documents (``foreignObject``, ``iframe``,
  ``object``, ``embed``) or handle events (SVG Tiny's ``handler``, ``listener``);
- an ``on*`` attribute (event handler), or an animation that sets one or an ``href``;
- an ``href`` / ``xlink:href`` that is not a fragment of the file itself (``#id``), a
  ``url(...)`` to anything but such a fragment, an ``@import``, or an
  ``<?xml-stylesheet?>`` instruction.

Everything is judged by local names, so a namespace prefix changes nothing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from widget_server.errors import InvalidInput
from widget_server.messages import msg

_EMBEDDING = {"foreignobject", "iframe", "object", "embed", "handler", "listener"}
_ANIMATIONS = {"set", "animate", "animatemotion", "animatetransform", "animatecolor"}
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_NUMBER = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(?:px)?\s*")


def refused(message_id: str, **params: str | int) -> InvalidInput:
    return InvalidInput({"file": [msg(message_id, "error", **params)]})


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _check_css(text: str) -> None:
    if "@import" in text.lower():
        raise refused("brand.svg_external_reference", reference="@import")
    for _quote, target in _URL.findall(text):
        if not target.strip().startswith("#"):
            raise refused("brand.svg_external_reference", reference=f"url({target[:80]})")


def _check_attribute(element: str, name: str, value: str) -> None:
    if name.startswith("on"):
        raise refused("brand.svg_event_handler", attribute=name[:40])
    if name == "href" and not value.strip().startswith("#"):
        raise refused("brand.svg_external_reference", reference=value.strip()[:80])
    if element in _ANIMATIONS and name == "attributename":
        target = _local(value.strip())
        if target == "href" or target.startswith("on"):
            raise refused("brand.svg_event_handler", attribute=f"{element} {target}"[:40])
    if "url(" in value.lower() or name == "style":
        _check_css(value)


def check_svg(data: bytes) -> tuple[int | None, int | None]:
    """Refuse (``InvalidInput`` on ``file``) an SVG that could run or fetch anything;
    return its width and height when it states them in pixels."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refused("brand.svg_invalid") from None
    lowered = text.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise refused("brand.svg_doctype")
    if "<?xml-stylesheet" in lowered:
        raise refused("brand.svg_external_reference", reference="xml-stylesheet")
    try:
        root = ET.fromstring(text)  # noqa: S314 (no DOCTYPE: nothing to expand or fetch)
    except ET.ParseError:
        raise refused("brand.svg_invalid") from None
    if _local(root.tag) != "svg":
        raise refused("brand.svg_invalid")
    for element in root.iter():
        name = _local(str(element.tag))
        if name == "script":
            raise refused("brand.svg_script")
        if name in _EMBEDDING:
            raise refused("brand.svg_foreign_object")
        if name == "style":
            _check_css("".join(element.itertext()))
        for attribute, value in element.attrib.items():
            _check_attribute(name, _local(attribute), value)
    return _pixels(root.get("width")), _pixels(root.get("height"))


def _pixels(value: str | None) -> int | None:
    match = _NUMBER.fullmatch(value or "")
    return round(float(match[1])) if match else None
