"""The snippet generator of the developer portal: a request in, one snippet out.

::

    SnippetRequest ──check()──> SnippetValues ──> frontend.* / backend.*  → code
                                              └─> csp.frontend_csp        → Csp
                                              └─> _notes                  → (Msg, …)

Pure: no HTTP, no database. The portal fills the request from the live configuration
(our public URL, the pool, the app) and renders the ``Snippet``. Every value lands in
the code through the escaper of its language (``literals.py``), so the generator is safe
on its own, whatever the portal checked before. Bad input is ``InvalidInput`` with a
message id per field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal

import msgspec

from widget_server.developers import backend, frontend
from widget_server.developers.csp import Csp, frontend_csp
from widget_server.developers.values import (
    CODE_CALLBACK_PATH,
    SECRET_VARIABLE,
    SnippetValues,
)
from widget_server.errors import InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.shared.security import normalise_origin

Flow = Literal["register", "login", "account", "recover"]
ColorScheme = Literal["auto", "light", "dark"]
AppKind = Literal["confidential", "public"]
Framework = Literal[
    "html-script",
    "html-iframe",
    "react",
    "vue",
    "svelte",
    "angular",
    "nextjs",
    "backend-python",
    "backend-node",
    "backend-go",
]

#: In the order the portal offers them, with their labels.
FRAMEWORKS: Final[dict[str, str]] = {
    "html-script": "HTML (script tag)",
    "html-iframe": "HTML (plain iframe)",
    "react": "React",
    "vue": "Vue 3",
    "svelte": "Svelte 5",
    "angular": "Angular",
    "nextjs": "Next.js (App Router)",
    "backend-python": "Backend: Python (authlib)",
    "backend-node": "Backend: Node (openid-client)",
    "backend-go": "Backend: Go (go-oidc)",
}
FLOWS: Final = ("register", "login", "account", "recover")
BACKENDS: Final = frozenset({"backend-python", "backend-node", "backend-go"})
MAX_VALUE: Final = 255

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_VALUE)]


class SnippetRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the developer chose, filled with the live configuration."""

    #: Our public URL (``Settings.public_url``): an origin, ``https://id.acme.example``.
    public_url: Text
    pool_id: Text
    flow: Flow = "register"
    #: An app's client id: its origins, its login code.
    client_id: Text | None = None
    app_kind: AppKind | None = None
    color_scheme: ColorScheme = "auto"
    locale: Text | None = None
    framework: Framework = "html-script"


class Snippet(msgspec.Struct, frozen=True, kw_only=True):
    framework: str
    #: For syntax highlighting: html, jsx, vue, svelte, typescript, python, javascript, go.
    language: str
    #: A file name to save it as.
    filename: str
    code: str
    #: What to know before pasting, as messages (``Msg.text()`` renders them).
    notes: tuple[Msg, ...]
    csp: Csp


def parse_request(raw: Mapping[str, Any]) -> SnippetRequest:
    """A request from submitted values (form fields or JSON); ``InvalidInput`` naming the
    field on a wrong type, an unknown choice or an unknown field."""
    try:
        return msgspec.convert(dict(raw), SnippetRequest, str_keys=True)
    except msgspec.ValidationError as exc:
        raise InvalidInput({_field_of(str(exc)): [msg("snippet.value_invalid")]}) from exc


def _field_of(error: str) -> str:
    """The field a msgspec error names: "... - at `$.flow`", "unknown field `secret`"."""
    match = re.search(r"`\$\.(\w+)|unknown field `(\w+)`", error)
    return next((g for g in match.groups() if g), "") if match else ""


def generate(request: SnippetRequest) -> Snippet:
    """The snippet for ``request``; ``InvalidInput`` when it cannot be made."""
    values = check(request)
    render = _RENDERERS[request.framework]
    language, filename, code = render(values)
    if request.framework in BACKENDS:
        csp = Csp()
    else:
        pasted = code if request.framework.startswith("html-") else None
        csp = frontend_csp(values, pasted, loads_script=request.framework != "html-iframe")
    return Snippet(
        framework=request.framework,
        language=language,
        filename=filename,
        code=code,
        notes=_notes(request, values),
        csp=csp,
    )


