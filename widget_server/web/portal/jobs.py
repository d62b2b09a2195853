"""A pool's background jobs in the portal: the jobs list (progress follows by htmx
polling while a job is queued or running), the export form, the import form (upload,
the dry run's report, then "Import N users"), bulk actions from the users list, cancel
and the export's one download. The work is ``widget_server.jobs``; these handlers only
read forms and draw pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from multipart import MultipartError, PushMultipartParser, parse_options_header

from widget_server import secrets_
from widget_server.admin.portal_auth import csrf_matches
from widget_server.errors import Conflict, CsrfMismatch, InvalidInput
from widget_server.jobs import bulk, export, files, importing, service
from widget_server.jobs.reading import Format
from widget_server.jobs.selection import SEARCH_FIELDS, Search
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.web.shared.console import AnyRequest, Form, same_origin_post, see_other
from widget_server.web.shared.downloads import send_once
from widget_server.web.shared.forms import Errors, by_field, text
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

PoolId = Annotated[str, PathParameter(max_length=64)]
JobId = Annotated[str, PathParameter(max_length=36)]
Short = Annotated[str | None, QueryParameter(max_length=320)]
#: Problems of a dry run shown on its page (the API lists them all).
SHOWN_PROBLEMS = 200
ACTION_TITLES = {
    "deactivate": "Deactivate",
    "reactivate": "Reactivate",
    "delete": "Delete",
    "resend_activation": "Resend activation",
    "revoke_sessions": "Sign out everywhere",
    "set_metadata": "Set a metadata field",
}


def _jobs_path(pool_id: str) -> str:
    return f"{BASE}/pools/{pool_id}/jobs"


# --- the list and one job ---------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}/jobs")
async def jobs_page(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    found = await service.list_jobs(portal.services, portal.actor, pool_id)
    pool = await portal.services.pools.get(pool_id)
    return portal.page(
        "jobs.html",
        fragment="_jobs_rows.html",
        pool=pool,
        jobs=found,
        active=any(not j.finished for j in found),
        titles=ACTION_TITLES,
        title="Jobs",
    )


@get(BASE + "/pools/{pool_id:str}/jobs/{job_id:str}")
async def job_page(request: AnyRequest, pool_id: PoolId, job_id: JobId) -> Any:
    portal = await signed_in(request)
    return await _job_page(portal, pool_id, job_id)


async def _job_page(
    portal: Portal, pool_id: str, job_id: str, alerts: Sequence[Msg] = (), status: int = 200
) -> Any:
    job = await service.get_job(portal.services, portal.actor, pool_id, job_id)
    problems = None
    if job.kind == "import" and job.params.get("dry_run") and job.status == "done":
        problems = await service.import_problems(
            portal.services, portal.actor, pool_id, job_id, 0, SHOWN_PROBLEMS
        )
    pool = await portal.services.pools.get(pool_id)
    return portal.page(
        "job.html",
        fragment="_job_status.html",
        status=status,
        pool=pool,
        job=job,
        problems=problems,
        alerts=alerts,
        mine=job.requested_by == portal.actor.principal.id,
        titles=ACTION_TITLES,
        msg=msg,
        title="Job",
    )


@post(BASE + "/pools/{pool_id:str}/jobs/{job_id:str}/cancel", status_code=200)
async def cancel(request: AnyRequest, pool_id: PoolId, job_id: JobId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    try:
        await service.cancel_job(portal.services, portal.actor, pool_id, job_id)
    except Conflict as exc:
        return await _job_page(portal, pool_id, job_id, (exc.message,), 409)
    return see_other(f"{_jobs_path(pool_id)}/{job_id}?done=jobs.cancelled")


@get(BASE + "/pools/{pool_id:str}/jobs/{job_id:str}/download")
async def download(request: AnyRequest, pool_id: PoolId, job_id: JobId) -> Stream:
    portal = await signed_in(request)
    found = await service.open_download(portal.services, portal.actor, pool_id, job_id)
    return send_once(found)


# --- export -----------------------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}/jobs/export")
async def export_form(
    request: AnyRequest,
    pool_id: PoolId,
    q: Short = None,
    status: Short = None,
    field: Short = None,
    value: Short = None,
) -> Any:
    portal = await signed_in(request)
    await service.list_jobs(portal.services, portal.actor, pool_id, 1)  # scope and role
    pool = await portal.services.pools.get(pool_id)
    search = {"q": q or "", "status": status or "", "field": field or "", "value": value or ""}
    values = {"format": "csv", "columns": list(export.DEFAULT), **search}
    return _export_page(portal, pool, values, {})


def _export_page(
    portal: Portal,
    pool: PoolView,
    values: Mapping[str, Any],
    errors: Mapping[str, Any],
    status: int = 200,
) -> Any:
    return portal.page(
        "job_export.html",
        status=status,
        pool=pool,
        values=values,
        errors=errors,
        offered=export.columns_of(pool),
        searching=any(values.get(k) for k in SEARCH_FIELDS),
        title="Export users",
    )


@post(BASE + "/pools/{pool_id:str}/jobs/export", status_code=200)
async def export_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    search = _search_of(form)
    values = {
        "format": text(form, "format"),
        "columns": list(form.get("columns", [])),
        **msgspec.to_builtins(search or Search()),
    }
    errors: Errors = {}
    try:
        params = msgspec.convert(
            {"format": values["format"] or "csv", "columns": values["columns"], "search": search},
            export.ExportParams,
        )
        job = await service.start_export(portal.services, portal.actor, pool_id, params)
    except (msgspec.ValidationError, InvalidInput) as exc:
        if isinstance(exc, InvalidInput):
            fields, _ = by_field(exc)
            errors = {k: list(v) for k, v in fields.items()}
        else:
            errors = {"format": [msg("form.enum")]}
        pool = await portal.services.pools.get(pool_id)
        return _export_page(portal, pool, values, errors, 422)
    return see_other(f"{_jobs_path(pool_id)}/{job.id}?done=jobs.queued")


def _search_of(form: Form) -> Search | None:
    found = {k: text(form, k)[:320] for k in SEARCH_FIELDS}
    return Search(**found) if any(found.values()) else None


# --- import -----------------------------------------------------------------------------


@get(BASE + "/pools/{pool_id:str}/jobs/import")
async def import_form(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    pool = await service.may_import(portal.services, portal.actor, pool_id)
    return _import_page(portal, pool, {})


def _import_page(
    portal: Portal, pool: PoolView, errors: Mapping[str, Any], status: int = 200
) -> Any:
    return portal.page(
        "job_import.html",
        status=status,
        pool=pool,
        errors=errors,
        columns=[c for c in export.columns_of(pool) if c.startswith(("payload.", "metadata."))],
        max_mb=portal.services.settings.import_max_bytes // (1024 * 1024),
        title="Import users",
    )


@post(BASE + "/pools/{pool_id:str}/jobs/import", status_code=200, request_max_body_size=None)
async def import_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    """A multipart upload, streamed: the file part goes to disk as it arrives (bounded
    by ``import_max_bytes``); the CSRF token and format are checked once it is in, and
    the file is dropped if they fail."""
    portal = await signed_in(request)
    if not same_origin_post(request):
        raise CsrfMismatch()
    pool = await service.may_import(portal.services, portal.actor, pool_id)
    job_id = secrets_.new_id()
    name = importing.upload_name(job_id)
    fields: dict[str, str] = {}
    try:
        size = await service.save_upload(portal.services, name, _file_part(request, fields))
    except InvalidInput as exc:
        fields_, _ = by_field(exc)
        return _import_page(portal, pool, fields_, 422)
    except MultipartError:
        return _import_page(portal, pool, {"file": [msg("jobs.file_missing")]}, 422)
    token = fields.get("csrf_token", "")
    fmt: Format = "jsonl" if fields.get("format") == "jsonl" else "csv"
    if not token or not csrf_matches(portal.session, token):
        files.remove(portal.services.settings, name)
        raise CsrfMismatch()
    await service.queue_dry_run(portal.services, portal.actor, pool_id, fmt, job_id, size)
    return see_other(f"{_jobs_path(pool_id)}/{job_id}?done=jobs.queued")


async def _file_part(request: AnyRequest, fields: dict[str, str]) -> AsyncIterator[bytes]:
    """The bytes of the form's ``file`` part; its small fields land in ``fields``."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if not boundary:
        raise MultipartError("not multipart/form-data")
    current: str | None = None
    small = b""
    with PushMultipartParser(boundary, max_segment_count=8) as parser:
        async for chunk in request.stream():
            for event in parser.parse(chunk):
                if event is None:  # the end of a part
                    if current not in (None, "file"):
                        fields[current] = small.decode("utf-8", "replace")
                    current, small = None, b""
                elif isinstance(event, bytes | bytearray):
                    if current == "file":
                        yield bytes(event)
                    elif len(small) < 1024:
                        small += event
                else:
                    current = event.name


