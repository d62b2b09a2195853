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
from widget_server.users.search import DEFAULT_SORT, UserSearch
from widget_server.web.portal import user_form
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
PAGE_SIZES = (25, 50, 100, 200)
SORT_LABELS = (
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("-activated", "Recently activated"),
    ("-last_login", "Recently signed in"),
    ("address", "Address A to Z"),
    ("-address", "Address Z to A"),
    ("name", "Name A to Z"),
    ("-name", "Name Z to A"),
)
SORTS = frozenset(s for s, _ in SORT_LABELS) | {"activated", "last_login"}
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
    name: Query = None,
    status: Annotated[str | None, QueryParameter(max_length=16)] = None,
    field: Annotated[str | None, QueryParameter(max_length=64)] = None,
    value: Query = None,
    sort: Annotated[str | None, QueryParameter(max_length=16)] = None,
    size: Annotated[int, QueryParameter(ge=1, le=200)] = PAGE_SIZE,
    cursor: Annotated[str | None, QueryParameter(max_length=1200)] = None,
) -> Any:
    portal = await signed_in(request)
    filters = {
        "q": q or "",
        "name": name or "",
        "status": status or "",
        "field": field or "",
        "value": value or "",
        "sort": sort if sort in SORTS else "",
        "size": str(size) if size != PAGE_SIZE else "",
    }
    errors: dict[str, tuple[Msg, ...]] = {}
    try:
        found = await list_users(
            portal.services,
            portal.actor,
            pool_id,
            UserSearch(
                q=q or None,
                name=name or None,
                status=status or None,
                field=field or None,
                value=value or None,
                sort=sort or DEFAULT_SORT,
                limit=size,
                cursor=cursor or None,
            ),
        )
    except InvalidInput as exc:
        errors, alerts = by_field(exc)
        errors = {**errors, "": tuple(alerts)} if alerts else errors
        found = None
    pool = await portal.services.pools.get(pool_id)
    return portal.page(
        "users.html",
        fragment="_users_results.html",
        status=(400 if "" in errors else 422) if errors else 200,
        pool=pool,
        found=found,
        filters=filters,
        errors=errors,
        paged=bool(cursor),
        statuses=STATUSES,
        sorts=SORT_LABELS,
        sizes=PAGE_SIZES,
        fields=_searchable(pool),
        columns=_columns(pool),
        identifier=identifier_field(pool.schema),
        query=_query(filters),
        title="Users",
    )


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
async def user_page(
    request: AnyRequest,
    pool_id: PoolId,
    user_id: UserId,
    edit: Annotated[str | None, QueryParameter(max_length=8)] = None,
) -> Any:
    portal = await signed_in(request)
    user = await get_user(portal.services, portal.actor, pool_id, user_id)
    return await _user_page(portal, user, raw=edit == "json")


async def _user_page(
    portal: Portal,
    user: UserView,
    *,
    raw: bool = False,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    pool = await portal.services.pools.get(user.pool_id)
    errors = errors or {}
    shown = values or {"payload": pretty(user.payload), "metadata": pretty(user.metadata)}
    titles = {
        name: str(prop.get("title") or name) for name, prop in properties(pool.schema).items()
    }
    drawn_payload = values if values is not None and not raw else user.payload
    drawn_metadata = _metadata_values(values) if values is not None and not raw else user.metadata
    payload_errors = {k.removeprefix("payload."): v for k, v in errors.items()}
    return portal.page(
        "user.html",
        status=status,
        pool=pool,
        user=user,
        raw=raw,
        values=shown,
        errors=errors,
        field_errors={k.removeprefix("payload."): v for k, v in errors.items()},
        alerts=alerts,
        titles=titles,
        nodes=user_form.payload_nodes(pool, drawn_payload, payload_errors),
        meta_nodes=user_form.metadata_nodes(pool, drawn_metadata, errors),
        list_fields=user_form.list_fields(pool, drawn_metadata, errors),
        editable=portal.can("users.write") and user.status != "deleted",
        address=next((a.value for a in user.addresses), None),
        title="User",
    )


def _metadata_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Posted ``metadata.<field>`` values by field, for redrawing a refused form."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key.startswith(user_form.META):
            name = key.removeprefix(user_form.META)
            out[name] = value.splitlines() if "\n" in str(value) else value
    return out


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
    # Without a mode (older pages, scripts), the JSON boxes are what was sent.
    mode = text(form, "mode") or ("json" if "payload" in form else "form")
    raw = mode == "json"
    errors: Errors = {}
    try:
        if raw:
            payload = json_object(form, "payload", errors) or {}
            metadata = json_object(form, "metadata", errors) or {}
        else:
            pool = await portal.services.pools.get(pool_id)
            address = next((a.value for a in user.addresses), "")
            payload, metadata = user_form.read_edit(
                pool, user.payload, user.metadata, form, address
            )
        patch = convert(
            {
                "payload": _merge_patch(user.payload, payload),
                "metadata": _merge_patch(user.metadata, metadata),
            },
            UserPatch,
            errors,
        )
        await update_user(portal.services, portal.actor, pool_id, user_id, patch)
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, user, form, exc, raw=raw)
    return see_other(f"{_users_path(pool_id)}/{user_id}?done=admin.user_updated")


async def _refused(
    portal: Portal,
    user: UserView,
    form: Mapping[str, Sequence[str]],
    exc: InvalidInput | Conflict,
    *,
    raw: bool,
) -> Any:
    if raw:
        values: dict[str, Any] = {k: text(form, k) for k in ("payload", "metadata")}
    else:
        values = {k: v[0] for k, v in form.items() if v and k not in {"csrf_token", "mode"}}
    if isinstance(exc, Conflict):
        return await _user_page(
            portal, user, raw=raw, values=values, alerts=(exc.message,), status=409
        )
    fields, alerts = by_field(exc)
    shown = _by_document(fields) if raw else fields
    return await _user_page(
        portal, user, raw=raw, values=values, errors=shown, alerts=alerts, status=422
    )


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
