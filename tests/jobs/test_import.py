"""Imports as background jobs, on SQLite and PostgreSQL: the dry run reports every bad
row and writes nothing; the import creates invited and active users (imported hashes
verified at the first login, then rehashed), is idempotent by address, resumes after a
crash, refuses a second changing job, and keeps to the pool."""

from __future__ import annotations

import contextlib
import json

import bcrypt
from passlib.hash import django_pbkdf2_sha256, scrypt
from sqlalchemy import select

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness, count, rows
from tests.jobs.conftest import TEAM, add_members, member
from tests.web.login_client import LoginClient
from widget_server.jobs import importing
from widget_server.jobs.worker import JobWorker
from widget_server.models import Address, AuditEvent, Credential, Job, OutboxMessage, User

FIELDS = ("first_name", "last_name", "company", "date_of_birth", "country", "terms")
HEADER = ",".join(["email", "status", "password_hash", *(f"payload.{f}" for f in FIELDS)])
GOOD = "Mia,Member,Business One,1990-05-01,DE,true"


async def upload(client: AdminClient, body: bytes, fmt: str = "csv", pool: str = TEAM) -> dict:
    response = await client.post(f"/pools/{pool}/imports", params={"format": fmt}, content=body)
    assert response.status_code == 202, response.text
    return response.json()


async def problems(client: AdminClient, job_id: str, pool: str = TEAM) -> list[tuple]:
    page = (
        await client.get(f"/pools/{pool}/jobs/{job_id}/problems", params={"limit": 1000})
    ).json()
    return [(p["line"], p["field"], p["id"]) for p in page["items"]]


async def job(client: AdminClient, job_id: str, pool: str = TEAM) -> dict:
    return (await client.get(f"/pools/{pool}/jobs/{job_id}")).json()


