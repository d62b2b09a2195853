"""Bulk actions as background jobs, on SQLite and PostgreSQL: by ids and by search,
each change audited, skipped users counted by reason, cancel mid-way, one changing job
per pool, scope and role."""

from __future__ import annotations

from tests.admin.keys import MakeKey
from tests.conftest import Harness, rows
from tests.jobs.conftest import TEAM, add_members, member
from widget_server.admin.users import change_status
from widget_server.jobs import bulk
from widget_server.jobs.worker import JobWorker
from widget_server.models import AuditEvent, User


async def _start(client, **body) -> dict:
    response = await client.post(f"/pools/{TEAM}/bulk", json=body)
    assert response.status_code == 202, response.text
    return response.json()


async def _statuses(h: Harness) -> dict[str, str]:
    return {u.id: u.status for u in await rows(h, User)}


async def test_deactivate_chosen_users_and_count_the_skipped(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    h = harness
    ids = await add_members(h, make_key, *(member(f"u{i}@example.com") for i in range(3)))
    lead = await make_key("pool_admin", TEAM)
    for user_id in ids[:2]:
        await change_status(h.web.services, lead.actor, TEAM, user_id, "activate")
    job = await _start(lead, action="deactivate", ids=ids)
    assert job["params"]["ids"] == 3  # a count, not the ids
    await jobs.drain()
    done = (await lead.get(f"/pools/{TEAM}/jobs/{job['id']}")).json()
    assert done["status"] == "done" and done["done"] == 3 and done["total"] == 3
    assert done["result"]["changed"] == 2
    assert done["result"]["reasons"] == {"admin.status_transition": 1}
    statuses = await _statuses(h)
    assert [statuses[i] for i in ids] == ["inactive", "inactive", "new"]
    audited = [e for e in await rows(h, AuditEvent) if e.action == "user.deactivate"]
    assert sorted(e.target_id for e in audited) == sorted(ids[:2])


async def test_all_matching_a_search(harness: Harness, make_key: MakeKey, jobs: JobWorker) -> None:
    h = harness
    ids = await add_members(
        h, make_key, member("a@example.com"), member("b@example.com"), member("c@other.example")
    )
    lead = await make_key("pool_admin", TEAM)
    job = await _start(lead, action="delete", search={"q": "example.com", "status": "new"})
    await jobs.drain()
    statuses = await _statuses(h)
    assert [statuses[i] for i in ids] == ["deleted", "deleted", "new"]
    meta = await _start(lead, action="set_metadata", search={}, key="team", value="blue")
    await jobs.drain()
    users = {u.id: u for u in await rows(h, User)}
    assert users[ids[2]].metadata_ == {"team": "blue"} and users[ids[0]].metadata_ == {}
    assert (await lead.get(f"/pools/{TEAM}/jobs/{meta['id']}")).json()["result"]["changed"] == 1
    drop = await _start(lead, action="set_metadata", ids=[ids[2]], key="team", value=None)
    await jobs.drain()
    assert {u.id: u for u in await rows(h, User)}[ids[2]].metadata_ == {}
    assert drop["kind"] == "bulk" and job["kind"] == "bulk"


async def test_cancel_stops_after_the_current_batch(
    harness: Harness, make_key: MakeKey, jobs: JobWorker, monkeypatch
) -> None:
    h = harness
    ids = await add_members(h, make_key, *(member(f"u{i}@example.com") for i in range(4)))
    monkeypatch.setattr(bulk, "BATCH", 1)
    lead = await make_key("pool_admin", TEAM)
    job = await _start(lead, action="delete", ids=ids)
    real_apply = bulk._apply

    async def apply_then_cancel(ctx, params, user_id):
        reason = await real_apply(ctx, params, user_id)
        response = await lead.post(f"/pools/{TEAM}/jobs/{job['id']}/cancel")
        assert response.status_code == 200
        return reason

    monkeypatch.setattr(bulk, "_apply", apply_then_cancel)
    await jobs.drain()
    done = (await lead.get(f"/pools/{TEAM}/jobs/{job['id']}")).json()
    assert done["status"] == "cancelled" and done["done"] == 1
    assert sorted((await _statuses(h)).values()) == ["deleted", "new", "new", "new"]
    actions = [e.action for e in await rows(h, AuditEvent) if e.target_id == job["id"]]
    assert actions == ["job.create", "job.cancel", "job.cancelled"]


async def test_refusals(harness: Harness, make_key: MakeKey, jobs: JobWorker) -> None:
    ids = await add_members(harness, make_key, member("a@example.com"))
    lead = await make_key("pool_admin", TEAM)
    first = await _start(lead, action="revoke_sessions", ids=ids)
    busy = await lead.post(f"/pools/{TEAM}/bulk", json={"action": "delete", "ids": ids})
    assert busy.status_code == 409 and busy.json()["errors"][0]["id"] == "jobs.busy"
    none = await lead.post(f"/pools/{TEAM}/bulk", json={"action": "delete", "ids": []})
    assert none.status_code == 422 and none.json()["errors"][0]["id"] == "jobs.no_users"
    keyless = await lead.post(f"/pools/{TEAM}/bulk", json={"action": "set_metadata", "search": {}})
    assert [e["id"] for e in keyless.json()["errors"]] == ["jobs.metadata_key"]
    stranger = await make_key("pool_admin", "partner-1")
    theirs = await stranger.post(f"/pools/{TEAM}/bulk", json={"action": "delete", "ids": ids})
    assert theirs.status_code == 404
    assert (await stranger.post(f"/pools/{TEAM}/jobs/{first['id']}/cancel")).status_code == 404
    viewer = await make_key("pool_viewer", TEAM)
    refused = await viewer.post(f"/pools/{TEAM}/bulk", json={"action": "delete", "ids": ids})
    assert refused.status_code == 403
    await jobs.drain()
    # The first finished: the pool takes a new changing job again.
    assert (
        await lead.post(f"/pools/{TEAM}/bulk", json={"action": "delete", "ids": ids})
    ).status_code == 202
    openapi = (await harness.client.get("/api/admin/openapi.json")).json()
    for path in ("/bulk", "/exports", "/imports", "/jobs/{job_id}/download"):
        assert any(p.endswith(path) for p in openapi["paths"]), path
