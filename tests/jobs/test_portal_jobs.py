"""The portal's job pages, as the business pool's lead: export and its one download,
import upload (streamed multipart) with its dry-run report and start, bulk actions
from the users list, CSRF, another pool's jobs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.admin.keys import MakeKey
from tests.conftest import Harness, rows
from tests.jobs.conftest import TEAM, add_members, member
from tests.web.portal_client import LEAD, PortalClient, message_ids, seed_admins, signed_in
from widget_server.jobs.worker import JobWorker
from widget_server.models import User

JOBS = f"/admin/pools/{TEAM}/jobs"
FIELDS = ("first_name", "last_name", "company", "date_of_birth", "country", "terms")
HEADER = ",".join(["email", *(f"payload.{f}" for f in FIELDS)])
VALUES = "Mia,Member,B1,1990-05-01,DE,true"


@pytest.fixture
async def lead(harness: Harness) -> AsyncIterator[PortalClient]:
    await seed_admins(harness)
    client = await signed_in(harness, LEAD)
    yield client
    await client.client.aclose()


def _job_id(location: str) -> str:
    match = re.search(r"/jobs/([0-9a-f-]{36})\?done=jobs.queued$", location)
    assert match is not None, location
    return match.group(1)


async def test_export_from_the_portal_downloads_once(
    harness: Harness, lead: PortalClient, make_key: MakeKey, jobs: JobWorker
) -> None:
    await add_members(harness, make_key, member("ada@example.com", first_name="=1+1"))
    empty = await lead.get(JOBS)
    assert empty.status_code == 200 and "No jobs yet" in empty.text
    form = await lead.get(f"{JOBS}/export", params={"q": "ada"})
    assert form.status_code == 200 and 'name="q" value="ada"' in form.text
    started = await lead.post(
        f"{JOBS}/export",
        {"format": "csv", "columns": ["email", "payload.first_name"], "q": "ada"},
    )
    assert started.status_code == 303, message_ids(started)
    job_id = _job_id(started.headers["location"])
    queued = await lead.follow(started)
    assert "jobs.queued" in message_ids(queued) and 'hx-trigger="every 2s"' in queued.text
    await jobs.drain()
    page = await lead.get(f"{JOBS}/{job_id}")
    assert 'data-status="done"' in page.text and "/download" in page.text
    assert 'hx-trigger="every 2s"' not in page.text  # finished: no more polling
    got = await lead.get(f"{JOBS}/{job_id}/download")
    assert got.status_code == 200
    assert got.text.splitlines() == ["email,payload.first_name", "ada@example.com,'=1+1"]
    again = await lead.get(f"{JOBS}/{job_id}/download")
    assert again.status_code == 409 and "jobs.not_downloadable" in message_ids(again)
    bad = await lead.post(f"{JOBS}/export", {"format": "csv", "columns": ["password"]})
    assert bad.status_code == 422 and "jobs.unknown_column" in message_ids(bad)


async def test_import_upload_report_and_start(
    harness: Harness, lead: PortalClient, jobs: JobWorker, settings
) -> None:
    await lead.get(f"{JOBS}/import")
    body = f"{HEADER}\nmia@example.com,{VALUES}\nbroken,{VALUES}\n"
    sent = await lead.post(
        f"{JOBS}/import", {"format": "csv"}, files={"file": ("team.csv", body.encode(), "text/csv")}
    )
    assert sent.status_code == 303, sent.text[:300]
    dry_id = _job_id(sent.headers["location"])
    await jobs.drain()
    report = await lead.get(f"{JOBS}/{dry_id}")
    assert 'data-line="3"' in report.text and "form.email_invalid" in report.text
    assert "Import 1 user" in report.text
    assert await rows(harness, User) == []
    started = await lead.post(f"{JOBS}/{dry_id}/start")
    assert started.status_code == 303
    await jobs.drain()
    [user] = await rows(harness, User)
    assert user.status == "new" and user.payload["first_name"] == "Mia"
    # Without the CSRF token the upload is refused and nothing is kept.
    before = set(Path(settings.jobs_dir).iterdir())
    forged = await lead.post(
        f"{JOBS}/import",
        {"format": "csv"},
        csrf="",
        files={"file": ("x.csv", b"email\n", "text/csv")},
    )
    assert forged.status_code == 403
    assert set(Path(settings.jobs_dir).iterdir()) == before


async def test_bulk_action_from_the_users_list(
    harness: Harness, lead: PortalClient, make_key: MakeKey, jobs: JobWorker
) -> None:
    ids = await add_members(harness, make_key, member("a@example.com"), member("b@example.com"))
    listing = await lead.get(f"/admin/pools/{TEAM}/users")
    assert (
        'id="bulk-form"' in listing.text
        and f'form="bulk-form" name="ids" value="{ids[0]}"' in listing.text
    )
    started = await lead.post(f"{JOBS}/bulk", {"action": "delete", "scope": "ids", "ids": [ids[0]]})
    assert started.status_code == 303, message_ids(started)
    await jobs.drain()
    statuses = {u.id: u.status for u in await rows(harness, User)}
    assert statuses == {ids[0]: "deleted", ids[1]: "new"}
    # "All matching this search" means the search shown now: its fields come with the
    # results, which a live search redraws.
    fragment = await lead.get(
        f"/admin/pools/{TEAM}/users", params={"q": "b@"}, headers={"HX-Request": "true"}
    )
    assert '<input type="hidden" form="bulk-form" name="q" value="b@">' in fragment.text
    meta = await lead.post(
        f"{JOBS}/bulk",
        {
            "action": "set_metadata",
            "scope": "search",
            "q": "b@",
            "metadata_key": "team",
            "metadata_value": "42",
        },
    )
    assert meta.status_code == 303
    await jobs.drain()
    users = {u.id: u for u in await rows(harness, User)}
    assert users[ids[1]].metadata_ == {"team": 42}
    nothing = await lead.post(f"{JOBS}/bulk", {"action": "delete", "scope": "ids"})
    assert nothing.status_code == 422 and "jobs.no_users" in message_ids(nothing)


async def test_another_pools_jobs_are_not_found(harness: Harness, lead: PortalClient) -> None:
    for path in ("/admin/pools/partner-1/jobs", "/admin/pools/partner-1/jobs/export"):
        assert (await lead.get(path)).status_code == 404
    assert (await lead.get(f"{JOBS}/00000000-0000-0000-0000-000000000000")).status_code == 404
