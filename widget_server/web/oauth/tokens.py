"""OpenID Connect machine endpoints: discovery, JWKS, token, userinfo.

=========================  ======  ===============================================
error (token endpoint)     status  notes
=========================  ======  ===============================================
invalid_request            400     malformed body, repeated parameter, two auth methods
invalid_client             401     ``WWW-Authenticate: Basic`` when Basic was tried
invalid_grant              400     unknown/used/expired code, wrong client/verifier/URI
unsupported_grant_type     400     only ``authorization_code``
=========================  ======  ===============================================

Every token answer is ``Cache-Control: no-store``. Discovery and JWKS are public, cached
(JWKS briefly, so a rotation is picked up) and readable cross-origin.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post, route
from litestar.enums import MediaType

from widget_server.errors import (
    InvalidClient,
    InvalidRequest,
    MalformedInput,
    OAuthError,
    UnsupportedGrantType,
)
from widget_server.oidc import discovery
from widget_server.oidc.clients import Client, authenticate, presented_credentials
from widget_server.oidc.codes import redeem_code
from widget_server.oidc.keys import KeyRing
from widget_server.oidc.tokens import tokens_for_code, userinfo_claims
from widget_server.services import Services
from widget_server.web.shared.context import web_context
from widget_server.web.shared.request_io import parse_url_encoded

MAX_FORM_FIELDS = 20
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
_PUBLIC = {"access-control-allow-origin": "*"}


def key_ring(request: Request[Any, Any, Any]) -> KeyRing:
    keys: KeyRing = request.app.state.oidc_keys
    return keys


def _services(request: Request[Any, Any, Any]) -> Services:
    return web_context(request).services


@get("/.well-known/openid-configuration")
async def openid_configuration(request: Request[Any, Any, Any]) -> Response[bytes]:
    document = discovery.document(_services(request))
    return Response(
        msgspec.json.encode(document),
        media_type=MediaType.JSON,
        headers={"cache-control": "public, max-age=3600", **_PUBLIC},
    )


@get("/.well-known/jwks.json")
async def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    keys = await key_ring(request).public_keys()
    return Response(
        msgspec.json.encode({"keys": keys}),
        media_type="application/jwk-set+json",
        # Short: clients refetch soon after a rotation (old keys stay published meanwhile).
        headers={"cache-control": "public, max-age=300", **_PUBLIC},
    )


@post("/oauth/token", status_code=200)
async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = _services(request)
    basic = request.headers.get("authorization", "").lower().startswith("basic ")
    client: Client | None = None
    try:
        form = await _form(request)
        credentials = presented_credentials(
            request.headers.get("authorization"), form.get("client_id"), form.get("client_secret")
        )
        client, _method = await authenticate(services, credentials)
        if form.get("grant_type") != "authorization_code":
            raise UnsupportedGrantType("only authorization_code")
        code = form.get("code")
        if not code or len(code) > 128:
            raise InvalidRequest("code is required")
        redeemed = await redeem_code(
            services,
            code=code,
            client_id=client.id,
            redirect_uri=form.get("redirect_uri"),
            code_verifier=form.get("code_verifier"),
            public_client=client.public,
        )
        answer = await tokens_for_code(services, key_ring(request), client, redeemed)
    except OAuthError as exc:
        return _token_error(request, exc, basic, client)
    return Response(
        msgspec.json.encode(answer),
        media_type=MediaType.JSON,
        headers=NO_STORE | _cors(request, client),
    )


@route("/oauth/userinfo", http_method=["GET", "POST"], status_code=200)
async def userinfo(request: Request[Any, Any, Any]) -> Response[bytes]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    claims = None
    if scheme.lower() == "bearer" and value.strip():
        claims = await userinfo_claims(_services(request), key_ring(request), value.strip())
    if claims is None:
        return Response(
            msgspec.json.encode({"error": "invalid_token"}),
            status_code=401,
            media_type=MediaType.JSON,
            headers=NO_STORE
            | _PUBLIC
            | {"www-authenticate": 'Bearer realm="widget-server", error="invalid_token"'},
        )
    return Response(
        msgspec.json.encode(claims), media_type=MediaType.JSON, headers=NO_STORE | _PUBLIC
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The body as form fields; each field at most once (RFC 6749 §3.2)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise InvalidRequest("malformed body")
    try:
        # Strict UTF-8 after %-decoding too: no U+FFFD standing in for a byte.
        fields = parse_url_encoded(body)
    except MalformedInput:
        raise InvalidRequest("malformed body: not UTF-8") from None
    form: dict[str, str] = {}
    for name, values in fields.items():
        if len(values) > 1:
            raise InvalidRequest(f"{name[:40]} is repeated")
        form[name] = values[0]
    return form


def _token_error(
    request: Request[Any, Any, Any], exc: OAuthError, basic: bool, client: Client | None
) -> Response[bytes]:
    status = 401 if isinstance(exc, InvalidClient) else 400
    headers = NO_STORE | _cors(request, client)
    if status == 401 and basic:
        headers["www-authenticate"] = 'Basic realm="widget-server"'
    body = {"error": exc.error} | (
        {"error_description": exc.description} if exc.description else {}
    )
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=MediaType.JSON, headers=headers
    )


def _cors(request: Request[Any, Any, Any], client: Client | None) -> dict[str, str]:
    """Browser apps (public clients) read the answer only from one of their own origins."""
    origin = request.headers.get("origin")
    if client is None or origin is None or origin not in client.allowed_origins:
        return {}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


HANDLERS = [openid_configuration, jwks, token, userinfo]
