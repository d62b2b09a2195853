"""A pool's users: search (htmx live, plain GET without JavaScript), create on behalf of a
team member, read, edit payload and metadata, and the lifecycle actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.users import (
    NewUser,
    UserPatch,
    UserView,
    change_status,
    create_user,
    delete_user,
    get_user,
    list_users,
    resend_activation,
    revoke_sessions,
    update_user,
)
from widget_server.errors import Conflict, InvalidInput, NotFound, ResendTooSoon
from widget_server.forms import FormNode, identifier_field, nodes_for_step, read_step, steps_of
from widget_server.forms.schema import properties
from widget_server.messages import Msg
from widget_server.pools import PoolView
from widget_server.users.inputs import normalise_email
from widget_server.web.shared.console import AnyRequest, see_other
from widget_server.web.shared.forms import (
    Errors,
    by_field,
    convert,
    json_object,
    pretty,
    text,
)
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

PoolId = Annotated[str, PathParameter(max_length=64)]
UserId = Annotated[str, PathParameter(max_length=64)]
Query = Annotated[str | None, QueryParameter(max_length=200)]
PAGE_SIZE = 25
STATUSES = ("new", "active", "inactive", "deleted")
#: Where each action leaves the person, and what the page then says.
DONE = {
    "activate": "admin.saved",
    "deactivate": "admin.saved",
    "reactivate": "admin.saved",
    "resend": "admin.invitation_sent",
    "revoke-sessions": "admin.sessions_revoked",
}


def _users_path(pool_id: str) -> str:
    return f"{BASE}/pools/{pool_id}/users"


# --- List and search ---------------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}/users")
async def users_page(
    request: AnyRequest,
    pool_id: PoolId,
    q: Query = None,
    status: Annotated[str | None, QueryParameter(max_length=16)] = None,
    field: Annotated[str | None, QueryParameter(max_length=64)] = None,
    value: Query = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Any:
    portal = await signed_in(request)
    filters = {"q": q or "", "status": status or "", "field": field or "", "value": value or ""}
    errors: dict[str, tuple[Msg, ...]] = {}
    try:
        found = await list_users(
            portal.services,
            portal.actor,
            pool_id,
            q=q or None,
            status=status or None,
            field=field or None,
            value=value or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    except InvalidInput as exc:
        errors, _ = by_field(exc)
        found = None
    pool = await portal.services.pools.get(pool_id)
    return portal.page(
        "users.html",
        fragment="_users_results.html",
        status=422 if errors else 200,
        pool=pool,
        found=found,
        filters=filters,
        errors=errors,
        page_no=page,
        pages=_pages(found.total if found else 0),
        statuses=STATUSES,
        fields=_searchable(pool),
        columns=_columns(pool),
        identifier=identifier_field(pool.schema),
        query=_query(filters),
        title="Users",
    )


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def _query(filters: Mapping[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})


def _searchable(pool: PoolView) -> list[tuple[str, str]]:
    identifier = identifier_field(pool.schema)
    return [
        (name, str(prop.get("title") or name))
        for name, prop in properties(pool.schema).items()
        if name != identifier and prop.get("type") in {"string", "integer", "boolean"}
    ]


def _columns(pool: PoolView) -> list[tuple[str, str]]:
    """Up to two payload fields worth a column (names first), besides the address."""
    return _searchable(pool)[:2]


# --- Create ------------------------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}/users/new")
async def new_user_form(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    # Reading the list checks scope and role (404 / 403) before anything is shown.
    await list_users(portal.services, portal.actor, pool_id, limit=1)
    pool = await portal.services.pools.get(pool_id)
    values = {"email": "", "status": "new", "metadata": "{}", "password_mode": "invite"}
    return _new_user_page(portal, pool, values, {})


def _payload_nodes(
    pool: PoolView, values: Mapping[str, object], errors: Mapping[str, Sequence[Msg]]
) -> list[FormNode]:
    identifier = identifier_field(pool.schema)
    nodes = [
        node
        for step in steps_of(pool.schema)
        for node in nodes_for_step(pool.schema, step.id, values, errors)
        if node.name != identifier and node.type not in {"hidden", "submit"}
    ]
    return nodes


def _new_user_page(
    portal: Portal,
    pool: PoolView,
    values: Mapping[str, Any],
    errors: Mapping[str, Sequence[Msg]],
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    return portal.page(
        "user_new.html",
        status=status,
        pool=pool,
        values=values,
        errors=errors,
        alerts=alerts,
        nodes=_payload_nodes(pool, values, errors),
        min_password=pool.policy.min_length,
        title="New user",
    )


def _read_payload(
    pool: PoolView, form: Mapping[str, Sequence[str]], email: str, errors: Errors
) -> dict[str, Any]:
    """The payload fields of every step, read and typed as the widget reads them."""
    identifier = identifier_field(pool.schema)
    payload: dict[str, Any] = {}
    for step in steps_of(pool.schema):
        sent = {name: form[name] for name in step.fields if name in form}
        if identifier in step.fields:
            sent[identifier] = [email]
        try:
            payload |= read_step(pool.schema, step.id, sent)
        except InvalidInput as exc:
            for name, messages in exc.messages.items():
                if name != identifier:
                    errors.setdefault(name, []).extend(messages)
    payload.pop(identifier, None)
    return payload


@post(BASE + "/pools/{pool_id:str}/users", status_code=200)
async def create_user_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    await list_users(portal.services, portal.actor, pool_id, limit=1)
    pool = await portal.services.pools.get(pool_id)
    values = {k: v[0] for k, v in form.items() if v and k != "password"}
    errors: Errors = {}
    email = text(form, "email")
    try:
        # Checked here too, so a bad address is reported with the other fields' problems.
        normalise_email(pool, email)
    except InvalidInput as exc:
        errors |= {k: list(v) for k, v in exc.messages.items()}
    mode = text(form, "password_mode")
    data = {
        "email": email,
        "status": text(form, "status") or "new",
        "payload": _read_payload(pool, form, email, errors),
        "metadata": json_object(form, "metadata", errors) or {},
        "password": ((form.get("password") or [""])[0] or None) if mode == "password" else None,
        "send_set_password_link": mode == "link",
    }
    try:
        user = await create_user(
            portal.services, portal.actor, pool_id, convert(data, NewUser, errors)
        )
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        fields = {k.removeprefix("payload."): v for k, v in fields.items()}
        return _new_user_page(portal, pool, values, fields, alerts, status=422)
    except Conflict as exc:
        return _new_user_page(portal, pool, values, {}, (exc.message,), status=409)
    return see_other(f"{_users_path(pool_id)}/{user.id}?done=admin.user_created")


# --- Detail, edit, lifecycle -------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}/users/{user_id:str}")
async def user_page(request: AnyRequest, pool_id: PoolId, user_id: UserId) -> Any:
    portal = await signed_in(request)
    user = await get_user(portal.services, portal.actor, pool_id, user_id)
    return await _user_page(portal, user)


async def _user_page(
    portal: Portal,
    user: UserView,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    pool = await portal.services.pools.get(user.pool_id)
    shown = values or {"payload": pretty(user.payload), "metadata": pretty(user.metadata)}
    titles = {
        name: str(prop.get("title") or name) for name, prop in properties(pool.schema).items()
    }
    return portal.page(
        "user.html",
        status=status,
        pool=pool,
        user=user,
        values=shown,
        errors=errors or {},
        alerts=alerts,
        titles=titles,
        editable=portal.can("users.write") and user.status != "deleted",
        address=next((a.value for a in user.addresses), None),
        title="User",
    )


def _merge_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``before`` into ``after`` (removed keys become null)."""
    patch: dict[str, Any] = {k: None for k in before if k not in after}
    patch |= {k: v for k, v in after.items() if before.get(k) != v}
    return patch