def check(request: SnippetRequest) -> SnippetValues:
    """The request's values, checked: a Struct built in code skips msgspec's checks, so
    they are repeated here, with the rules that span fields."""
    errors: dict[str, list[Msg]] = {}
    origin = normalise_origin(request.public_url)
    if origin is None:
        errors["public_url"] = [msg("snippet.public_url_invalid")]
    for name in ("pool_id", "client_id", "locale"):
        value = getattr(request, name)
        if value is not None and not _plain_text(value):
            errors[name] = [msg("snippet.value_invalid")]
    if request.flow not in FLOWS or request.framework not in FRAMEWORKS:
        errors["flow" if request.flow not in FLOWS else "framework"] = [
            msg("snippet.value_invalid")
        ]
    if request.framework in BACKENDS:
        if request.client_id is None:
            errors["client_id"] = [msg("snippet.client_id_required")]
        elif request.app_kind == "public":
            errors["app_kind"] = [msg("snippet.backend_needs_secret")]
    if errors or origin is None:
        raise InvalidInput(errors)
    return SnippetValues(
        base=request.public_url.rstrip("/"),
        origin=origin,
        pool_id=request.pool_id,
        flow=request.flow,
        client_id=request.client_id,
        public_app=request.app_kind == "public",
        color_scheme=None if request.color_scheme == "auto" else request.color_scheme,
        locale=request.locale,
    )


def _plain_text(value: str) -> bool:
    """Non-empty, not too long, and encodable: a lone surrogate cannot be written into a
    UTF-8 page or file at all. Anything else (quotes, ``</script>``, newlines) is the
    escapers' business."""
    if not 0 < len(value) <= MAX_VALUE:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _notes(request: SnippetRequest, values: SnippetValues) -> tuple[Msg, ...]:
    notes: list[Msg] = []
    if request.framework in BACKENDS:
        notes.append(msg("snippet.note.secret", "info", variable=SECRET_VARIABLE))
        notes.append(msg("snippet.note.callback", "info", path=CODE_CALLBACK_PATH))
        if request.flow != "login":
            notes.append(msg("snippet.note.code_from_login", "info"))
        return tuple(notes)
    notes.append(msg("snippet.note.allow_origin", "info", pool=request.pool_id))
    if request.framework == "html-iframe":
        notes.append(msg("snippet.note.iframe", "info"))
    elif values.exchanges_code:
        notes.append(msg("snippet.note.code_exchange", "info", path=CODE_CALLBACK_PATH))
    if values.sends_client_id and values.public_app:
        notes.append(msg("snippet.note.public_app", "info"))
    if request.client_id is not None and not values.sends_client_id:
        notes.append(msg("snippet.note.client_id_unused", "info", flow=request.flow))
    notes.append(msg("snippet.note.events_are_hints", "info"))
    if request.framework != "html-iframe":
        notes.append(msg("snippet.note.csp", "info"))
    return tuple(notes)


Renderer = Callable[[SnippetValues], tuple[str, str, str]]


def _component(values: SnippetValues, ext: str) -> str:
    return values.component + ext


_RENDERERS: dict[str, Renderer] = {
    "html-script": lambda v: ("html", f"{v.element_id}.html", frontend.script_tag(v)),
    "html-iframe": lambda v: ("html", f"{v.element_id}-iframe.html", frontend.iframe(v)),
    "react": lambda v: ("jsx", _component(v, ".jsx"), frontend.react(v)),
    "nextjs": lambda v: ("jsx", _component(v, ".jsx"), frontend.react(v, next_client=True)),
    "vue": lambda v: ("vue", _component(v, ".vue"), frontend.vue(v)),
    "svelte": lambda v: ("svelte", _component(v, ".svelte"), frontend.svelte(v)),
    "angular": lambda v: ("typescript", f"{v.element_id}.component.ts", frontend.angular(v)),
    "backend-python": lambda v: ("python", "widget_server_login.py", backend.python(v)),
    "backend-node": lambda v: ("javascript", "widget-server-login.mjs", backend.node(v)),
    "backend-go": lambda v: ("go", "widgetserver.go", backend.go(v)),
}
