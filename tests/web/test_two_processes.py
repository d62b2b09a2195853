"""Every piece of state a server process keeps, across two processes on one PostgreSQL
database and one Redis (docs/architecture.md, "State shared across processes"): what one
process changes or counts, the other applies or counts at once.

The processes are two ``create_app`` instances (tests/two_apps.py). Where a cache could
also have caught up by expiring, its lifetime is raised to an hour first, so only the
broadcast can explain what the other process sees.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text, update

from tests.admin.keys import AdminClient, insert_key
from tests.auth.people import make_user
from tests.branding.conftest import actor
from tests.conftest import PARTNER, Harness, rows
from tests.two_apps import two_apps
from tests.web.login_client import LoginClient
from tests.web.portal_client import OPERATOR, seed_admins
from widget_server import pools
from widget_server.branding import catalogue, publishing
from widget_server.branding.catalogue import DraftEdit
from widget_server.changes import PostgresFeed
from widget_server.mail.outbox import enqueue_email
from widget_server.mail.senders import Envelope
from widget_server.models import OutboxMessage, Pool
from widget_server.oidc import keys

pytestmark = pytest.mark.postgres
NEW_ORIGIN = "https://shop.example.com"


@pytest.fixture(autouse=True)
def caches_that_never_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pools, "CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(keys, "CACHE_SECONDS", 3600.0)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3.0) -> float:
    """Seconds until ``check()`` holds (a notification travels through PostgreSQL)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        assert loop.time() - start < seconds, "the other process never learned of the change"
        await asyncio.sleep(0.01)
    return loop.time() - start


def frame_ancestors(page_headers: object) -> str:
    csp = str(page_headers["content-security-policy"])  # type: ignore[index]
    match = re.search(r"frame-ancestors ([^;]*)", csp)
    return match.group(1) if match else ""


async def test_pool_changes_on_one_process_apply_on_the_other_at_once() -> None:
    async with two_apps() as (a, b):
        operator = await insert_key(a, "tenant_admin")

        async def b_form(origin: str = PARTNER) -> tuple[int, str, str]:
            page = await b.client.get("/embed/partner-1/register", params={"parent_origin": origin})
            return page.status_code, frame_ancestors(page.headers), page.text

        async def b_theme() -> str:
            return (await b.client.get("/embed/partner-1/theme.css")).text

        # B has the pool cached (for an hour, see the fixture) before A changes it.
        status, ancestors, _ = await b_form()
        assert status == 200 and NEW_ORIGIN not in ancestors
        theme_before = await b_theme()

        # Allowed origins.
        await patch(operator, {"allowed_origins": [PARTNER, NEW_ORIGIN]})
        waited = await eventually(lambda: _has_origin(b_form))
        assert waited < 1.0

        # A theme change.
        await patch(operator, {"theme": {"colors": {"primary": "#123456"}}})
        await eventually(lambda: _changed(b_theme, theme_before))
        assert "#123456" in await b_theme()

        # A pool closed to sign-ups.
        await patch(operator, {"self_registration": False})
        await eventually(lambda: _status_is(b_form, 403))


async def test_a_theme_published_through_one_process_shows_on_the_other_at_once() -> None:
    async with two_apps() as (a, b):

        async def b_theme() -> str:
            return (await b.client.get("/embed/partner-1/theme.css")).text

        before = await b_theme()  # the demo's "ACME Partners" theme, cached on B
        assert "#b42318" in before
        designer = actor("brand_designer", name="Bea Brand")
        theme = await catalogue.get_theme(a.web.services, designer, "acme-partners")
        tokens = {**theme.draft, "colors": {**theme.draft["colors"], "primary": "#0b6e4f"}}
        await catalogue.save_draft(
            a.web.services, designer, "acme-partners", DraftEdit(tokens=tokens)
        )
        assert await b_theme() == before  # a draft is not live anywhere
        await publishing.publish_theme(a.web.services, designer, "acme-partners")
        await eventually(lambda: _changed(b_theme, before))
        assert "#0b6e4f" in await b_theme()


async def patch(operator: AdminClient, body: dict[str, object]) -> None:
    response = await operator.patch("/pools/partner-1", json=body)
    assert response.status_code == 200, response.text


async def _has_origin(form: Callable[[], Awaitable[tuple[int, str, str]]]) -> bool:
    return NEW_ORIGIN in (await form())[1]


async def _changed(read: Callable[[], Awaitable[str]], before: str) -> bool:
    return await read() != before


async def _status_is(form: Callable[[], Awaitable[tuple[int, str, str]]], status: int) -> bool:
    return (await form())[0] == status


