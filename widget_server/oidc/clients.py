"""Apps as the OAuth endpoints see them, and client authentication at the token endpoint.

After a rotation with a grace period (``admin.apps.rotate_secret``) the replaced secret
is accepted too, until the grace period ends (by the services' clock).

Methods (discovery lists them): ``client_secret_basic`` and ``client_secret_post`` for
confidential apps, ``none`` for public apps (which must then prove PKCE). A confidential
app that sends no secret, a public app that sends one, and a request that uses two methods
at once are refused: each is a misconfiguration an attacker would otherwise probe.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal
from urllib.parse import unquote_plus

import msgspec

from widget_server.errors import InvalidClient, InvalidRequest
from widget_server.models import App
from widget_server.secrets_ import hmac_equal, keyed_hash
from widget_server.services import Services

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
Method = Literal["client_secret_basic", "client_secret_post", "none"]
MAX_CLIENT_ID = 64
MAX_SECRET = 256
_HASH_PURPOSE = "app-secret"


class Client(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    name: str
    kind: str
    redirect_uris: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    pool_ids: tuple[str, ...]
    scopes: tuple[str, ...]
    theme: dict[str, object]

    @property
    def public(self) -> bool:
        return self.kind == "public"


class ClientCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """What a token request presented: which method, which client id, which secret."""

    method: Method
    client_id: str
    secret: str | None


async def load_client(services: Services, client_id: str | None) -> Client | None:
    """The live (not revoked) app with this client id, or None."""
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        return None
    async with services.db.read() as session:
        app = await session.get(App, client_id)
    if app is None or app.revoked_at is not None:
        return None
    return _client(app)


def presented_credentials(
    authorization: str | None, form_client_id: str | None, form_secret: str | None
) -> ClientCredentials:
    """Which client authentication the request used (RFC 6749 §2.3.1), or InvalidRequest /
    InvalidClient when it is malformed or ambiguous."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        if form_secret is not None:
            raise InvalidRequest("use one client authentication method")
        client_id, secret = _basic(value.strip())
        if form_client_id is not None and form_client_id != client_id:
            raise InvalidClient("client_id differs from the Authorization header")
        return ClientCredentials(method="client_secret_basic", client_id=client_id, secret=secret)
    if not form_client_id:
        raise InvalidClient("client authentication missing")
    if form_secret is not None:
        return ClientCredentials(
            method="client_secret_post", client_id=form_client_id, secret=form_secret
        )
    return ClientCredentials(method="none", client_id=form_client_id, secret=None)


async def authenticate(services: Services, credentials: ClientCredentials) -> tuple[Client, str]:
    """The app the credentials prove, and its stored secret hash check; raises InvalidClient."""
    async with services.db.read() as session:
        app = await session.get(App, credentials.client_id[:MAX_CLIENT_ID])
    if app is None or app.revoked_at is not None:
        raise InvalidClient("unknown or revoked client")
    if app.kind == "public":
        if credentials.method != "none":
            raise InvalidClient("public clients authenticate with PKCE, not a secret")
        return _client(app), credentials.method
    secret = credentials.secret
    if credentials.method == "none" or secret is None or app.secret_hash is None:
        raise InvalidClient("client secret required")
    presented = client_secret_hash(services.settings.secret_key, app.id, secret[:MAX_SECRET])
    right = hmac_equal(presented, app.secret_hash)
    # Both comparisons always run, so timing does not tell which secret was close.
    previous = hmac_equal(presented, app.previous_secret_hash or "0" * 64)
    in_grace = (
        app.previous_secret_until is not None and services.clock.now() < app.previous_secret_until
    )
    if len(secret) > MAX_SECRET or not (right or (previous and in_grace)):
        raise InvalidClient("wrong client secret")
    return _client(app), credentials.method


def client_secret_hash(secret_key: str, app_id: str, secret: str) -> str:
    # Client secrets are 256 random bits: a keyed hash suffices (no password stretching),
    # and binding the app id means one app's hash never verifies another's secret.
    return keyed_hash(secret_key, _HASH_PURPOSE, app_id, secret)


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-encoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def _client(app: App) -> Client:
    return Client(
        id=app.id,
        tenant_id=app.tenant_id,
        name=app.name,
        kind=app.kind,
        redirect_uris=tuple(app.redirect_uris),
        allowed_origins=tuple(app.allowed_origins),
        pool_ids=tuple(app.pool_ids),
        scopes=tuple(app.scopes),
        theme=dict(app.theme),
    )