@post(BASE + "/pools/{pool_id:str}/users/{user_id:str}", status_code=200)
async def update_user_submit(request: AnyRequest, pool_id: PoolId, user_id: UserId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    user = await get_user(portal.services, portal.actor, pool_id, user_id)
    errors: Errors = {}
    payload = json_object(form, "payload", errors)
    metadata = json_object(form, "metadata", errors)
    try:
        patch = convert(
            {
                "payload": _merge_patch(user.payload, payload or {}),
                "metadata": _merge_patch(user.metadata, metadata or {}),
            },
            UserPatch,
            errors,
        )
        await update_user(portal.services, portal.actor, pool_id, user_id, patch)
    except (InvalidInput, Conflict) as exc:
        values = {"payload": text(form, "payload"), "metadata": text(form, "metadata")}
        if isinstance(exc, Conflict):
            return await _user_page(portal, user, values=values, alerts=(exc.message,), status=409)
        fields, alerts = by_field(exc)
        return await _user_page(
            portal, user, values=values, errors=_by_document(fields), alerts=alerts, status=422
        )
    return see_other(f"{_users_path(pool_id)}/{user_id}?done=admin.user_updated")


def _by_document(fields: Mapping[str, Sequence[Msg]]) -> dict[str, tuple[Msg, ...]]:
    """Errors on ``payload.company`` and ``metadata.roles`` shown under their JSON box."""
    out: dict[str, tuple[Msg, ...]] = {}
    for key, messages in fields.items():
        box = key.split(".", 1)[0] if key.startswith(("payload", "metadata")) else "payload"
        out[box] = out.get(box, ()) + tuple(messages)
    return out


@post(BASE + "/pools/{pool_id:str}/users/{user_id:str}/{action:str}", status_code=200)
async def user_action(
    request: AnyRequest,
    pool_id: PoolId,
    user_id: UserId,
    action: Annotated[str, PathParameter(max_length=32)],
) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    services, actor = portal.services, portal.actor
    try:
        match action:
            case "activate" | "deactivate" | "reactivate":
                await change_status(services, actor, pool_id, user_id, action)
            case "resend":
                await resend_activation(services, actor, pool_id, user_id)
            case "revoke-sessions":
                await revoke_sessions(services, actor, pool_id, user_id)
            case "delete":
                await delete_user(services, actor, pool_id, user_id)
                return see_other(f"{_users_path(pool_id)}?done=admin.user_deleted")
            case _:
                raise NotFound("action")
    except (Conflict, ResendTooSoon) as exc:
        user = await get_user(services, actor, pool_id, user_id)
        code = 429 if isinstance(exc, ResendTooSoon) else 409
        return await _user_page(portal, user, alerts=(exc.message,), status=code)
    return see_other(f"{_users_path(pool_id)}/{user_id}?done={DONE[action]}")


HANDLERS = [
    users_page,
    new_user_form,
    create_user_submit,
    user_page,
    update_user_submit,
    user_action,
]
