"""Exports as background jobs, on SQLite and PostgreSQL: columns, CSV and JSON Lines,
CSV injection, no secrets, download once by the requester, scope, cancel, resume."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from pathlib import Path

from sqlalchemy import select, update

from tests.admin.keys import MakeKey
from tests.conftest import Harness, rows
from tests.jobs.conftest import TEAM, add_members, member
from widget_server.jobs import export
from widget_server.jobs.worker import JobWorker
from widget_server.models import AdminPrincipal, AuditEvent, Job

COLUMNS = ["id", "email", "email_status", "status", "payload.first_name", "metadata", "created_at"]


async def _export(lead, fmt: str = "csv", columns=COLUMNS, **extra) -> dict:
    response = await lead.post(
        f"/pools/{TEAM}/exports", json={"format": fmt, "columns": columns, **extra}
    )
    assert response.status_code == 202, response.text
    return response.json()


async def test_csv_export_with_chosen_columns_downloaded_once(
    harness: Harness, make_key: MakeKey, jobs: JobWorker, settings
) -> None:
    h = harness
    ids = await add_members(
        h,
        make_key,
        member("ada@example.com", first_name='=HYPERLINK("http://x")'),
        member("bob@example.com", first_name="-2+3"),
        member("cy@example.com", first_name="@SUM(A1)"),
    )
    lead = await make_key("pool_admin", TEAM)
    job = await _export(lead)
    assert job["status"] == "queued" and job["kind"] == "export"
    assert await jobs.drain() == 1
    done = (await lead.get(f"/pools/{TEAM}/jobs/{job['id']}")).json()
    assert done["status"] == "done" and done["done"] == 3 and done["total"] == 3
    got = await lead.get(f"/pools/{TEAM}/jobs/{job['id']}/download")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(got.text)))
    assert table[0] == COLUMNS
    by_id = {r[0]: r for r in table[1:]}
    assert set(by_id) == set(ids)
    names = sorted(r[4] for r in table[1:])
    assert names == ["'-2+3", '\'=HYPERLINK("http://x")', "'@SUM(A1)"]
    assert {r[1] for r in table[1:]} == {"ada@example.com", "bob@example.com", "cy@example.com"}
    assert {r[2] for r in table[1:]} == {"unverified"} and {r[3] for r in table[1:]} == {"new"}
    assert "$argon2" not in got.text and "secret" not in got.text
    # Once: the file is gone, a second download is refused.
    assert not list(Path(settings.jobs_dir).glob(f"{job['id']}.*"))
    again = await lead.get(f"/pools/{TEAM}/jobs/{job['id']}/download")
    assert again.status_code == 409
    assert again.json()["errors"][0]["id"] == "jobs.not_downloadable"
    actions = [e.action for e in await rows(h, AuditEvent) if e.target_id == job["id"]]
    assert actions == ["job.create", "job.done", "job.download"]


async def test_jsonl_export_is_typed_and_follows_a_search(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    await add_members(harness, make_key, member("ada@example.com"), member("bob@other.example"))
    lead = await make_key("pool_admin", TEAM)
    job = await _export(
        lead,
        "jsonl",
        ["email", "payload", "payload.terms", "activated_at"],
        search={"q": "example.com"},
    )
    await jobs.drain()
    got = await lead.get(f"/pools/{TEAM}/jobs/{job['id']}/download")
    lines = [json.loads(line) for line in got.text.splitlines()]
    assert len(lines) == 1
    assert lines[0]["email"] == "ada@example.com"
    assert lines[0]["payload.terms"] is True and lines[0]["activated_at"] is None
    assert lines[0]["payload"]["company"] == "Business One"


async def test_bad_columns_are_refused_by_name(harness: Harness, make_key: MakeKey) -> None:
    lead = await make_key("pool_admin", TEAM)
    response = await lead.post(
        f"/pools/{TEAM}/exports", json={"columns": ["email", "password_hash", "payload.nope"]}
    )
    assert response.status_code == 422
    ids = [(e["field"], e["id"]) for e in response.json()["errors"]]
    assert ("columns", "jobs.unknown_column") in ids and len(ids) == 2
    none = await lead.post(f"/pools/{TEAM}/exports", json={"columns": []})
    assert [e["id"] for e in none.json()["errors"]] == ["jobs.no_columns"]
    assert await rows(harness, Job) == []


async def test_other_pools_and_other_people_get_404(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    await add_members(harness, make_key, member("ada@example.com"))
    lead = await make_key("pool_admin", TEAM)
    job = await _export(lead)
    await jobs.drain()
    stranger = await make_key("pool_admin", "partner-1")
    for path in (f"/pools/{TEAM}/jobs/{job['id']}", f"/pools/{TEAM}/jobs/{job['id']}/download"):
        assert (await stranger.get(path)).status_code == 404
    # Its own pool's path does not find another pool's job either.
    mine = await stranger.get(f"/pools/partner-1/jobs/{job['id']}/download")
    assert mine.status_code == 404
    assert (await stranger.post(f"/pools/{TEAM}/exports", json={})).status_code == 404
    # Another administrator of the same pool sees the job but cannot download it.
    colleague = await make_key("pool_admin", TEAM)
    assert (await colleague.get(f"/pools/{TEAM}/jobs/{job['id']}")).status_code == 200
    assert (await colleague.get(f"/pools/{TEAM}/jobs/{job['id']}/download")).status_code == 404
    denied = [e for e in await rows(harness, AuditEvent) if e.outcome == "denied"]
    assert len(denied) >= 4 and all(e.target_type in {"job", "pool"} for e in denied)
    # The requester still can, once.
    assert (await lead.get(f"/pools/{TEAM}/jobs/{job['id']}/download")).status_code == 200


async def test_cancel_a_queued_export(harness: Harness, make_key: MakeKey, jobs) -> None:
    lead = await make_key("pool_admin", TEAM)
    job = await _export(lead)
    cancelled = await lead.post(f"/pools/{TEAM}/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await jobs.drain() == 0
    again = await lead.post(f"/pools/{TEAM}/jobs/{job['id']}/cancel")
    assert again.status_code == 409


async def test_an_export_taken_over_after_a_crash_resumes_where_it_stopped(
    harness: Harness, make_key: MakeKey, jobs: JobWorker, monkeypatch, settings
) -> None:
    """A worker dies after two batches (its lease runs out); another takes the job over,
    cuts the file back to the last checkpoint and writes every user exactly once."""
    h = harness
    ids = await add_members(h, make_key, *(member(f"u{i}@example.com") for i in range(7)))
    monkeypatch.setattr(export, "BATCH", 2)
    lead = await make_key("pool_admin", TEAM)
    job = await _export(lead, columns=["id"])
    crashing = JobWorker(h.web.services)
    batches = 0
    real_write = export._write

    def write_then_die(path, offset, data):
        nonlocal batches
        batches += 1
        if batches == 4:  # header, two batches, then a batch written but never recorded
            real_write(path, offset, data)
            raise SystemExit("killed")
        return real_write(path, offset, data)

    monkeypatch.setattr(export, "_write", write_then_die)
    with contextlib.suppress(SystemExit):
        await crashing.run_once()
    monkeypatch.setattr(export, "_write", real_write)
    async with h.web.services.db.read() as session:
        stuck = (await session.execute(select(Job).where(Job.id == job["id"]))).scalar_one()
    assert stuck.status == "running" and stuck.done == 4
    assert await jobs.drain() == 0  # still leased
    h.clock.advance(seconds=settings.job_lease_seconds + 1)
    assert await jobs.drain() == 1
    got = await lead.get(f"/pools/{TEAM}/jobs/{job['id']}/download")
    exported = [r[0] for r in csv.reader(io.StringIO(got.text))][1:]
    assert sorted(exported) == sorted(ids)


async def test_two_workers_never_run_the_same_job(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    """Two processes' workers claim at once (on PostgreSQL, truly concurrently): one
    runs the job, the other finds nothing."""
    await add_members(harness, make_key, member("ada@example.com"))
    lead = await make_key("pool_admin", TEAM)
    await _export(lead)
    workers = [JobWorker(harness.web.services), JobWorker(harness.web.services)]
    ran = await asyncio.gather(*(w.run_once() for w in workers))
    assert sorted(ran) == [False, True]
    audit = [e.action for e in await rows(harness, AuditEvent) if e.action.startswith("job.")]
    assert audit == ["job.create", "job.done"]


async def test_a_job_of_a_revoked_requester_fails(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    lead = await make_key("pool_admin", TEAM)
    job = await _export(lead)
    async with harness.web.services.db.write() as session:
        await session.execute(
            update(AdminPrincipal)
            .where(AdminPrincipal.id == lead.principal.id)
            .values(revoked_at=harness.clock.now())
        )
    await jobs.drain()
    async with harness.web.services.db.read() as session:
        failed = (await session.execute(select(Job).where(Job.id == job["id"]))).scalar_one()
    assert failed.status == "failed" and failed.error == "jobs.requester_gone"
    assert not list(Path(harness.settings.effective_jobs_dir).glob(f"{job['id']}.*"))


async def test_files_of_old_jobs_are_purged(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    await add_members(harness, make_key, member("ada@example.com"))
    lead = await make_key("pool_admin", TEAM)
    job = await _export(lead)
    await jobs.drain()
    folder = Path(harness.settings.effective_jobs_dir)
    assert list(folder.glob(f"{job['id']}.*"))
    assert await jobs.purge() == 0  # not a day old yet
    harness.clock.advance(seconds=25 * 3600)
    assert await jobs.purge() == 1
    assert not list(folder.glob(f"{job['id']}.*"))
