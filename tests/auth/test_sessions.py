"""End-user sessions (auth/sessions.py): tokens, lifetimes, revocation, the cookie."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from tests.auth.people import make_user
from tests.conftest import Harness, rows
from widget_server.auth import sessions
from widget_server.models import Pool, Session, User


async def _start(h: Harness, user_id: str, pool: str = "partner-1", **kw: Any) -> tuple[str, str]:
    services = h.web.services
    view = await services.pools.get(pool)
    async with services.db.write() as db:
        return await sessions.start_session(
            services,
            db,
            user_id=user_id,
            pool=view,
            app_id=kw.get("app_id"),
            amr=["pwd"],
            ip=kw.get("ip", "203.0.113.7"),
            user_agent=kw.get("user_agent", "pytest"),
        )


async def test_token_is_random_and_only_its_keyed_hash_is_stored(harness: Harness) -> None:
    ada = await make_user(harness)
    token, session_id = await _start(harness, ada.user_id)
    assert len(token) >= 43  # 256 bits, URL-safe base64
    [row] = await rows(harness, Session)
    assert row.id == session_id
    assert token not in (row.token_hash, row.id)
    assert row.token_hash == sessions.token_hash(harness.web.services, token)
    assert row.amr == ["pwd"] and row.ip == "203.0.113.7"
    view = await sessions.current_session(harness.web.services, token, "partner-1")
    assert view is not None and view.id == session_id and view.user_id == ada.user_id
    assert view.amr == ("pwd",)


async def test_every_login_gets_a_new_id_and_token(harness: Harness) -> None:
    ada = await make_user(harness)
    first = await _start(harness, ada.user_id)
    second = await _start(harness, ada.user_id)
    assert first[0] != second[0] and first[1] != second[1]


async def test_absolute_lifetime_ends_a_session_in_use(harness: Harness) -> None:
    services = harness.web.services
    ada = await make_user(harness)
    token, _ = await _start(harness, ada.user_id)
    # Used every 30 minutes, so never idle; the 24 h absolute lifetime still ends it.
    for _ in range(47):
        harness.clock.advance(30 * 60)
        assert await sessions.current_session(services, token, "partner-1") is not None
    harness.clock.advance(30 * 60)
    assert await sessions.current_session(services, token, "partner-1") is None


async def test_idle_lifetime_ends_an_unused_session(harness: Harness) -> None:
    services = harness.web.services
    ada = await make_user(harness)
    token, _ = await _start(harness, ada.user_id)
    harness.clock.advance(3599)
    assert await sessions.current_session(services, token, "partner-1") is not None
    # Touched just now: the idle hour starts again.
    harness.clock.advance(3599)
    assert await sessions.current_session(services, token, "partner-1") is not None
    harness.clock.advance(3600)
    assert await sessions.current_session(services, token, "partner-1") is None


async def test_idle_lifetime_is_the_pools(harness: Harness) -> None:
    services = harness.web.services
    async with services.db.write() as db:
        await db.execute(update(Pool).where(Pool.id == "partner-1").values(session_idle_seconds=60))
    ada = await make_user(harness)
    token, _ = await _start(harness, ada.user_id)
    harness.clock.advance(61)
    assert await sessions.current_session(services, token, "partner-1") is None


async def test_last_seen_is_written_at_most_once_a_minute(harness: Harness) -> None:
    services = harness.web.services
    ada = await make_user(harness)
    token, _ = await _start(harness, ada.user_id)
    start = harness.clock.now()
    harness.clock.advance(30)
    await sessions.current_session(services, token, "partner-1")
    [row] = await rows(harness, Session)
    assert row.last_seen_at == start
    harness.clock.advance(31)
    view = await sessions.current_session(services, token, "partner-1")
    [row] = await rows(harness, Session)
    assert row.last_seen_at == harness.clock.now() == (view and view.last_seen_at)


async def test_a_session_opens_only_its_own_pool(harness: Harness) -> None:
    ada = await make_user(harness)
    token, _ = await _start(harness, ada.user_id)
    assert await sessions.current_session(harness.web.services, token, "partner-2") is None


async def test_unknown_empty_and_oversized_tokens(harness: Harness) -> None:
    services = harness.web.services
    for token in (None, "", "x" * 43, "y" * 5000):
        assert await sessions.current_session(services, token, "partner-1") is None


async def test_only_active_users_keep_their_sessions(harness: Harness) -> None:
    services = harness.web.services
    for status in ("inactive", "new", "deleted"):
        person = await make_user(harness, f"{status}@example.com")
        token, _ = await _start(harness, person.user_id)
        assert await sessions.current_session(services, token, "partner-1") is not None
        # Even if a revocation were missed, the status check keeps them out.
        async with services.db.write() as db:
            await db.execute(update(User).where(User.id == person.user_id).values(status=status))
        assert await sessions.current_session(services, token, "partner-1") is None


async def test_end_session_revokes_it(harness: Harness) -> None:
    services = harness.web.services
    ada = await make_user(harness)
    token, _ = await _start(harness, ada.user_id)
    assert await sessions.end_session(services, token) is True
    assert await sessions.current_session(services, token, "partner-1") is None
    assert await sessions.end_session(services, token) is False
    assert await sessions.end_session(services, None) is False


async def test_revoke_user_sessions_can_keep_one(harness: Harness) -> None:
    services = harness.web.services
    ada = await make_user(harness)
    bob = await make_user(harness, "bob@example.com")
    keep, keep_id = await _start(harness, ada.user_id)
    other, _ = await _start(harness, ada.user_id)
    bobs, _ = await _start(harness, bob.user_id)
    async with services.db.write() as db:
        count = await sessions.revoke_user_sessions(
            db, ada.user_id, harness.clock.now(), except_session_id=keep_id
        )
    assert count == 1
    assert await sessions.current_session(services, keep, "partner-1") is not None
    assert await sessions.current_session(services, other, "partner-1") is None
    assert await sessions.current_session(services, bobs, "partner-1") is not None
    async with services.db.write() as db:
        assert await sessions.revoke_user_sessions(db, ada.user_id, harness.clock.now()) == 1
    assert await sessions.current_session(services, keep, "partner-1") is None


async def test_overlong_client_values_are_cut_not_refused(harness: Harness) -> None:
    ada = await make_user(harness)
    await _start(harness, ada.user_id, user_agent="A" * 1000, ip="1" * 100)
    async with harness.web.services.db.read() as db:
        agent, ip = (await db.execute(select(Session.user_agent, Session.ip))).one()
    assert len(agent) == 255 and len(ip) == 64


def test_cookie_attributes() -> None:
    value = sessions.session_cookie("partner-1", "tok", 3600)
    name_value, *attributes = [part.strip() for part in value.split(";")]
    assert name_value == "ws_session_partner-1=tok"
    assert set(attributes) == {
        "Max-Age=3600",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Partitioned",
    }
    cleared = sessions.clear_session_cookie("partner-1")
    assert cleared.startswith("ws_session_partner-1=;") and "Max-Age=0" in cleared
    assert "Partitioned" in cleared  # a partitioned cookie is only cleared by one
