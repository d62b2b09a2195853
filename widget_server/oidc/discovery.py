"""The discovery document (OpenID Connect Discovery 1.0 §3), built from settings only."""

from __future__ import annotations

from typing import Any

from widget_server.oidc.clients import AUTH_METHODS
from widget_server.oidc.keys import ALG
from widget_server.oidc.scopes import CLAIMS, SCOPES
from widget_server.oidc.tokens import issuer
from widget_server.services import Services

#: Claims every ID token carries, besides the per-scope ones.
_BASE_CLAIMS = ("iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid")


def document(services: Services) -> dict[str, Any]:
    base = issuer(services)
    per_scope = [claim for scope in SCOPES for claim in CLAIMS[scope]]
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "userinfo_endpoint": f"{base}/oauth/userinfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALG],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPES),
        "claims_supported": sorted(set(_BASE_CLAIMS) | set(per_scope)),
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
