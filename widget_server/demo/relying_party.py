"""A partner's backend, as authlib (a real OpenID Connect client, not our code) builds it:
discovery, the authorization URL with PKCE and nonce, the code exchange, and ID-token
validation against our JWKS (signature, iss, aud, exp, nonce).

The demo partner site uses it to turn a ``logged-in`` code into verified claims, and the
tests use it to drive the provider the way any partner would.
"""

from __future__ import annotations

import warnings
from typing import Any

from authlib.integrations.base_client import BaseApp
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx; httpx
    # (already a dependency through Litestar) is what it then uses, unchanged.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client


class RelyingParty(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):  # type: ignore[misc]
    """authlib's framework-free OpenID Connect client (what its Starlette integration is,
    without Starlette)."""

    client_cls = AsyncOAuth2Client


def relying_party(
    issuer: str,
    client_id: str,
    client_secret: str | None,
    *,
    scope: str = "openid email",
    auth_method: str = "client_secret_basic",
    **client_kwargs: Any,
) -> RelyingParty:
    """A client of ``issuer`` (discovery at ``/.well-known/openid-configuration``), PKCE S256
    always; ``client_kwargs`` go to the httpx client (a ``transport`` in tests)."""
    return RelyingParty(
        None,
        name=client_id,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": auth_method,
            **client_kwargs,
        },
    )
