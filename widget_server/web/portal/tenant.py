"""Tenant pages (tenant admins only): administrators and API keys, identity schemas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.principals import (
    NewAdmin,
    create_admin,
    list_admins,
    revoke_admin,
)
from widget_server.admin.schemas import (
    NewSchema,
    SchemaPatch,
    SchemaView,
    create_schema,
    delete_schema,
    get_schema,
    list_schemas,
    update_schema,
)
from widget_server.branding.workspaces import list_workspaces
from widget_server.errors import Conflict, Forbidden, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.shared.console import AnyRequest, see_other
from widget_server.web.shared.forms import Errors, by_field, convert, json_object, pretty, text
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

AdminId = Annotated[str, PathParameter(max_length=64)]
SchemaId = Annotated[str, PathParameter(max_length=64)]
ROLE_NAMES = {
    "tenant_admin": "Tenant admin",
    "pool_admin": "Pool admin",
    "pool_viewer": "Pool viewer",
}
_EMPTY_SCHEMA = '{\n  "type": "object",\n  "properties": {},\n  "additionalProperties": false\n}'


async def _operator(request: AnyRequest) -> Portal:
    """Signed in and a tenant admin: these pages are the operator's, nobody else's."""
    portal = await signed_in(request)
    if not portal.is_tenant_admin:
        raise Forbidden("admins.read")
    return portal


# --- Administrators ----------------------------------------------------------------------


@get(BASE + "/admins")
async def admins_page(request: AnyRequest) -> Any:
    portal = await _operator(request)
    return await _admins_page(portal, _blank_admin())


def _blank_admin() -> dict[str, str]:
    return {"kind": "person", "role": "pool_admin", "name": "", "pool_id": "", "email": ""}


async def _admins_page(
    portal: Portal,
    values: Mapping[str, str],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    *,
    created_key: str | None = None,
    status: int = 200,
) -> Any:
    admins = await list_admins(portal.services, portal.actor)
    return portal.page(
        "admins.html",
        status=status,
        admins=admins,
        pools={p.id: p.name for p in portal.nav_pools},
        workspaces={w.id: w.name for w in await list_workspaces(portal.services, portal.actor)},
        roles=ROLE_NAMES,
        values=values,
        errors=errors or {},
        alerts=alerts,
        created_key=created_key,
        title="Administrators",
    )


@post(BASE + "/admins", status_code=200)
async def create_admin_submit(request: AnyRequest) -> Any:
    portal = await _operator(request)
    form = await form_of(portal)
    values = {k: text(form, k) for k in ("kind", "role", "name", "pool_id", "email")}
    person = values["kind"] == "person"
    data = {
        "kind": values["kind"],
        "role": values["role"],
        "name": values["name"],
        "pool_id": values["pool_id"] or None,
        "email": (values["email"] or None) if person else None,
        "password": (text(form, "password") or None) if person else None,
    }
    errors: Errors = {}
    try:
        created = await create_admin(portal.services, portal.actor, convert(data, NewAdmin, errors))
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return await _admins_page(portal, values, fields, alerts, status=422)
    except Conflict as exc:
        return await _admins_page(portal, values, alerts=(exc.message,), status=409)
    if created.api_key is None:
        return see_other(f"{BASE}/admins?done=admin.saved")
    # The key exists only in this response (no redirect: it must not travel in a URL, and
    # the page is ``no-store``).
    return await _admins_page(portal, _blank_admin(), created_key=created.api_key)


@post(BASE + "/admins/{admin_id:str}/revoke", status_code=200)
async def revoke_admin_submit(request: AnyRequest, admin_id: AdminId) -> Any:
    portal = await _operator(request)
    await form_of(portal)
    try:
        await revoke_admin(portal.services, portal.actor, admin_id)
    except Conflict as exc:
        return await _admins_page(portal, _blank_admin(), alerts=(exc.message,), status=409)
    return see_other(f"{BASE}/admins?done=admin.admin_revoked")


# --- Schemas ------------------------------------------------------------------------------


@get(BASE + "/schemas")
async def schemas_page(request: AnyRequest) -> Any:
    portal = await _operator(request)
    schemas = await list_schemas(portal.services, portal.actor)
    return portal.page("schemas.html", schemas=schemas, title="Schemas")


@get(BASE + "/schemas/new")
async def new_schema_form(
    request: AnyRequest,
    copy: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Any:
    portal = await _operator(request)
    values = {"name": "", "kind": "payload", "id": "", "body": _EMPTY_SCHEMA}
    if copy:
        source = await get_schema(portal.services, portal.actor, copy)
        values |= {
            "name": f"{source.name} (copy)",
            "kind": source.kind,
            "body": pretty(source.body),
        }
    return _schema_page(portal, None, values)


def _schema_page(
    portal: Portal,
    schema: SchemaView | None,
    values: Mapping[str, str],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    return portal.page(
        "schema.html",
        status=status,
        schema=schema,
        values=values,
        errors=errors or {},
        alerts=alerts,
        # A schema stored before patterns ran with RE2 may hold some it cannot run.
        unrunnable=msg("schema.unrunnable", "error") if schema and schema.problems else None,
        title=schema.name if schema else "New schema",
    )


@post(BASE + "/schemas", status_code=200)
async def create_schema_submit(request: AnyRequest) -> Any:
    portal = await _operator(request)
    form = await form_of(portal)
    values = {k: text(form, k) for k in ("name", "kind", "id", "body")}
    errors: Errors = {}
    body = json_object(form, "body", errors)
    data = {
        "name": values["name"],
        "kind": values["kind"],
        "id": values["id"] or None,
        "body": body if body is not None else {},
    }
    try:
        schema = await create_schema(
            portal.services, portal.actor, convert(data, NewSchema, errors)
        )
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return _schema_page(portal, None, values, _on_body(fields), alerts, status=422)
    return see_other(f"{BASE}/schemas/{schema.id}?done=admin.schema_saved")


def _on_body(fields: Mapping[str, Sequence[Msg]]) -> dict[str, tuple[Msg, ...]]:
    """Problems inside the JSON Schema (``body.properties.x``) go under the JSON box."""
    out: dict[str, tuple[Msg, ...]] = {}
    for key, messages in fields.items():
        box = "body" if key.startswith("body") else key
        out[box] = out.get(box, ()) + tuple(messages)
    return out


@get(BASE + "/schemas/{schema_id:str}")
async def schema_page(request: AnyRequest, schema_id: SchemaId) -> Any:
    portal = await _operator(request)
    schema = await get_schema(portal.services, portal.actor, schema_id)
    values = {
        "name": schema.name,
        "kind": schema.kind,
        "id": schema.id,
        "body": pretty(schema.body),
    }
    return _schema_page(portal, schema, values)


@post(BASE + "/schemas/{schema_id:str}", status_code=200)
async def update_schema_submit(request: AnyRequest, schema_id: SchemaId) -> Any:
    portal = await _operator(request)
    form = await form_of(portal)
    schema = await get_schema(portal.services, portal.actor, schema_id)
    values = {"name": text(form, "name"), "kind": schema.kind, "id": schema.id}
    values["body"] = text(form, "body")
    errors: Errors = {}
    body = json_object(form, "body", errors)
    try:
        patch = convert({"name": values["name"], "body": body}, SchemaPatch, errors)
        await update_schema(portal.services, portal.actor, schema_id, patch)
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return _schema_page(portal, schema, values, _on_body(fields), alerts, status=422)
    except Conflict as exc:
        return _schema_page(portal, schema, values, alerts=(exc.message,), status=409)
    return see_other(f"{BASE}/schemas/{schema_id}?done=admin.schema_saved")


@post(BASE + "/schemas/{schema_id:str}/delete", status_code=200)
async def delete_schema_submit(request: AnyRequest, schema_id: SchemaId) -> Any:
    portal = await _operator(request)
    await form_of(portal)
    try:
        await delete_schema(portal.services, portal.actor, schema_id)
    except Conflict as exc:
        schema = await get_schema(portal.services, portal.actor, schema_id)
        values = {"name": schema.name, "kind": schema.kind, "id": schema.id}
        values["body"] = pretty(schema.body)
        return _schema_page(portal, schema, values, alerts=(exc.message,), status=409)
    return see_other(f"{BASE}/schemas?done=admin.schema_deleted")


HANDLERS = [
    admins_page,
    create_admin_submit,
    revoke_admin_submit,
    schemas_page,
    new_schema_form,
    create_schema_submit,
    schema_page,
    update_schema_submit,
    delete_schema_submit,
]