async def test_the_dry_run_reports_every_bad_row_and_writes_nothing(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    h = harness
    await add_members(h, make_key, member("taken@example.com"))
    lead = await make_key("pool_admin", TEAM)
    bcrypt_hash = bcrypt.hashpw(b"Blue-Harbour-Kettle-42", bcrypt.gensalt(4)).decode()
    lines = [
        HEADER,
        f"ok@example.com,new,,{GOOD}",  # 2
        f"not-an-address,new,,{GOOD}",  # 3
        f"ok@example.com,new,,{GOOD}",  # 4: repeated
        f"TAKEN@example.com,new,,{GOOD}",  # 5: already a user's
        "bad-date@example.com,new,,Mia,Member,Business One,yesterday,DE,true",  # 6
        f"hash@example.com,active,md5$abc$def,{GOOD}",  # 7: unknown format
        f"nohash@example.com,active,,{GOOD}",  # 8
        "short@example.com,new",  # 9: too few values
        "x" * 200_000,  # 10: far over the line bound
        f"active@example.com,active,{bcrypt_hash},{GOOD}",  # 11
    ]
    body = "\n".join(lines).encode() + b"\n" + b"caf\xe9@example.com,new\n"  # 12: Latin-1
    users_before = await count(h, User)
    dry = await upload(lead, body)
    assert dry["kind"] == "import" and dry["params"]["dry_run"] is True
    await jobs.drain()
    done = await job(lead, dry["id"])
    assert done["status"] == "done", done
    assert (
        done["result"].items() >= {"rows": 11, "valid": 2, "invalid": 9, "importable": True}.items()
    )
    assert await problems(lead, dry["id"]) == [
        (3, "email", "form.email_invalid"),
        (4, "email", "import.duplicate_in_file"),
        (5, "email", "import.address_exists"),
        (6, "payload.date_of_birth", "form.date_invalid"),
        (7, "password_hash", "import.hash_unknown"),
        (8, "password_hash", "import.active_needs_hash"),
        (9, None, "import.cells"),
        (10, None, "import.line_too_long"),
        (12, None, "import.encoding"),
    ]
    assert await count(h, User) == users_before
    assert await count(h, OutboxMessage) == users_before  # only the first user's invitation


async def test_a_file_without_a_usable_header_cannot_be_imported(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    lead = await make_key("pool_admin", TEAM)
    missing = await upload(lead, b"ada@example.com,new\n")
    extra = await upload(lead, b"email,nickname,payload.first_name\nada@example.com,Ada,Ada\n")
    await jobs.drain()
    assert await problems(lead, missing["id"]) == [(1, None, "import.header_missing")]
    assert await problems(lead, extra["id"]) == [(1, "nickname", "import.unknown_column")]
    for dry in (missing, extra):
        assert (await job(lead, dry["id"]))["result"]["importable"] is False
        refused = await lead.post(f"/pools/{TEAM}/imports/{dry['id']}/start")
        assert refused.status_code == 409
        assert refused.json()["errors"][0]["id"] == "jobs.not_checked"
    empty = await lead.post(f"/pools/{TEAM}/imports", content=b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["id"] == "jobs.file_missing"


async def test_import_invites_new_users_and_imports_hashes_then_a_rerun_adds_nobody(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    h = harness
    lead = await make_key("pool_admin", "partner-1")
    password = "Blue-Harbour-Kettle-42"
    hashes = {
        "bc@example.com": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode(),
        "dj@example.com": django_pbkdf2_sha256.using(rounds=1000).hash(password),
        "sc@example.com": scrypt.using(rounds=4).hash(password),
    }
    lines = ["email,status,password_hash,metadata.team"]
    lines += [f'{email},active,"{hash_}",blue' for email, hash_ in hashes.items()]
    lines += [f"new{i}@example.com,new,,red" for i in range(3)]
    dry = await upload(lead, "\n".join(lines).encode(), pool="partner-1")
    await jobs.drain()
    assert (await job(lead, dry["id"], "partner-1"))["result"]["valid"] == 6
    started = await lead.post(f"/pools/partner-1/imports/{dry['id']}/start")
    assert started.status_code == 202, started.text
    await jobs.drain()
    done = await job(lead, started.json()["id"], "partner-1")
    assert done["status"] == "done"
    assert done["result"].items() >= {"rows": 6, "created": 6, "existing": 0, "invited": 3}.items()
    users = {u.id: u for u in await rows(h, User)}
    addresses = {a.value: a for a in await rows(h, Address)}
    assert {users[addresses[e].user_id].status for e in hashes} == {"active"}
    assert all(addresses[e].status == "verified" for e in hashes)
    assert users[addresses["new0@example.com"].user_id].metadata_ == {"team": "red"}
    invitations = [m for m in await rows(h, OutboxMessage)]
    assert sorted(m.recipient for m in invitations) == [f"new{i}@example.com" for i in range(3)]
    imported = [e for e in await rows(h, AuditEvent) if e.action == "user.import"]
    assert len(imported) == 6 and all(e.details["job"] == done["id"] for e in imported)
    assert "password_hash" not in json.dumps([e.details for e in imported])
    # The first login verifies the imported hash and replaces it with argon2.
    for email in hashes:
        page = await LoginClient(h, "partner-1").log_in(email, password)
        assert page.state == "done", (email, page.message_ids)
    stored = [c.secret_hash for c in await rows(h, Credential)]
    assert len(stored) == 3 and all(s.startswith("$argon2id$") for s in stored)
    wrong = await LoginClient(h, "partner-1").log_in("new0@example.com", password)
    assert wrong.state != "done"
    # Again from the same dry run: idempotent by address.
    again = await lead.post(f"/pools/partner-1/imports/{dry['id']}/start")
    await jobs.drain()
    second = await job(lead, again.json()["id"], "partner-1")
    assert second["result"].items() >= {"created": 0, "existing": 6}.items()
    assert await count(h, User) == 6


async def test_jsonl_import(harness: Harness, make_key: MakeKey, jobs: JobWorker) -> None:
    lead = await make_key("pool_admin", TEAM)
    good = {"email": "ada@example.com", "payload": dict(member("x@example.com").payload)}
    lines = [json.dumps(good), json.dumps({"email": "b@example.com", "nick": 1}), "[1]"]
    dry = await upload(lead, "\n".join(lines).encode(), "jsonl")
    await jobs.drain()
    assert await problems(lead, dry["id"]) == [
        (2, "nick", "import.unknown_column"),
        (3, None, "import.json_malformed"),
    ]
    start = await lead.post(f"/pools/{TEAM}/imports/{dry['id']}/start")
    await jobs.drain()
    assert (await job(lead, start.json()["id"]))["result"]["created"] == 1


async def test_one_changing_job_per_pool_and_other_pools_get_404(
    harness: Harness, make_key: MakeKey, jobs: JobWorker
) -> None:
    lead = await make_key("pool_admin", TEAM)
    dry = await upload(lead, f"{HEADER}\nada@example.com,new,,{GOOD}\n".encode())
    await jobs.drain()
    first = await lead.post(f"/pools/{TEAM}/imports/{dry['id']}/start")
    assert first.status_code == 202
    second = await lead.post(f"/pools/{TEAM}/imports/{dry['id']}/start")
    assert second.status_code == 409 and second.json()["errors"][0]["id"] == "jobs.busy"
    # A dry run and an export are not changes: they may run beside it.
    assert (await lead.post(f"/pools/{TEAM}/imports", content=b"email\n")).status_code == 202
    stranger = await make_key("pool_admin", "partner-1")
    for path in (
        f"/pools/{TEAM}/jobs/{dry['id']}/problems",
        f"/pools/partner-1/jobs/{dry['id']}/problems",
    ):
        assert (await stranger.get(path)).status_code == 404
    assert (await stranger.post(f"/pools/partner-1/imports/{dry['id']}/start")).status_code == 404
    viewer = await make_key("pool_viewer", TEAM)
    assert (await viewer.post(f"/pools/{TEAM}/imports", content=b"email\n")).status_code == 403


async def test_an_import_killed_mid_way_resumes_and_creates_everyone_once(
    harness: Harness, make_key: MakeKey, jobs: JobWorker, monkeypatch, settings
) -> None:
    """The worker dies inside its third batch (after two committed); the batch rolls
    back, the lease runs out, another worker resumes from the checkpoint."""
    h = harness
    monkeypatch.setattr(importing, "BATCH", 2)
    lead = await make_key("pool_admin", TEAM)
    emails = [f"m{i}@example.com" for i in range(7)]
    body = "\n".join([HEADER, *(f"{e},new,,{GOOD}" for e in emails)]).encode()
    dry = await upload(lead, body)
    await jobs.drain()
    started = (await lead.post(f"/pools/{TEAM}/imports/{dry['id']}/start")).json()
    real_create = importing._create
    calls = 0

    async def create_then_die(ctx, session, rows_, cursor):
        nonlocal calls
        calls += 1
        created = await real_create(ctx, session, rows_, cursor)
        if calls == 3:
            raise SystemExit("killed mid-batch")
        return created

    monkeypatch.setattr(importing, "_create", create_then_die)
    with contextlib.suppress(SystemExit):
        await JobWorker(h.web.services).run_once()
    monkeypatch.setattr(importing, "_create", real_create)
    async with h.web.services.db.read() as session:
        stuck = (await session.execute(select(Job).where(Job.id == started["id"]))).scalar_one()
    assert stuck.status == "running" and stuck.result["created"] == 4
    assert await count(h, User) == 4
    h.clock.advance(seconds=settings.job_lease_seconds + 1)
    assert await jobs.drain() == 1
    done = await job(lead, started["id"])
    assert done["status"] == "done"
    assert done["result"].items() >= {"rows": 7, "created": 7, "existing": 0}.items()
    values = sorted(a.value for a in await rows(h, Address))
    assert values == sorted(emails)
    assert await count(h, User) == 7


async def test_invitations_are_spread_to_the_rate(
    harness: Harness, make_key: MakeKey, jobs: JobWorker, monkeypatch, manual_outbox: None
) -> None:
    monkeypatch.setattr(importing, "BATCH", 2)
    h = harness
    lead = await make_key("pool_admin", "partner-1")
    body = "\n".join(["email", *(f"n{i}@example.com" for i in range(6))]).encode()
    dry = await upload(lead, body, pool="partner-1")
    await jobs.drain()
    await lead.post(f"/pools/partner-1/imports/{dry['id']}/start")
    await jobs.drain()
    due = sorted(m.next_attempt_at for m in await rows(h, OutboxMessage))
    now = h.clock.now()
    # 600 a minute: each batch of two waits 0.2 s more than the one before.
    offsets = [round((d - now).total_seconds(), 1) for d in due]
    assert offsets == [0.0, 0.0, 0.2, 0.2, 0.4, 0.4]
