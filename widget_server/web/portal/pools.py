"""Pool pages: create from a sector template, settings (tenant admins edit, others read),
the schema-change preview, delete, and the pool's audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.audit import events
from widget_server.admin.guard import guard
from widget_server.admin.pools import (
    NewPool,
    PoolDetail,
    PoolPatch,
    create_pool,
    delete_pool,
    get_pool,
    schema_impact,
    update_pool,
)
from widget_server.admin.schemas import SchemaView, list_schemas
from widget_server.admin.templates import TEMPLATES
from widget_server.developers import embed_log
from widget_server.errors import Conflict, Forbidden, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.passwords.policy import PolicyConfig
from widget_server.pools import PoolView
from widget_server.web.shared.console import AnyRequest, see_other
from widget_server.web.shared.forms import Errors, by_field, checked, convert, lines, number, text
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

PoolId = Annotated[str, PathParameter(max_length=64)]
#: Password-policy counts shown as number fields, in this order.
POLICY_NUMBERS = (
    "min_length",
    "max_length",
    "min_digits",
    "min_lowercase",
    "min_uppercase",
    "min_special",
    "history",
)
POLICY_CHECKS = ("common", "similarity")
AUDIT_PAGE = 50


def _policy_defaults() -> dict[str, Any]:
    defaults = PolicyConfig()
    return {f: getattr(defaults, f) for f in PolicyConfig.__struct_fields__}


# --- Create ------------------------------------------------------------------------------


def _require_operator(portal: Portal) -> None:
    if not portal.is_tenant_admin:
        raise Forbidden("pools.write")


@get(BASE + "/pools/new")
async def new_pool_form(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    _require_operator(portal)
    return _new_pool_page(portal, {"id": "", "name": "", "template": "ecommerce"})


def _new_pool_page(
    portal: Portal,
    values: Mapping[str, str],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    return portal.page(
        "pool_new.html",
        status=status,
        templates=list(TEMPLATES.values()),
        values=values,
        errors=errors or {},
        alerts=alerts,
        title="New pool",
    )


@post(BASE + "/pools", status_code=200)
async def create_pool_submit(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    values = {name: text(form, name) for name in ("id", "name", "template")}
    errors: Errors = {}
    try:
        new = convert(
            {
                "id": values["id"].lower(),
                "name": values["name"] or None,
                "template": values["template"] or None,
            },
            NewPool,
            errors,
        )
        pool = await create_pool(portal.services, portal.actor, new)
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return _new_pool_page(portal, values, fields, alerts, status=422)
    return see_other(f"{BASE}/pools/{pool.id}?done=admin.pool_created")


# --- Settings ----------------------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}")
async def pool_page(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    pool = await get_pool(portal.services, portal.actor, pool_id)
    return await _pool_page(portal, pool, _values_of(pool))


def _values_of(pool: PoolDetail) -> dict[str, Any]:
    policy = _policy_defaults() | pool.password_policy
    return {
        "name": pool.name,
        "self_registration": pool.self_registration,
        "activation_methods": list(pool.activation_methods),
        "allowed_origins": "\n".join(pool.allowed_origins),
        "email_domains": "\n".join(pool.email_domains),
        "payload_schema_id": pool.payload_schema_id,
        "metadata_schema_id": pool.metadata_schema_id or "",
        "session_lifetime_seconds": str(pool.session_lifetime_seconds),
        "session_idle_seconds": str(pool.session_idle_seconds),
        "mfa": pool.mfa,
        "phone_regions": "\n".join(pool.phone_regions),
        "claim_mapping": "\n".join(f"{k} = {v}" for k, v in (pool.claim_mapping or {}).items()),
        **{f"policy.{k}": v for k, v in policy.items()},
    }


async def _pool_page(
    portal: Portal,
    pool: PoolDetail,
    values: Mapping[str, Any],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    schemas: list[SchemaView] = await list_schemas(portal.services, portal.actor)
    return portal.page(
        "pool.html",
        status=status,
        pool=pool,
        values=values,
        errors=errors or {},
        alerts=alerts,
        editable=portal.can("pools.write"),
        payload_schemas=[s for s in schemas if s.kind == "payload"],
        metadata_schemas=[s for s in schemas if s.kind == "metadata"],
        policy_numbers=POLICY_NUMBERS,
        policy_checks=POLICY_CHECKS,
        invalid_users=_invalid_count(portal),
        # Origins that tried to frame this pool's widget lately (developers/embed_log.py).
        refusals=await embed_log.refusals(portal.services.db, [pool.id]),
        title=pool.name,
    )


def _invalid_count(portal: Portal) -> int | None:
    raw = portal.request.query_params.get("invalid", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _patch_from(form: Mapping[str, Sequence[str]], errors: Errors) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    for name in POLICY_NUMBERS:
        value = number(form, f"policy.{name}", errors)
        if value is not None:
            policy[name] = value
    for name in POLICY_CHECKS:
        policy[name] = checked(form, f"policy.{name}")
    metadata = text(form, "metadata_schema_id")
    return {
        "name": text(form, "name"),
        "self_registration": checked(form, "self_registration"),
        "activation_methods": list(form.get("activation_methods") or ()),
        "allowed_origins": lines(form, "allowed_origins"),
        "email_domains": lines(form, "email_domains"),
        "payload_schema_id": text(form, "payload_schema_id") or None,
        "metadata_schema_id": metadata or None,
        "clear_metadata_schema": not metadata,
        "session_lifetime_seconds": number(form, "session_lifetime_seconds", errors),
        "session_idle_seconds": number(form, "session_idle_seconds", errors),
        "mfa": text(form, "mfa") or None,
        "phone_regions": [r.upper() for r in lines(form, "phone_regions")],
        "password_policy": policy,
        "claim_mapping": _claim_mapping(form, errors),
    }


def _claim_mapping(form: Mapping[str, Sequence[str]], errors: Errors) -> dict[str, str] | None:
    """``claim = source`` per line; empty: leave the mapping as it is."""
    mapping: dict[str, str] = {}
    for line in text(form, "claim_mapping").splitlines():
        if not line.strip():
            continue
        claim, sep, source = line.partition("=")
        if not sep or not claim.strip():
            errors.setdefault("claim_mapping", []).append(msg("claims.bad_source"))
            continue
        mapping[claim.strip()] = source.strip()
    return mapping or None


def _redraw_values(pool: PoolDetail, form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """What the person typed, to put back into a refused form."""
    values = _values_of(pool) | {k: v[0] if v else "" for k, v in form.items()}
    values["activation_methods"] = list(form.get("activation_methods") or ())
    for name in ("self_registration", *(f"policy.{c}" for c in POLICY_CHECKS)):
        values[name] = checked(form, name)
    return values


@post(BASE + "/pools/{pool_id:str}", status_code=200)
async def update_pool_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    errors: Errors = {}
    try:
        patch = convert(_patch_from(form, errors), PoolPatch, errors)
        change = await update_pool(portal.services, portal.actor, pool_id, patch)
    except InvalidInput as exc:
        pool = await get_pool(portal.services, portal.actor, pool_id)
        fields, alerts = by_field(_policy_errors_up(exc))
        alerts = (msg("admin.fix_fields"), *alerts)
        values = _redraw_values(pool, form)
        return await _pool_page(portal, pool, values, fields, alerts, status=422)
    invalid = "" if change.invalid_users is None else f"&invalid={change.invalid_users}"
    return see_other(f"{BASE}/pools/{pool_id}?done=admin.saved{invalid}")


def _policy_errors_up(exc: InvalidInput) -> InvalidInput:
    # A policy error from a number field ("policy.min_length") and one about the policy as
    # a whole ("password_policy": max below min) are shown together, above the policy.
    merged: dict[str, list[Msg]] = {}
    for key, messages in exc.messages.items():
        target = "password_policy" if key.startswith("password_policy.") else key
        target = "claim_mapping" if key.startswith("claim_mapping.") else target
        merged.setdefault(target, []).extend(messages)
    return InvalidInput(merged)


@get(BASE + "/pools/{pool_id:str}/schema-impact")
async def schema_impact_preview(
    request: AnyRequest,
    pool_id: PoolId,
    schema_id: Annotated[str, QueryParameter(name="payload_schema_id", max_length=64)],
) -> Any:
    """How many users would no longer validate under another payload schema (htmx: the
    note under the select; without JavaScript the count comes after saving)."""
    portal = await signed_in(request)
    pool = await get_pool(portal.services, portal.actor, pool_id)
    count = None
    if schema_id != pool.payload_schema_id:
        count = await schema_impact(portal.services, portal.actor, pool_id, schema_id)
    return portal.page("_schema_impact.html", fragment="_schema_impact.html", count=count)


@post(BASE + "/pools/{pool_id:str}/delete", status_code=200)
async def delete_pool_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    try:
        await delete_pool(portal.services, portal.actor, pool_id)
    except Conflict as exc:
        pool = await get_pool(portal.services, portal.actor, pool_id)
        return await _pool_page(portal, pool, _values_of(pool), alerts=(exc.message,), status=409)
    return see_other(f"{BASE}?done=admin.pool_deleted")


# --- Audit log ---------------------------------------------------------------------------


Before = Annotated[int | None, QueryParameter(ge=1)]


@get(BASE + "/pools/{pool_id:str}/audit")
async def pool_audit(request: AnyRequest, pool_id: PoolId, before: Before = None) -> Any:
    portal = await signed_in(request)
    pool = await guard(portal.services, portal.actor, "audit.read", pool_id=pool_id)
    return await _audit_page(portal, pool, f"{BASE}/pools/{pool_id}/audit", before)


@get(BASE + "/audit")
async def tenant_audit(request: AnyRequest, before: Before = None) -> Any:
    """Every event of the tenant, sign-ins and refusals outside any pool included."""
    portal = await signed_in(request)
    _require_operator(portal)
    await guard(portal.services, portal.actor, "admins.read", target_type="audit")
    return await _audit_page(portal, None, f"{BASE}/audit", before)


async def _audit_page(portal: Portal, pool: PoolView | None, path: str, before: int | None) -> Any:
    entries = await events(
        portal.services.db,
        portal.actor.tenant_id,
        pool_id=pool.id if pool is not None else None,
        before_id=before,
        limit=AUDIT_PAGE + 1,
    )
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    return portal.page(
        "audit.html",
        fragment="_audit_rows.html",
        pool=pool,
        entries=entries,
        older=entries[-1].id if more and entries else None,
        paged=before is not None,
        show_pool=pool is None,
        audit_path=path,
        title="Audit log",
    )


HANDLERS = [
    new_pool_form,
    create_pool_submit,
    pool_page,
    update_pool_submit,
    schema_impact_preview,
    delete_pool_submit,
    pool_audit,
    tenant_audit,
]