async def test_a_listener_that_lost_its_connection_reconnects_and_forgets_everything() -> None:
    async with two_apps() as (a, b):
        operator = await insert_key(a, "tenant_admin")
        assert (await b.client.get("/embed/partner-1/register")).status_code == 200
        feed = b.web.services.changes
        assert isinstance(feed, PostgresFeed)
        # A change whose notification B never got (sent while B was reconnecting).
        async with a.web.services.db.write() as session:
            await session.execute(
                update(Pool).where(Pool.id == "partner-1").values(self_registration=False)
            )
        assert (await b.client.get("/embed/partner-1/register")).status_code == 200
        # The database drops the listening sessions (a failover, an idle timeout).
        connects = feed.connects
        async with a.web.services.db.write() as session:
            killed = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'widget-server changes' AND pid <> pg_backend_pid() "
                    # Only this test's database: other runs on the same server have listeners too.
                    "AND datname = current_database()"
                )
            )
        assert killed == 2  # A's and B's listeners
        # B connects again and, as it may have missed anything, drops every snapshot.
        await eventually(lambda: _more(feed, connects))
        assert (await b.client.get("/embed/partner-1/register")).status_code == 403
        # And it hears the next change again.
        await patch(operator, {"self_registration": True})
        await eventually(lambda: _ok(b.client.get("/embed/partner-1/register")))


async def _more(feed: PostgresFeed, connects: int) -> bool:
    return feed.connects > connects and feed.connected.is_set()


async def _ok(response: Awaitable[object]) -> bool:
    return (await response).status_code == 200  # type: ignore[attr-defined]


async def test_a_signing_key_rotated_through_one_process_is_published_by_the_other() -> None:
    async with two_apps() as (a, b):

        async def kids(h: Harness) -> list[str]:
            body = (await h.client.get("/.well-known/jwks.json")).json()
            return [k["kid"] for k in body["keys"]]

        (first,) = await kids(b)  # B made and cached the first key
        a.clock.advance(1)
        new = await a.app.state.oidc_keys.rotate()
        await eventually(lambda: _equals(kids(b), [new, first]))
        # Neither signs with it yet: relying parties' cached copies lack it.
        for h in (a, b):
            assert (await h.app.state.oidc_keys.active()).kid == first
        a.clock.advance(keys.PUBLISH_AHEAD.total_seconds())
        for h in (a, b):
            assert (await h.app.state.oidc_keys.active()).kid == new
        # Retiring the old key on A: B stops publishing it at once.
        assert await a.app.state.oidc_keys.retire(first, a.clock.now())
        await eventually(lambda: _equals(kids(b), [new]))


async def _equals(read: Awaitable[list[str]], expected: list[str]) -> bool:
    return await read == expected


async def test_the_portal_sign_in_throttle_counts_across_processes() -> None:
    async with two_apps() as (a, b):
        await seed_admins(a)
        for attempt in range(5):
            h = (a, b)[attempt % 2]
            assert await portal_sign_in(h, OPERATOR.email, "wrong password") == 401
        # Five failures, split between the processes: both brake now.
        for h in (a, b):
            assert await portal_sign_in(h, OPERATOR.email, OPERATOR.password) == 429
        a.clock.advance(1)
        assert await portal_sign_in(b, OPERATOR.email, OPERATOR.password) == 303


async def portal_sign_in(h: Harness, email: str, password: str) -> int:
    data = {"email": email, "password": password}
    return (await h.client.post("/admin/login", data=data)).status_code


async def test_the_end_user_login_throttle_counts_across_processes() -> None:
    async with two_apps() as (a, b):
        ada = await make_user(a)
        for attempt in range(5):
            page = await LoginClient((a, b)[attempt % 2]).log_in(ada.email, "wrong password!")
            assert page.message_ids == ["login.failed"]
        for h in (a, b):
            page = await LoginClient(h).log_in(ada.email, ada.password)
            assert page.status == 429 and page.message_ids == ["login.throttled"]


async def test_messages_claimed_by_a_process_that_died_are_sent_by_another() -> None:
    async with two_apps(outbox_lease_seconds=30.0) as (a, b):
        for h in (a, b):
            await h.outbox.stop()  # the test runs the rounds itself
        services = a.web.services
        async with services.db.write() as session:
            for n in range(5):
                envelope = Envelope(
                    recipient=f"p{n}@example.com", subject=f"code {n}", body_text="text"
                )
                assert await enqueue_email(session, services.clock, envelope, per_hour=5)
        # A takes the messages and dies before sending any (SIGKILL after the claim).
        claimed = await a.outbox._claim_batch()  # the first half of a round
        assert len(claimed) == 5
        # B does not send what A holds...
        assert await b.outbox.deliver_due() == 0
        a.clock.advance(29)
        assert await b.outbox.deliver_due() == 0
        # ...until A's lease has run out.
        a.clock.advance(1)
        assert await b.outbox.deliver_due() == 5
        assert sorted(e.recipient for e in b.sender.sent) == [f"p{n}@example.com" for n in range(5)]
        assert a.sender.sent == []
        assert {m.status for m in await rows(a, OutboxMessage)} == {"sent"}


async def test_two_workers_delivering_at_once_send_each_message_once() -> None:
    async with two_apps() as (a, b):
        for h in (a, b):
            await h.outbox.stop()
        services = a.web.services
        async with services.db.write() as session:
            for n in range(120):
                envelope = Envelope(
                    recipient=f"q{n}@example.com", subject=f"code {n}", body_text="t"
                )
                assert await enqueue_email(session, services.clock, envelope, per_hour=5)

        async def drain(h: Harness) -> None:
            while await h.outbox.deliver_due():
                pass

        await asyncio.gather(drain(a), drain(b))
        sent = [e.recipient for e in a.sender.sent + b.sender.sent]
        assert sorted(sent) == sorted(f"q{n}@example.com" for n in range(120))
