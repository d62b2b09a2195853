"""``/developers/join/{token}``: the link in a developer's invitation email. The developer
chooses a password (the administrators' policy) and lands signed in on ``/developers``.

A link that never was answers 404, one that was used, revoked or has expired 410, each
with a page that says what to do next (never a form). The token is in the path: the
pages send ``Referrer-Policy: same-origin``, so it does not leave in a ``Referer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter

from widget_server.admin.developer_invitations import InvitationLink, accept, open_link
from widget_server.admin.portal_auth import MAX_PASSWORD, start_session
from widget_server.errors import Conflict, InvalidInput, NotFound, Overloaded
from widget_server.messages import Msg, msg
from widget_server.web.developers.frame import BASE, session_cookie
from widget_server.web.shared.console import AnyRequest, html, same_origin_post, see_other
from widget_server.web.shared.context import web_context
from widget_server.web.shared.forms import by_field
from widget_server.web.shared.request_io import first, form_fields

Token = Annotated[str, PathParameter(max_length=128)]


def _page(
    request: AnyRequest,
    token: str,
    link: InvitationLink,
    *,
    name: str = "",
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: tuple[Msg, ...] = (),
    status: int = 200,
) -> Any:
    body = web_context(request).renderer.page(
        "developers/join.html",
        token=token,
        link=link,
        person_name=name or link.name,
        errors=errors or {},
        alerts=alerts,
        t=lambda m: m.text(),
        base=BASE,
    )
    return html(body, status)


def _gone(request: AnyRequest, message: Msg, status: int) -> Any:
    body = web_context(request).renderer.page(
        "developers/join_gone.html",
        message=message,
        http_status=status,
        t=lambda m: m.text(),
        base=BASE,
    )
    return html(body, status)


@get(BASE + "/join/{token:str}")
async def join_form(request: AnyRequest, token: Token) -> Any:
    services = web_context(request).services
    try:
        link = await open_link(services, token)
    except NotFound:
        return _gone(request, msg("invitation.developer_unknown"), 404)
    except Conflict as exc:
        return _gone(request, exc.message, 410)
    return _page(request, token, link)


@post(BASE + "/join/{token:str}", status_code=200)
async def join_submit(request: AnyRequest, token: Token) -> Any:
    services = web_context(request).services
    fields = await form_fields(request)
    name = str(first(fields, "name"))[:200]
    password = str(first(fields, "password"))[: MAX_PASSWORD + 1]
    try:
        link = await open_link(services, token)
    except NotFound:
        return _gone(request, msg("invitation.developer_unknown"), 404)
    except Conflict as exc:
        return _gone(request, exc.message, 410)
    if not same_origin_post(request):
        return _page(request, token, link, name=name, alerts=(msg("admin.csrf"),), status=403)
    if password != str(first(fields, "password_again")):
        mismatch = {"password_again": (msg("invitation.developer_mismatch"),)}
        return _page(request, token, link, name=name, errors=mismatch, status=422)
    try:
        principal = await accept(services, token, password, name)
    except InvalidInput as exc:
        fields_, alerts = by_field(exc)
        return _page(request, token, link, name=name, errors=fields_, alerts=alerts, status=422)
    except Conflict as exc:
        return _gone(request, exc.message, 410)
    except Overloaded as exc:
        return _page(request, token, link, name=name, alerts=(exc.message,), status=503)
    session_token = await start_session(services, principal)
    return see_other(BASE, cookies=[session_cookie(session_token, max_age=None)])


HANDLERS = [join_form, join_submit]
