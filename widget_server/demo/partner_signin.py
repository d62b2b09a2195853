"""The demo partner site's sign-in: what a partner's backend does with our tokens.

- ``/signin``: the login widget embedded (``data-flow="login"`` + ``data-client-id``); its
  ``logged-in`` event carries a one-time code, which the page posts to ``/api/exchange``.
- ``/api/exchange``: the backend exchanges the code with authlib (client secret, server to
  server) and validates the ID token against our discovery document and JWKS; the page
  shows the verified claims.
- ``/signin/redirect`` → our ``/oauth/authorize`` (PKCE, nonce, state) → ``/callback``:
  the same, for sites that cannot embed an iframe.

Pending redirect sign-ins are kept in memory by ``state`` (a demo; a real site keeps them
in its session).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from jinja2 import Environment
from litestar import Request, Response, get, post
from litestar.enums import MediaType
from litestar.params import QueryParameter
from litestar.types import ControllerRouterHandler

from widget_server.demo.relying_party import RelyingParty, relying_party

PENDING_SECONDS = 600
SCOPE = "openid email phone profile roles groups"


@dataclass(frozen=True)
class PartnerOidc:
    """The demo app's credentials, handed over by the CLI when it seeds the app."""

    client_id: str
    client_secret: str


class ExchangeRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


@dataclass
class _Pending:
    """Redirect sign-ins under way, by state: (nonce, code verifier, started)."""

    items: dict[str, tuple[str, str, float]] = field(default_factory=dict)

    def add(self, state: str, nonce: str, verifier: str) -> None:
        now = time.monotonic()
        for key in [k for k, v in self.items.items() if v[2] + PENDING_SECONDS < now]:
            del self.items[key]
        self.items[state] = (nonce, verifier, now)

    def take(self, state: str) -> tuple[str, str] | None:
        found = self.items.pop(state, None)
        return (found[0], found[1]) if found else None


def signin_handlers(
    env: Environment,
    widget_origin: str,
    partner_origin: str,
    oidc: PartnerOidc,
    pool_ids: list[str],
) -> list[ControllerRouterHandler]:
    pending = _Pending()
    callback = f"{partner_origin}/callback"

    def client() -> RelyingParty:
        return relying_party(
            widget_origin, oidc.client_id, oidc.client_secret, scope=SCOPE, timeout=10.0
        )

    def render(**context: Any) -> Response[str]:
        body = env.get_template("demo/partner_signin.html").render(
            widget_origin=widget_origin, client_id=oidc.client_id, pools=pool_ids, **context
        )
        return Response(body, media_type=MediaType.HTML, headers={"cache-control": "no-store"})

    @get("/signin")
    async def signin_page(
        pool: Annotated[str, QueryParameter(name="pool", max_length=64)] = "partner-1",
    ) -> Response[str]:
        pool_id = pool if pool in pool_ids else "partner-1"
        return render(pool_id=pool_id, claims=None, error=None)

    @post("/api/exchange", status_code=200)
    async def exchange(data: ExchangeRequest) -> Response[bytes]:
        rp = client()
        try:
            token = await rp.fetch_access_token(code=data.code)
            claims = dict(await rp.parse_id_token(token, nonce=None))
        except Exception as exc:  # shown to the demo user, whatever failed
            return _json({"error": type(exc).__name__, "detail": str(exc)[:300]}, 400)
        return _json({"claims": claims}, 200)

    @get("/signin/redirect")
    async def start_redirect(
        pool: Annotated[str, QueryParameter(name="pool", max_length=64)] = "partner-1",
        prompt: Annotated[str | None, QueryParameter(name="prompt", max_length=20)] = None,
    ) -> Response[str]:
        extra = {"prompt": prompt} if prompt in {"login", "consent"} else {}
        started = await client().create_authorization_url(
            redirect_uri=callback,
            pool=pool if pool in pool_ids else "partner-1",
            code_verifier=secrets.token_urlsafe(48),
            **extra,
        )
        pending.add(started["state"], started["nonce"], started["code_verifier"])
        return Response("", status_code=303, headers={"location": started["url"]})

    @get("/callback")
    async def finish_redirect(request: Request[Any, Any, Any]) -> Response[str]:
        params = request.query_params
        state = params.get("state") or ""
        if params.get("error"):
            pending.take(state)
            return render(pool_id="partner-1", claims=None, error=params.get("error"))
        found = pending.take(state)
        if found is None or params.get("iss") != widget_origin:
            return render(pool_id="partner-1", claims=None, error="unknown_state_or_issuer")
        nonce, verifier = found
        rp = client()
        try:
            token = await rp.fetch_access_token(
                redirect_uri=callback, code=params.get("code"), code_verifier=verifier
            )
            claims = dict(await rp.parse_id_token(token, nonce=nonce))
        except Exception as exc:  # shown to the demo user, whatever failed
            return render(pool_id="partner-1", claims=None, error=f"{type(exc).__name__}: {exc}")
        return render(pool_id=str(claims.get("pool", "partner-1")), claims=claims, error=None)

    return [signin_page, exchange, start_redirect, finish_redirect]


def _json(body: dict[str, Any], status: int) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type=MediaType.JSON,
        headers={"cache-control": "no-store"},
    )
