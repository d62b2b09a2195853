"""``/api/admin/pools/{pool_id}/jobs``, ``…/exports``, ``…/imports``, ``…/bulk``: a
pool's background jobs. Starting one answers 202 with the job; poll it by id for its
progress (``done`` of ``total``), cancel it, download an export once.

A job of another pool is a 404, like one that does not exist. A second import or bulk
action while one is queued or running in the pool is a 409 (``jobs.busy``).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Stream

from widget_server.jobs import service
from widget_server.jobs.export import ExportParams
from widget_server.jobs.store import JobView
from widget_server.web.api.base import CurrentActor, api_services, errors
from widget_server.web.shared.downloads import send_once

PoolId = Annotated[str, PathParameter(max_length=64)]
JobId = Annotated[str, PathParameter(max_length=36)]
TAGS = ["jobs"]
POOL = "/pools/{pool_id:str}"
ONE = POOL + "/jobs/{job_id:str}"


@post(POOL + "/exports", status_code=202, responses=errors(403, 404, 422, body=True), tags=TAGS)
async def start_export(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    data: JSONBody[ExportParams],
) -> JobView:
    """Export the pool's users (all but deleted ones, or those a ``search`` matches) as
    ``csv`` or ``jsonl`` with the chosen ``columns``: ``id``, ``status``, ``email``,
    ``email_status``, ``phone``, ``phone_status``, ``created_at``, ``updated_at``,
    ``activated_at``, ``payload``, ``metadata``, ``payload.<field>``,
    ``metadata.<field>``. Never password hashes, codes or second-factor secrets."""
    return await service.start_export(api_services(request), actor, pool_id, data)


@get(POOL + "/jobs", responses=errors(404), tags=TAGS)
async def list_jobs(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
) -> list[JobView]:
    """The pool's jobs, newest first."""
    return await service.list_jobs(api_services(request), actor, pool_id, limit)


@get(ONE, responses=errors(404), tags=TAGS)
async def get_job(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, job_id: JobId
) -> JobView:
    """One job: ``status`` (queued, running, done, failed, cancelled), ``done`` of
    ``total``, and its ``result`` (counters; an export's file facts)."""
    return await service.get_job(api_services(request), actor, pool_id, job_id)


@post(ONE + "/cancel", status_code=200, responses=errors(404, 409), tags=TAGS)
async def cancel_job(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, job_id: JobId
) -> JobView:
    """A queued job ends at once, a running one after its current batch."""
    return await service.cancel_job(api_services(request), actor, pool_id, job_id)


@get(ONE + "/download", responses=errors(404, 409), tags=TAGS)
async def download(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, job_id: JobId
) -> Stream:
    """A finished export's file, for the key that asked for it, once: the file is
    deleted as it is sent (409 ``jobs.not_downloadable`` afterwards)."""
    found = await service.open_download(api_services(request), actor, pool_id, job_id)
    return send_once(found)


HANDLERS = [start_export, list_jobs, get_job, cancel_job, download]
