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
from widget_server.jobs.bulk import BulkParams
from widget_server.jobs.export import ExportParams
from widget_server.jobs.reading import Format
from widget_server.jobs.service import ProblemPage
from widget_server.jobs.store import JobView
from widget_server.web.api.base import CurrentActor, api_services, errors
from widget_server.web.api.bodies import RAW_BODY
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


@post(
    POOL + "/imports",
    status_code=202,
    responses=errors(403, 404, 422, body=True),
    tags=TAGS,
    # The file is streamed to disk and bounded by WIDGET_IMPORT_MAX_BYTES instead.
    request_max_body_size=None,
    opt={RAW_BODY: True},
)
async def upload_import(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    format: Annotated[Format, QueryParameter()] = "csv",
) -> JobView:
    """Upload a CSV (``format=csv``, a header line, then one user per line) or JSON
    Lines (``format=jsonl``) file as the request body. It is checked by a **dry run**
    job that writes no user: when it is ``done``, its ``result`` counts ``rows``,
    ``valid``, ``invalid`` and ``problems`` (listed by ``…/jobs/{id}/problems``), and
    ``importable``. Then ``POST …/imports/{id}/start`` imports it. Columns: ``email``,
    ``status`` (``new``: invited by email; ``active``: needs ``password_hash``, a
    bcrypt, scrypt, PBKDF2 or argon2 hash), ``payload.<field>``, ``metadata.<field>``,
    ``payload``, ``metadata``."""
    services = api_services(request)
    return await service.receive_upload(services, actor, pool_id, format, request.stream())


@post(
    POOL + "/imports/{job_id:str}/start",
    status_code=202,
    responses=errors(403, 404, 409),
    tags=TAGS,
)
async def start_import(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, job_id: JobId
) -> JobView:
    """Import the file a finished dry run (``job_id``) checked: rows with problems and
    addresses already in the pool are skipped, so a second run creates nobody twice.
    409 ``jobs.busy`` while another import or bulk action of the pool is queued or
    running; 409 ``jobs.not_checked`` unless the dry run finished with valid rows."""
    return await service.start_import(api_services(request), actor, pool_id, job_id)


@get(ONE + "/problems", responses=errors(404), tags=TAGS)
async def import_problems(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    job_id: JobId,
    offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> ProblemPage:
    """A dry run's problems in line order: ``line``, ``field``, message ``id``, ``params``."""
    services = api_services(request)
    return await service.import_problems(services, actor, pool_id, job_id, offset, limit)


@post(POOL + "/bulk", status_code=202, responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def start_bulk(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    data: JSONBody[BulkParams],
) -> JobView:
    """Apply ``action`` (``deactivate``, ``reactivate``, ``delete``,
    ``resend_activation``, ``revoke_sessions``, ``set_metadata`` with ``key`` and
    ``value``; ``null`` removes the field) to the users ``ids`` (at most 10,000) or to
    every user a ``search`` of the users list matches (``q``, ``status``, ``field``,
    ``value``). Each user is changed, audited and reported like a single change; users
    it does not apply to are skipped and counted in ``result.reasons`` by message id.
    409 ``jobs.busy`` while another import or bulk action of the pool is queued or
    running."""
    return await service.start_bulk(api_services(request), actor, pool_id, data)


HANDLERS = [
    start_bulk,
    start_export,
    list_jobs,
    get_job,
    cancel_job,
    download,
    upload_import,
    start_import,
    import_problems,
]
