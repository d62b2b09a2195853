"""The authorization endpoint's decisions, without HTTP.

::

    GET /oauth/authorize ──check_client──> RedirectRefused (error page, no redirect)
         │ read_request ──> OAuthError (redirected to the client with error + state)
         ├─ no live session (or prompt=login / max_age passed) ──> login flow
         │        /embed/{pool}/login?flow=… ──> /oauth/authorize/continue?flow=…
         ├─ scopes not granted before (or prompt=consent) ──> consent flow
         │        /oauth/consent?flow=… ── allow ──> code / deny ──> access_denied
         └─ otherwise ──> redirect_uri?code=…&state=…&iss=…

The client and its redirect URI are checked first, exactly (``oidc.redirects``); only
then may anything go back to ``redirect_uri``. The validated request is stored on a flow
(``Flow.oauth``) while the user logs in or decides, so nothing of it travels through the
browser a second time, and a flow is deleted when its code is issued (single use).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import msgspec
from sqlalchemy import delete, select

from widget_server import secrets_
from widget_server.auth.sessions import SessionView
from widget_server.errors import (
    FlowExpired,
    FlowNotFound,
    InvalidRequest,
    PoolNotFound,
    RedirectRefused,
    UnsupportedResponseType,
)
from widget_server.models import Consent, Flow
from widget_server.oidc.clients import Client, load_client
from widget_server.oidc.codes import check_challenge, issue_code
from widget_server.oidc.redirects import matches_registered
from widget_server.oidc.scopes import parse_scope, scope_string
from widget_server.oidc.tokens import issuer
from widget_server.services import Services
from widget_server.upsert import insert_ignoring_conflict

LOGIN_KIND = "login"
CONSENT_KIND = "consent"
PROMPTS = frozenset({"none", "login", "consent"})
MAX_STATE = 500
MAX_NONCE = 255


class AuthorizationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A validated request, as stored on a flow while the user logs in or decides."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    pool_id: str
    prompt: tuple[str, ...] = ()
    max_age: int | None = None


def single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """One value of a parameter; a repeated parameter is malformed (RFC 6749 §3.1)."""
    values = params.get(name) or []
    if len(values) > 1:
        raise InvalidRequest(f"{name} is repeated")
    return values[0] if values else None


async def check_client(
    services: Services, params: Mapping[str, Sequence[str]]
) -> tuple[Client, str]:
    """The client and its redirect URI, or RedirectRefused: nothing may be redirected
    before both are known to be exact, registered values."""
    try:
        client_id, redirect_uri = single(params, "client_id"), single(params, "redirect_uri")
    except InvalidRequest:
        raise RedirectRefused(
            "oauth.invalid_client", "repeated client_id or redirect_uri"
        ) from None
    client = await load_client(services, client_id)
    if client is None:
        raise RedirectRefused("oauth.invalid_client", "unknown client")
    if not matches_registered(redirect_uri, client.redirect_uris):
        raise RedirectRefused("oauth.invalid_redirect_uri", "redirect_uri not registered")
    assert redirect_uri is not None
    return client, redirect_uri


def read_request(
    client: Client, redirect_uri: str, params: Mapping[str, Sequence[str]]
) -> AuthorizationRequest:
    """The rest of the request, checked; errors from here on go back to the client."""
    if single(params, "response_type") != "code":
        raise UnsupportedResponseType("only response_type=code")
    if single(params, "request") is not None or single(params, "request_uri") is not None:
        raise InvalidRequest("request objects are not supported")
    if single(params, "response_mode") not in (None, "query"):
        raise InvalidRequest("only response_mode=query")
    scope = parse_scope(single(params, "scope"), client.scopes)
    challenge = single(params, "code_challenge")
    method = single(params, "code_challenge_method")
    if challenge is not None and method is None:
        method = "plain"  # RFC 7636 §4.3's default, which check_challenge refuses
    check_challenge(challenge, method)
    if client.public and challenge is None:
        raise InvalidRequest("public clients must use PKCE (S256)")
    state, nonce = single(params, "state"), single(params, "nonce")
    if (state and len(state) > MAX_STATE) or (nonce and len(nonce) > MAX_NONCE):
        raise InvalidRequest("state or nonce too long")
    return AuthorizationRequest(
        client_id=client.id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method=method if challenge else None,
        pool_id=_pool(client, single(params, "pool")),
        prompt=_prompt(single(params, "prompt")),
        max_age=_max_age(single(params, "max_age")),
    )


def _pool(client: Client, asked: str | None) -> str:
    if asked is None:
        if len(client.pool_ids) != 1:
            raise InvalidRequest("pool is required: this app accepts several pools")
        return client.pool_ids[0]
    if asked not in client.pool_ids:
        raise InvalidRequest("this app does not accept that pool")
    return asked


async def check_pool(services: Services, client: Client, pool_id: str) -> None:
    """The pool still exists and belongs to the app's tenant (an app keeps its pool ids
    if a pool is deleted)."""
    try:
        pool = await services.pools.get(pool_id)
    except PoolNotFound:
        raise InvalidRequest("this app's pool no longer exists") from None
    if pool.tenant_id != client.tenant_id:
        raise InvalidRequest("this app's pool no longer exists")


def _prompt(value: str | None) -> tuple[str, ...]:
    prompts = tuple(sorted(set((value or "").split()) - {""}))
    if not set(prompts) <= PROMPTS or ("none" in prompts and len(prompts) > 1):
        raise InvalidRequest("prompt must be none, login or consent")
    return prompts


def _max_age(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise InvalidRequest("max_age must be a number of seconds")
    return int(value)


def session_fresh_enough(
    request: AuthorizationRequest, session: SessionView, now: datetime
) -> bool:
    if request.max_age is None:
        return True
    return session.created_at + timedelta(seconds=request.max_age) >= now


# --- redirects back to the client ---------------------------------------------------------


def client_redirect(services: Services, request_uri: str, state: str | None, **params: str) -> str:
    """``redirect_uri`` with the answer in its query; ``iss`` per RFC 9207 (mix-up defence)."""
    answer = (
        dict(params) | ({"state": state} if state is not None else {}) | {"iss": issuer(services)}
    )
    separator = "&" if "?" in request_uri else "?"
    return request_uri + separator + urlencode(answer)


def error_redirect(
    services: Services, redirect_uri: str, state: str | None, error: str, description: str = ""
) -> str:
    extra = {"error_description": description[:200]} if description else {}
    return client_redirect(services, redirect_uri, state, error=error, **extra)


# --- consent ------------------------------------------------------------------------------


async def granted_scopes(services: Services, user_id: str, app_id: str) -> tuple[str, ...]:
    async with services.db.read() as session:
        scopes = await session.scalar(
            select(Consent.scopes).where(Consent.user_id == user_id, Consent.app_id == app_id)
        )
    return tuple(scopes or ())


async def needs_consent(
    services: Services, request: AuthorizationRequest, user_id: str
) -> tuple[str, ...]:
    """The requested scopes the user has not granted this app (all of them on
    ``prompt=consent``); empty when the code can be issued right away."""
    if "consent" in request.prompt:
        return request.scope
    granted = set(await granted_scopes(services, user_id, request.client_id))
    return tuple(s for s in request.scope if s not in granted)


async def record_consent(
    services: Services, user_id: str, app_id: str, scopes: Sequence[str]
) -> None:
    """Store (or extend) what the user granted; never narrows an earlier grant."""
    now = services.clock.now()
    async with services.db.write() as session:
        row = (
            await session.execute(
                select(Consent).where(Consent.user_id == user_id, Consent.app_id == app_id)
            )
        ).scalar_one_or_none()
        if row is None:
            values = {
                "id": secrets_.new_id(),
                "user_id": user_id,
                "app_id": app_id,
                "scopes": sorted(set(scopes)),
                "granted_at": now,
            }
            if await insert_ignoring_conflict(session, Consent, values, ("user_id", "app_id")):
                return
            row = (
                await session.execute(
                    select(Consent).where(Consent.user_id == user_id, Consent.app_id == app_id)
                )
            ).scalar_one()
        row.scopes = sorted(set(row.scopes or ()) | set(scopes))
        row.granted_at = now


# --- flows holding a request --------------------------------------------------------------


async def save_flow(
    services: Services,
    kind: str,
    request: AuthorizationRequest,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
) -> str:
    """Store the request on a new flow; a login flow also says where to continue."""
    flow_id = secrets_.new_token()
    now = services.clock.now()
    oauth: dict[str, Any] = msgspec.to_builtins(request)
    if kind == LOGIN_KIND:
        oauth["continue"] = f"/oauth/authorize/continue?flow={flow_id}"
    async with services.db.write() as session:
        session.add(
            Flow(
                id=flow_id,
                kind=kind,
                pool_id=request.pool_id,
                state="form",
                step="",
                data={"session_id": session_id} if session_id else {},
                password_hash=None,
                parent_origin=None,
                app_id=request.client_id,
                oauth=oauth,
                user_id=user_id,
                address=None,
                expires_at=now + timedelta(seconds=services.settings.flow_ttl_seconds),
                created_at=now,
                updated_at=now,
            )
        )
    return flow_id


async def load_flow(services: Services, flow_id: str | None, kind: str) -> Flow:
    if not flow_id or len(flow_id) > 64:
        raise FlowNotFound()
    async with services.db.read() as session:
        flow = await session.get(Flow, flow_id)
    if flow is None or flow.kind != kind or not flow.oauth.get("client_id"):
        raise FlowNotFound()
    if flow.expires_at <= services.clock.now():
        raise FlowExpired()
    return flow


def stored_request(flow: Flow) -> AuthorizationRequest:
    fields = {k: v for k, v in flow.oauth.items() if k != "continue"}
    return msgspec.convert(fields, AuthorizationRequest)


def consent_csrf(services: Services, flow_id: str, session_id: str) -> str:
    """Bound to the flow and the session: a consent form cannot be submitted from another
    browser or for another user."""
    return secrets_.keyed_hash(services.settings.secret_key, "consent", flow_id, session_id)[:43]


# --- issuing ------------------------------------------------------------------------------


async def issue_for_session(
    services: Services,
    request: AuthorizationRequest,
    session: SessionView,
    *,
    consume_flow: str | None = None,
) -> str:
    """Issue the code and return the client redirect carrying it. When the request came
    from a flow, the flow is deleted in the same transaction: a replayed continue or
    consent URL finds nothing (FlowNotFound) and issues nothing."""
    async with services.db.write() as db_session:
        if consume_flow is not None:
            deleted = await db_session.execute(delete(Flow).where(Flow.id == consume_flow))
            if deleted.rowcount != 1:  # type: ignore[attr-defined]
                raise FlowNotFound()
        code = await issue_code(
            services,
            db_session,
            app_id=request.client_id,
            user_id=session.user_id,
            pool_id=request.pool_id,
            session_id=session.id,
            redirect_uri=request.redirect_uri,
            scope=scope_string(request.scope),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            amr=list(session.amr),
            auth_time=session.created_at,
        )
    return client_redirect(services, request.redirect_uri, request.state, code=code)


async def discard_flow(services: Services, flow_id: str) -> bool:
    async with services.db.write() as session:
        deleted = await session.execute(delete(Flow).where(Flow.id == flow_id))
    return bool(deleted.rowcount)  # type: ignore[attr-defined]
