"""Searching, sorting and paging a pool's users (users/search.py) through the admin API,
on SQLite and PostgreSQL: filters, sort orders, keyset cursors both ways, totals, bad
cursors, the columns kept by migration 0009's triggers, and the indexes the queries use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.admin.keys import AdminClient
from tests.conftest import Harness
from widget_server import secrets_
from widget_server.models import Address, Credential, Session, User
from widget_server.users import search

POOL = "business-1"
PEOPLE = [
    # (email, given, family, department)
    ("zoe.adams@acme.test", "Zoë", "Adams", "Sales"),
    ("ben.brown@acme.test", "Ben", "Brown", "Engineering"),
    ("carla.diaz@acme.test", "Carla", "Díaz", "Engineering"),
    ("dan.evans@acme.test", "Dan", "Evans", "Support"),
    ("ann.lovelace@acme.test", "Ann", "Lovelace", "Research"),
    ("max.mustermann@acme.test", "Max", "Mustermann", "Sales"),
    ("eve.young@acme.test", "Eve", "Young", "Legal"),
]


async def seed(h: Harness) -> list[str]:
    """The people above, one second apart (oldest first); the first three activated."""
    ids: list[str] = []
    start = h.clock.now()
    async with h.web.services.db.write() as session:
        for n, (email, given, family, department) in enumerate(PEOPLE):
            when = start + timedelta(seconds=n)
            user_id = secrets_.new_id()
            session.add(
                User(
                    id=user_id,
                    pool_id=POOL,
                    status="active" if n < 3 else "new",
                    payload={"first_name": given, "last_name": family, "company": department},
                    metadata_={},
                    created_at=when,
                    updated_at=when,
                    activated_at=when + timedelta(hours=n) if n < 3 else None,
                    created_by=None,
                    deleted_at=None,
                )
            )
            await session.flush()
            session.add(
                Address(
                    id=secrets_.new_id(),
                    user_id=user_id,
                    pool_id=POOL,
                    kind="email",
                    value=email,
                    status="verified",
                    verified_at=when,
                    created_at=when,
                )
            )
            ids.append(user_id)
    return ids


async def listed(client: AdminClient, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/pools/{POOL}/users", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def emails(body: dict[str, Any]) -> list[str]:
    return [u["addresses"][0]["value"] for u in body["items"]]


async def test_filters(harness: Harness, operator: AdminClient) -> None:
    await seed(harness)
    assert emails(await listed(operator, prefix="BEN."))[0] == "ben.brown@acme.test"
    assert emails(await listed(operator, q="AN.EV")) == ["dan.evans@acme.test"]
    assert set(emails(await listed(operator, q="ann"))) == {
        "max.mustermann@acme.test",
        "ann.lovelace@acme.test",
    }
    assert emails(await listed(operator, name="ann love")) == ["ann.lovelace@acme.test"]
    assert emails(await listed(operator, name="DÍAZ")) == ["carla.diaz@acme.test"]
    # x-searchable (company): part of the value, any case.
    found = await listed(operator, field="company", value="ENGIN")
    assert set(emails(found)) == {"ben.brown@acme.test", "carla.diaz@acme.test"}
    assert emails(await listed(operator, q="%")) == []  # LIKE wildcards are literal
    assert len((await listed(operator, status="active"))["items"]) == 3
    day = harness.clock.now().date().isoformat()
    assert len((await listed(operator, created_from=day, created_to=day))["items"]) == 7
    assert len((await listed(operator, activated_from=day))["items"]) == 3


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("address", sorted(p[0] for p in PEOPLE)),
        ("-address", sorted((p[0] for p in PEOPLE), reverse=True)),
        ("-created", [p[0] for p in reversed(PEOPLE)]),
        ("name", [p[0] for p in sorted(PEOPLE, key=lambda p: f"{p[1]} {p[2]}".lower())]),
    ],
)
async def test_cursor_pages_walk_every_user_once_both_ways(
    harness: Harness, operator: AdminClient, sort: str, expected: list[str]
) -> None:
    await seed(harness)
    forward: list[str] = []
    body = await listed(operator, sort=sort, limit=3)
    assert (body["total"], body["total_kind"], body["prev_cursor"]) == (7, "exact", None)
    while True:
        forward += emails(body)
        if not body["next_cursor"]:
            break
        body = await listed(operator, sort=sort, limit=3, cursor=body["next_cursor"])
    assert forward == expected
    # From the last page back to the first.
    body = await listed(operator, sort=sort, limit=3, cursor=body["last_cursor"])
    assert emails(body) == expected[-3:] and body["next_cursor"] is None
    backward: list[str] = []
    while True:
        backward = emails(body) + backward
        if not body["prev_cursor"]:
            break
        body = await listed(operator, sort=sort, limit=3, cursor=body["prev_cursor"])
    assert backward == expected


async def test_activated_and_last_login_sorts(harness: Harness, operator: AdminClient) -> None:
    ids = await seed(harness)
    body = await listed(operator, sort="-activated", limit=3)
    assert emails(body) == [p[0] for p in PEOPLE[:3]][::-1]
    now = harness.clock.now() + timedelta(days=1)
    async with harness.web.services.db.write() as session:
        session.add(
            Session(
                id=secrets_.new_id(),
                token_hash=secrets_.new_token(32),
                user_id=ids[4],
                pool_id=POOL,
                app_id=None,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=1),
                revoked_at=None,
                ip=None,
                user_agent=None,
            )
        )
    body = await listed(operator, sort="-last_login", limit=1)
    assert emails(body) == ["ann.lovelace@acme.test"]
    assert body["items"][0]["last_login_at"] is not None


async def test_sort_address_follows_the_addresses(harness: Harness) -> None:
    ids = await seed(harness)
    db = harness.web.services.db
    async with db.write() as session:
        await session.execute(text("DELETE FROM addresses WHERE user_id = :u"), {"u": ids[0]})
    async with db.read() as session:
        read = text("SELECT sort_address FROM users WHERE id = :u")
        kept = await session.scalar(read, {"u": ids[0]})
        other = await session.scalar(read, {"u": ids[1]})
    assert (kept, other) == ("", "ben.brown@acme.test")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_the_sort_address_trigger_rewrites_a_user_only_when_it_changes(
    harness: Harness,
) -> None:
    """PostgreSQL: an update that changes nothing is skipped (the row keeps its place,
    ``ctid``), so a registration, which inserts its user with the address it gets, writes
    the user row once and not a second time into every index of ``users``."""
    ids = await seed(harness)
    db = harness.web.services.db
    where = text("SELECT ctid::text, sort_address FROM users WHERE id = :u")

    async def row() -> tuple[str, str]:
        async with db.read() as session:
            found = (await session.execute(where, {"u": ids[1]})).one()
            return str(found[0]), str(found[1])

    def address(value: str) -> Address:
        return Address(
            id=secrets_.new_id(),
            user_id=ids[1],
            pool_id=POOL,
            kind="phone",
            value=value,
            status="verified",
            verified_at=harness.clock.now(),
            created_at=harness.clock.now(),
        )

    before = await row()
    async with db.write() as session:
        session.add(address("zzz-not-the-smallest"))
    assert await row() == before  # the smallest address is the same: untouched
    async with db.write() as session:
        session.add(address("+15550001"))
    after = await row()
    assert after[1] == "+15550001" and after[0] != before[0]


async def test_a_registered_user_sorts_by_its_address(harness: Harness, widget: Any) -> None:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="Reg@Example.com", password="Blue-Harbour-Kettle-42")
    assert page.state == "code"
    async with harness.web.services.db.read() as session:
        found = await session.scalar(text("SELECT sort_address FROM users"))
    assert found == "reg@example.com"


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "WyJuYW1lIiwiYSIsIngiLCJ5Il0", "", "eyJ9"],
)
async def test_a_bad_cursor_is_400_with_its_message_id(
    harness: Harness, operator: AdminClient, cursor: str
) -> None:
    response = await operator.get(f"/pools/{POOL}/users", params={"cursor": cursor or "%%"})
    assert response.status_code == 400
    assert [e["id"] for e in response.json()["errors"]] == ["admin.bad_cursor"]


async def test_a_cursor_of_another_sort_is_refused(harness: Harness, operator: AdminClient) -> None:
    await seed(harness)
    body = await listed(operator, sort="name", limit=2)
    response = await operator.get(
        f"/pools/{POOL}/users", params={"sort": "address", "cursor": body["next_cursor"]}
    )
    assert response.status_code == 400


async def test_bad_parameters_are_named(harness: Harness, operator: AdminClient) -> None:
    for params, field in (
        ({"created_from": "yesterday"}, "created_from"),
        ({"field": "nope", "value": "x"}, "field"),
        ({"limit": 201}, "limit"),
    ):
        response = await operator.get(f"/pools/{POOL}/users", params=params)
        assert response.status_code in (400, 422), params
        assert field in str(response.json()), params


async def test_totals_past_the_exact_limit(
    harness: Harness, operator: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(harness)
    monkeypatch.setattr(search, "EXACT_UP_TO", 5)
    body = await listed(operator, limit=2)
    if harness.web.services.db.is_sqlite:
        assert (body["total"], body["total_kind"]) == (5, "at_least")
    else:
        assert body["total_kind"] in {"estimate", "at_least"} and body["total"] >= 5


async def test_keyset_queries_use_the_indexes_on_sqlite(harness: Harness) -> None:
    db = harness.web.services.db
    if not db.is_sqlite:
        pytest.skip("PostgreSQL plans: bench/users_at_scale.py --explain at scale")
    for sort, index in (
        ("-created", "ix_users_pool_created"),
        ("name", "ix_users_pool_name"),
        ("-activated", "ix_users_pool_activated"),
        ("-last_login", "ix_users_pool_last_login"),
        ("address", "ix_users_pool_address"),
    ):
        key = search.sort_key(sort, "sqlite")
        query = (
            search.select(User.id)
            .where(User.pool_id == POOL)
            .order_by(key.desc(), User.id.desc())
            .limit(5)
        )
        sql = str(query.compile(db.engine.sync_engine, compile_kwargs={"literal_binds": True}))
        async with db.read() as session:
            plan = " ".join(
                str(r[-1]) for r in await session.execute(text("EXPLAIN QUERY PLAN " + sql))
            )
        assert index in plan, (sort, plan)


@pytest.mark.parametrize("one_pass_up_to", [search.ONE_PASS_UP_TO, 2])
async def test_a_text_search_pages_both_ways_and_counts(
    harness: Harness, operator: AdminClient, monkeypatch: pytest.MonkeyPatch, one_pass_up_to: int
) -> None:
    """On PostgreSQL a text search matching at most ``ONE_PASS_UP_TO`` users is paged
    and counted in one statement, past it the usual way: the same pages either way."""
    await seed(harness)
    monkeypatch.setattr(search, "ONE_PASS_UP_TO", one_pass_up_to)
    expected = [p[0] for p in reversed(PEOPLE) if "n" in p[0]]
    assert len(expected) == 5
    body = await listed(operator, q="n", limit=2)
    one_pass = harness.web.services.db.is_sqlite or one_pass_up_to >= len(expected)
    if one_pass:
        assert (body["total"], body["total_kind"]) == (5, "exact")
    else:
        assert body["total_kind"] in {"estimate", "at_least"} and body["total"] >= 2
    forward: list[str] = []
    while True:
        forward += emails(body)
        if not body["next_cursor"]:
            break
        body = await listed(operator, q="n", limit=2, cursor=body["next_cursor"])
    assert forward == expected
    body = await listed(operator, q="n", limit=2, cursor=body["last_cursor"])
    assert emails(body) == expected[-2:] and body["next_cursor"] is None
    backward: list[str] = []
    while True:
        backward = emails(body) + backward
        if not body["prev_cursor"]:
            break
        body = await listed(operator, q="n", limit=2, cursor=body["prev_cursor"])
    assert backward == expected
    # Past the last match: no rows, and the total still counted.
    beyond = await listed(operator, q="n", limit=2, offset=10)
    assert beyond["items"] == [] and beyond["total"] == (5 if one_pass else beyond["total"])
    assert (await listed(operator, q="nobody-has-this"))["total"] == 0


async def test_the_list_says_who_has_a_password(harness: Harness, operator: AdminClient) -> None:
    ids = await seed(harness)
    now = harness.clock.now()
    async with harness.web.services.db.write() as session:
        session.add(
            Credential(
                id=secrets_.new_id(),
                user_id=ids[1],
                kind="password",
                secret_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
                created_at=now,
                updated_at=now,
            )
        )
    for params in ({}, {"q": "acme"}, {"name": "n"}):
        body = await listed(operator, **params)
        flags = {u["addresses"][0]["value"]: u["has_password"] for u in body["items"]}
        assert flags.pop("ben.brown@acme.test") is True, params
        assert set(flags.values()) == {False}, params
        assert "secret_hash" not in str(body)