@post(BASE + "/pools/{pool_id:str}/jobs/{job_id:str}/start", status_code=200)
async def start_import(request: AnyRequest, pool_id: PoolId, job_id: JobId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    try:
        job = await service.start_import(portal.services, portal.actor, pool_id, job_id)
    except Conflict as exc:
        return await _job_page(portal, pool_id, job_id, (exc.message,), 409)
    return see_other(f"{_jobs_path(pool_id)}/{job.id}?done=jobs.queued")


# --- bulk actions (from the users list) -------------------------------------------------


@post(BASE + "/pools/{pool_id:str}/jobs/bulk", status_code=200)
async def bulk_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    every = text(form, "scope") == "search"
    raw_value = text(form, "metadata_value")
    data = {
        "action": text(form, "action"),
        "ids": None if every else [i for i in form.get("ids", []) if i][:10_001],
        "search": msgspec.to_builtins(_search_of(form) or Search()) if every else None,
        "key": text(form, "metadata_key") or None,
        "value": _json_or_text(raw_value) if raw_value else None,
    }
    try:
        params = msgspec.convert(data, bulk.BulkParams)
        job = await service.start_bulk(portal.services, portal.actor, pool_id, params)
    except msgspec.ValidationError:
        return await _refused(portal, pool_id, msg("form.enum"))
    except InvalidInput as exc:
        return await _refused(portal, pool_id, *(m for ms in exc.messages.values() for m in ms))
    except Conflict as exc:
        return await _refused(portal, pool_id, exc.message, status=409)
    return see_other(f"{_jobs_path(pool_id)}/{job.id}?done=jobs.queued")


async def _refused(portal: Portal, pool_id: str, *messages: Msg, status: int = 422) -> Any:
    found = await service.list_jobs(portal.services, portal.actor, pool_id)
    pool = await portal.services.pools.get(pool_id)
    return portal.page(
        "jobs.html",
        status=status,
        pool=pool,
        jobs=found,
        alerts=messages,
        active=any(not j.finished for j in found),
        titles=ACTION_TITLES,
        title="Jobs",
    )


def _json_or_text(raw: str) -> Any:
    """``42``, ``true``, ``["a"]`` as JSON; anything else as the text typed."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw


HANDLERS = [
    jobs_page,
    export_form,
    export_submit,
    import_form,
    import_submit,
    bulk_submit,
    job_page,
    cancel,
    download,
    start_import,
]
