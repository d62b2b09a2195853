"""The developer reference, generated from the code so it cannot drift.

::

    build_reference(webhook_schemas=...) -> Reference
      ├── events    contract.EVENTS: fields, versions, JSON Schemas (msgspec)
      ├── tokens    ID-token and userinfo claims (CLAIM_DOCS, scopes.CLAIMS)
      ├── errors    messages.CATALOG by prefix, OAuth error codes (errors.OAuthError)
      └── webhooks  the JSON Schema per event type, handed in by the caller

Plain data: sections of paragraphs, tables, code blocks and JSON Schemas, for the portal
to render. What the code cannot say (what a claim means) is written here beside the
code's names, and tests fail when a name appears in the code without its words here,
or stays here after the code dropped it.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

import msgspec

from widget_server import errors as domain_errors
from widget_server.developers import contract
from widget_server.messages import CATALOG
from widget_server.oidc.scopes import CLAIMS, SCOPES


class Paragraph(msgspec.Struct, frozen=True, kw_only=True, tag="paragraph"):
    #: Plain text; `backticks` mark names (render them as code).
    text: str


class Table(msgspec.Struct, frozen=True, kw_only=True, tag="table"):
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Indexes of the columns holding names (ids, fields, claims): render as code.
    code_columns: tuple[int, ...] = ()


class Code(msgspec.Struct, frozen=True, kw_only=True, tag="code"):
    #: For syntax highlighting: json, javascript, http.
    language: str
    code: str
    caption: str = ""


class Schema(msgspec.Struct, frozen=True, kw_only=True, tag="schema"):
    """A JSON Schema (draft 2020-12), to show folded or offer as a download."""

    title: str
    schema: dict[str, Any]


Block = Paragraph | Table | Code | Schema


class Section(msgspec.Struct, frozen=True, kw_only=True):
    #: A stable anchor (``events``, ``events-logged-in``, ``errors-login``).
    id: str
    title: str
    blocks: tuple[Block, ...] = ()
    sections: tuple[Section, ...] = ()


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    sections: tuple[Section, ...]

    def section(self, id: str) -> Section:
        """The section with this anchor, at any depth (KeyError if none)."""
        stack = list(self.sections)
        while stack:
            found = stack.pop()
            if found.id == id:
                return found
            stack.extend(found.sections)
        raise KeyError(id)


def build_reference(
    *, webhook_schemas: Mapping[str, Mapping[str, Any]] | None = None
) -> Reference:
    """The whole reference. ``webhook_schemas`` maps each webhook event type to the JSON
    Schema of its request body (``widget_server.webhooks.events.event_schemas()``);
    without it the webhooks section says they are not available on this server."""
    return Reference(
        sections=(
            events_section(),
            claims_section(),
            errors_section(),
            webhooks_section(webhook_schemas or {}),
        )
    )


# --- Events ----------------------------------------------------------------------------

EXAMPLE_VALUES: dict[str, object] = {
    "pool_id": "partner-1",
    "user_id": "0b7d3c1e9a2f4e5d8c6b1a0f9e8d7c6b",
    "code": "q9H3x0f2ZkR1c8VvW5m4yA",
    "height": 642,
    "reason": "origin_not_allowed",
    "origin": "https://shop.example.com",
}


def events_section() -> Section:
    overview = Table(
        columns=("event", "sent by", "DOM event on the host element", "flows", "version"),
        rows=tuple(
            (
                spec.type,
                spec.sender,
                ("yes, bubbles" if spec.bubbles else "yes, does not bubble")
                if spec.dispatched else "no (handled by embed.js)",
                ", ".join(spec.flows) or "invitation",
                str(spec.version),
            )
            for spec in contract.EVENTS
        ),
        code_columns=(0,),
    )
    return Section(
        id="events",
        title="Events (postMessage contract)",
        blocks=(
            Paragraph(text="The widget posts JSON messages to the page that embeds it, only "
                      "to that page's exact origin and only when the origin is allowed for "
                      "the pool (or app). Every message carries `v` (the format version, "
                      f"currently {contract.VERSION}) and `type`. `embed.js` accepts a "
                      "message only from the widget's origin and its own iframe, and "
                      "re-emits it as a DOM event on the host element, named by `type`, "
                      "with the message as `event.detail`; `widget-message` follows every "
                      "event. New fields and event types may appear within a version: "
                      "ignore what you do not know."),
            overview,
            Paragraph(text="Events are a signal for your page, not proof: anything running "
                      "on the page can dispatch a DOM event. Grant access only after your "
                      "backend verified a token (see Token claims)."),
        ),
        sections=tuple(_event_section(spec) for spec in contract.EVENTS),
    )


def _event_section(spec: contract.EventSpec) -> Section:
    schema = contract.event_schema(spec)
    blocks: list[Block] = [Paragraph(text=spec.summary)]
    if spec.struct is not None:
        blocks.append(_fields_table(spec, schema))
        example = {name: EXAMPLE_VALUES.get(name) for name in contract.field_names(spec)}
        example |= {"v": spec.version, "type": spec.type}
        blocks.append(Code(language="json", code=json.dumps(example, indent=2),
                           caption="event.detail"))
    if spec.dispatched:
        blocks.append(Code(language="javascript", code=_listener_example(spec)))
    blocks.append(Schema(title=f"{spec.type} (event.detail)", schema=schema))
    return Section(id=f"events-{spec.type}", title=spec.type, blocks=tuple(blocks))


def _fields_table(spec: contract.EventSpec, schema: Mapping[str, Any]) -> Table:
    required = set(schema["required"])
    rows = tuple(
        (
            name,
            _json_type(schema["properties"][name]),
            "always" if name in required else "when set",
            spec.fields[name],
        )
        for name in contract.field_names(spec)
    )
    return Table(columns=("field", "type", "present", "meaning"), rows=rows,
                 code_columns=(0, 1))


def _json_type(prop: Mapping[str, Any]) -> str:
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    return str(prop.get("type", "any"))


def _listener_example(spec: contract.EventSpec) -> str:
    return (f'document.querySelector("#signup").addEventListener({json.dumps(spec.type)}, '
            "(event) => {\n"
            "  console.log(event.detail);\n"
            "});")


# --- Token claims ----------------------------------------------------------------------

#: What each claim means; its scope comes from ``scopes.CLAIMS`` (None: every token).
#: A test compares these names with the claims oidc/tokens.py and oidc/claims.py set.
CLAIM_DOCS: dict[str, str] = {
    "iss": "Issuer: our public URL, equal to the discovery document's `issuer`.",
    "aud": "Audience: your app's client id.",
    "iat": "Issued at, in seconds since the epoch.",
    "exp": "Expiry (10 minutes after `iat`), in seconds since the epoch.",
    "auth_time": "When the user authenticated, in seconds since the epoch.",
    "amr": "How the user authenticated: `[\"pwd\"]`, `[\"pwd\", \"totp\"]` (authenticator "
    "app) or `[\"pwd\", \"otp\"]` (a code by email or text).",
    "nonce": "The `nonce` of your authorization request (redirect flow only).",
    "sid": "The widget session the login started, when there is one.",
    "sub": "The user's id: stable, never reused; the key to store.",
    "pool": "The identity pool the user belongs to.",
    "email": "The user's verified email address (unverified addresses are never released).",
    "email_verified": "Always `true` when `email` is present.",
    "phone_number": "The user's verified phone number, E.164.",
    "phone_number_verified": "Always `true` when `phone_number` is present.",
    "name": "The field the pool's claim mapping names, else given and family name joined "
    "by a space.",
    "given_name": "The field the pool's claim mapping names (e.g. `payload.given_name`).",
    "family_name": "The field the pool's claim mapping names (e.g. `payload.family_name`).",
    "middle_name": "The field the pool's claim mapping names, if any.",
    "nickname": "The field the pool's claim mapping names, if any.",
    "preferred_username": "The field the pool's claim mapping names, if any.",
    "gender": "The field the pool's claim mapping names, if any.",
    "birthdate": "The field the pool's claim mapping names, if any (`YYYY-MM-DD`).",
    "zoneinfo": "The field the pool's claim mapping names, if any.",
    "locale": "The field the pool's claim mapping names, if any.",
    "website": "The field the pool's claim mapping names, if any.",
    "roles": "Strings from the user's admin-set metadata `roles` (at most 100).",
    "groups": "Strings from the user's admin-set metadata `groups` (at most 100).",
}


def claim_scope(claim: str) -> str | None:
    return next((scope for scope, names in CLAIMS.items() if claim in names), None)


def claims_section() -> Section:
    rows = tuple(
        (
            claim,
            claim_scope(claim) or "(every ID token)",
            "ID token, userinfo" if claim_scope(claim) else "ID token",
            meaning,
        )
        for claim, meaning in CLAIM_DOCS.items()
    )
    scopes = tuple((scope, ", ".join(CLAIMS.get(scope, ()))) for scope in SCOPES)
    return Section(
        id="tokens",
        title="Token claims",
        blocks=(
            Paragraph(text="Exchange the `logged-in` code (or the redirect flow's code) at "
                      "`POST /oauth/token` with your app's secret, then validate the ID "
                      "token with a maintained OpenID Connect library: its signature "
                      "against `/.well-known/jwks.json` (ES256), `iss`, `aud` (your client "
                      "id), `exp`, and `nonce` in the redirect flow. Discovery: "
                      "`/.well-known/openid-configuration`. The access token (10 minutes) "
                      "is only for `GET /oauth/userinfo`, which answers the user claims of "
                      "the granted scopes."),
            Table(columns=("claim", "scope", "in", "meaning"), rows=rows,
                  code_columns=(0, 1)),
            Paragraph(text="Scopes an app may be granted, and the claims each releases "
                      "(`openid` is always granted):"),
            Table(columns=("scope", "claims"), rows=scopes, code_columns=(0, 1)),
        ),
    )


# --- Message ids and OAuth errors ------------------------------------------------------

#: RFC 6749 / OIDC error codes our OAuth endpoints answer, with when (a test compares
#: them with the ``OAuthError`` subclasses).
OAUTH_ERRORS: dict[str, str] = {
    "invalid_request": "A malformed or missing parameter, a repeated parameter, or two "
    "client authentication methods at once.",
    "invalid_client": "Unknown client, wrong secret or wrong authentication method (401).",
    "invalid_grant": "The code is unknown, used, expired, or bound to another client, "
    "redirect URI or PKCE verifier; or the user can no longer sign in.",
    "unauthorized_client": "The app may not use this grant or this pool.",
    "unsupported_grant_type": "Only `authorization_code` is supported.",
    "invalid_scope": "A scope that is unknown or not allowed for the app; `openid` missing.",
    "unsupported_response_type": "Only `code` is supported.",
    "access_denied": "The user (or the pool) refused.",
    "login_required": "`prompt=none`, and the user is not signed in.",
    "consent_required": "`prompt=none`, and the user has not consented to these scopes.",
}


def oauth_error_codes() -> set[str]:
    """Every ``error`` an ``OAuthError`` subclass of the domain can carry."""
    found: set[str] = set()
    stack: list[type[domain_errors.OAuthError]] = [domain_errors.OAuthError]
    while stack:
        cls = stack.pop()
        found.add(cls.error)
        stack.extend(cls.__subclasses__())
    return found


def message_groups() -> dict[str, list[str]]:
    """Message ids by prefix (the part before the first dot), in catalogue order."""
    groups: dict[str, list[str]] = {}
    for message_id in CATALOG:
        groups.setdefault(message_id.split(".", 1)[0], []).append(message_id)
    return groups


def _params(text: str) -> str:
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    return ", ".join(dict.fromkeys(names))


def errors_section() -> Section:
    groups = tuple(
        Section(
            id=f"errors-{prefix}",
            title=prefix,
            blocks=(Table(columns=("id", "English text", "parameters"),
                          rows=tuple((i, CATALOG[i], _params(CATALOG[i])) for i in ids),
                          code_columns=(0, 2)),),
        )
        for prefix, ids in message_groups().items()
    )
    oauth = Section(
        id="oauth-errors",
        title="OAuth errors",
        blocks=(
            Paragraph(text="The token and authorization endpoints answer RFC 6749 errors: "
                      "`{\"error\": ..., \"error_description\": ...}` (the description is a "
                      "hint for you, never for users)."),
            Table(columns=("error", "when"), rows=tuple(OAUTH_ERRORS.items()),
                  code_columns=(0,)),
        ),
    )
    return Section(
        id="errors",
        title="Error and message ids",
        blocks=(
            Paragraph(text="Every text the widget, the portals and the API show has a "
                      "stable message id; API errors carry it as `code` with its "
                      "`params`. Match on ids, never on the English text: themes may "
                      "re-word any id."),
        ),
        sections=(oauth, *groups),
    )


# --- Webhooks --------------------------------------------------------------------------


def webhooks_section(schemas: Mapping[str, Mapping[str, Any]]) -> Section:
    """One subsection per event type with the JSON Schema of its request body."""
    if not schemas:
        return Section(id="webhooks", title="Webhooks", blocks=(
            Paragraph(text="Webhooks are not available on this server yet."),))
    return Section(
        id="webhooks",
        title="Webhooks",
        blocks=(
            Paragraph(text="Each delivery is a signed POST following the Standard Webhooks "
                      "specification: headers `webhook-id` (the same on every retry: "
                      "use it to drop duplicates), `webhook-timestamp` and "
                      "`webhook-signature` (HMAC-SHA256 over id, timestamp and body with "
                      "your endpoint's secret). Verify with a Standard Webhooks library, "
                      "then read the body: `{\"type\", \"timestamp\", \"data\"}`."),
            Table(columns=("event type",), rows=tuple((name,) for name in schemas),
                  code_columns=(0,)),
        ),
        sections=tuple(
            Section(id=f"webhooks-{name}", title=name,
                    blocks=(Schema(title=f"{name} (request body)", schema=dict(schema)),))
            for name, schema in schemas.items()
        ),
    )
