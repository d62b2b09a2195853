"""An admin's new user finishes in the widget: the invitation (code, then password) and
the set-password link, over HTTP, with and without htmx, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import PARTNER, Harness, deliver_all, rows
from widget_server.admin import users
from widget_server.admin.access import Actor, Principal
from widget_server.models import Address, Code, Credential, Flow, PasswordHistory, Pool, User
from widget_server.users.inputs import NewUser
from widget_server.users.invitations import send_set_password_link

PASSWORD = "Blue-Harbour-Kettle-42"
LEAD = Actor(
    principal=Principal(
        id="lead-1",
        tenant_id="acme",
        pool_id="partner-1",
        role="pool_admin",
        kind="api_key",
        name="team lead",
    )
)


@dataclass
class Page:
    response: httpx.Response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def state(self) -> str | None:
        found = re.search(r'id="ws-card" data-state="([a-z]+)"', self.text)
        return found.group(1) if found else None

    @property
    def message_ids(self) -> list[str]:
        return re.findall(r'data-message-id="([a-z_.]+)"', self.text)

    @property
    def field_errors(self) -> list[str]:
        return re.findall(r'class="ws-error" data-message-id="([a-z_.]+)"', self.text)

    def hidden(self) -> dict[str, str]:
        return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', self.text))


class Invited:
    """One emailed link, driven as the browser would."""

    def __init__(self, h: Harness, link: str, htmx: bool = True) -> None:
        self.h, self.htmx = h, htmx
        self.path, _, query = link.partition("?")
        self.query = query
        self.page: Page | None = None

    def _headers(self) -> dict[str, str]:
        return {"HX-Request": "true"} if self.htmx else {}

    async def open(self, query: str | None = None) -> Page:
        q = self.query if query is None else query
        url = f"{self.path}?{q}" if q else self.path
        self.page = Page(await self.h.client.get(url, headers=self._headers()))
        return self.page

    async def post(self, suffix: str = "", **fields: str) -> Page:
        assert self.page is not None
        body = {**self.page.hidden(), **fields}
        response = await self.h.client.post(self.path + suffix, data=body, headers=self._headers())
        if response.status_code == 303:
            response = await self.h.client.get(response.headers["location"])
        page = Page(response)
        if page.hidden():
            self.page = page
        return page


async def invite(h: Harness, email: str = "tm@example.com", **fields: Any) -> tuple[str, str]:
    """Create the user as an admin; return (user id, link from the email)."""
    fields.setdefault("status", "new")
    view = await users.create_user(
        h.web.services, LEAD, "partner-1", NewUser(email=email, **fields)
    )
    await deliver_all(h)
    [mail] = [m for m in h.sender.sent if m.recipient == email]
    found = re.search(r"http://localhost:8000(/embed/\S+)", mail.body_text)
    assert found is not None
    return view.id, found.group(1)


async def user(h: Harness, user_id: str) -> User:
    async with h.web.services.db.read() as session:
        found = await session.get(User, user_id)
    assert found is not None
    return found


async def address(h: Harness, user_id: str) -> Address:
    async with h.web.services.db.read() as session:
        return (
            await session.execute(select(Address).where(Address.user_id == user_id))
        ).scalar_one()


# --- the invitation -----------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False])
async def test_invited_user_enters_code_chooses_password_and_is_active(
    harness: Harness, htmx: bool
) -> None:
    user_id, link = await invite(harness)
    w = Invited(harness, link, htmx)
    page = await w.open()
    assert (page.status, page.state) == (200, "code")
    assert "invitation.enter_code" in page.message_ids
    [code] = harness.codes_for("tm@example.com")

    page = await w.post("/code", code=code)
    assert (page.status, page.state) == (200, "password")
    assert (await user(harness, user_id)).status == "new"  # not before the password
    assert 'data-rule="password.help.min_length"' in page.text

    page = await w.post("/password", password=PASSWORD)
    assert (page.status, page.state) == (200, "done")
    member = await user(harness, user_id)
    assert member.status == "active" and member.activated_at is not None
    assert (await address(harness, user_id)).status == "verified"
    [credential] = await rows(harness, Credential)
    assert credential.user_id == user_id and credential.secret_hash.startswith("$argon2id$")


async def test_a_plain_post_redirects_303_to_the_page(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link, htmx=False)
    await w.open()
    [code] = harness.codes_for("tm@example.com")
    response = await harness.client.post(link + "/code", data={**w.page.hidden(), "code": code})
    assert response.status_code == 303
    assert response.headers["location"] == link


async def test_a_password_set_by_the_admin_skips_the_password_step(harness: Harness) -> None:
    user_id, link = await invite(harness, password=PASSWORD)
    w = Invited(harness, link)
    await w.open()
    [code] = harness.codes_for("tm@example.com")
    page = await w.post("/code", code=code)
    assert page.state == "done"
    assert (await user(harness, user_id)).status == "active"


async def test_replays_after_the_end_are_refused(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    [code] = harness.codes_for("tm@example.com")
    await w.post("/code", code=code)
    code_step = w.page
    done = await w.post("/password", password=PASSWORD)
    assert done.state == "done"
    w.page = code_step
    replay = await w.post("/code", code=code)
    assert (replay.status, replay.state) == (409, "done")
    assert "flow.completed" in replay.message_ids
    again = await w.post("/password", password="Another-Harbour-Kettle-43")
    assert again.status == 409
    [credential] = await rows(harness, Credential)
    assert await harness.web.services.hashing.verify(credential.secret_hash, PASSWORD) == (
        True,
        False,
    )


async def test_weak_password_is_refused_with_the_policy_messages(harness: Harness) -> None:
    user_id, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    [code] = harness.codes_for("tm@example.com")
    await w.post("/code", code=code)
    page = await w.post("/password", password="tm@example.com")
    assert (page.status, page.state) == (422, "password")
    assert "password.similar" in page.message_ids or "password.too_short" in page.message_ids
    page = await w.post("/password", password="")
    assert page.status == 422 and "form.required" in page.message_ids
    assert (await user(harness, user_id)).status == "new"
    assert await rows(harness, Credential) == []


async def test_five_wrong_codes_exhaust_it_and_a_resend_helps(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    [code] = harness.codes_for("tm@example.com")
    wrong = "000000" if code != "000000" else "111111"
    for remaining in (4, 3, 2, 1):
        page = await w.post("/code", code=wrong)
        assert (page.status, page.field_errors) == (422, ["code.invalid"])
        assert f"{remaining} attempts left" in page.text
    page = await w.post("/code", code=wrong)
    assert (page.status, page.field_errors) == (429, ["code.exhausted"])
    page = await w.post("/code", code=code)  # even the right one, now
    assert page.status == 429

    harness.clock.advance(61)
    page = await w.post("/resend")
    assert page.status == 200
    await deliver_all(harness)
    fresh = harness.codes_for("tm@example.com")[-1]
    page = await w.post("/code", code=fresh)
    assert page.state == "password"


async def test_resend_inside_the_cooldown_is_429_with_retry_after(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    page = await w.post("/resend")
    assert page.status == 429
    assert (
        int(page.response.headers["retry-after"]) == 61
        or page.response.headers["retry-after"] == "60"
    )
    assert "code.resend_cooldown" in page.message_ids
    harness.clock.advance(61)
    assert (await w.post("/resend")).status == 200


async def test_badly_formed_code_costs_no_attempt(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    page = await w.post("/code", code="12ab")
    assert (page.status, page.field_errors) == (422, ["code.format"])
    [code_row] = await rows(harness, Code)
    assert code_row.attempts == 0


async def test_expired_invitation_says_so(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    harness.clock.advance(72 * 3600 + 1)
    page = await w.open()
    assert (page.status, page.message_ids) == (410, ["invitation.expired"])
    [code] = harness.codes_for("tm@example.com")
    response = await harness.client.post(link + "/code", data={**w.page.hidden(), "code": code})
    assert response.status_code == 410


async def test_unknown_foreign_or_other_kind_of_flow_is_404(harness: Harness, widget) -> None:
    _, link = await invite(harness)
    flow_id = link.rsplit("/", 1)[1]
    for path in (
        "/embed/partner-1/activate/nope",
        f"/embed/partner-2/activate/{flow_id}",  # another pool
        f"/embed/partner-1/set-password/{flow_id}",  # another kind
    ):
        page = Page(await harness.client.get(path))
        assert (page.status, page.message_ids) == (404, ["invitation.not_found"]), path
    w = widget("partner-1")
    await w.open()
    await w.post(email="self@example.com", password=PASSWORD)
    page = Page(await harness.client.get(f"/embed/partner-1/activate/{w.page.flow_id}"))
    assert page.status == 404


async def test_forged_csrf_is_403_and_costs_nothing(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    page = await w.post("/code", code="000000", csrf_token="forged")
    assert (page.status, page.state) == (403, "code")
    assert "flow.csrf" in page.message_ids
    [code_row] = await rows(harness, Code)
    assert code_row.attempts == 0


async def test_unknown_or_repeated_fields_are_malformed(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    page = await w.post("/code", code="123456", password="sneaky")
    assert (page.status, page.message_ids[-1]) == (400, "flow.malformed")
    body = urlencode([*w.page.hidden().items(), ("code", "123456"), ("code", "654321")])
    headers = {"HX-Request": "true", "content-type": "application/x-www-form-urlencoded"}
    response = await harness.client.post(link + "/code", content=body, headers=headers)
    assert response.status_code == 400


async def test_activated_event_only_for_an_allowed_parent(harness: Harness) -> None:
    user_id, link = await invite(harness, password=PASSWORD)
    [code] = harness.codes_for("tm@example.com")
    evil = Invited(harness, link, htmx=False)
    page = await evil.open("parent_origin=https://evil.example")
    assert 'name="ws-parent-origin"' not in page.text
    w = Invited(harness, link, htmx=False)
    page = await w.open(f"parent_origin={PARTNER}")
    assert f'content="{PARTNER}"' in page.text
    page = await w.post("/code", code=code)
    assert page.state == "done"
    assert '"type": "activated"' in page.text and f'"user_id": "{user_id}"' in page.text
    assert code not in page.text


async def test_admin_resend_kills_the_old_link(harness: Harness) -> None:
    user_id, old = await invite(harness)
    harness.clock.advance(61)
    await users.resend_activation(harness.web.services, LEAD, "partner-1", user_id)
    await deliver_all(harness)
    assert (await Invited(harness, old).open()).status == 404
    mails = [m for m in harness.sender.sent if m.recipient == "tm@example.com"]
    new = re.search(r"http://localhost:8000(/embed/\S+)", mails[-1].body_text)
    assert new is not None and new.group(1) != old
    w = Invited(harness, new.group(1))
    await w.open()
    page = await w.post("/code", code=harness.codes_for("tm@example.com")[-1])
    assert page.state == "password"


# --- the set-password link ----------------------------------------------------------------


async def set_password_link(h: Harness) -> tuple[str, str]:
    return await invite(h, status="active", send_set_password_link=True)


@pytest.mark.parametrize("htmx", [True, False])
async def test_set_password_link_sets_the_password_once(harness: Harness, htmx: bool) -> None:
    user_id, link = await set_password_link(harness)
    assert "?token=" in link
    w = Invited(harness, link, htmx)
    page = await w.open()
    assert (page.status, page.state) == (200, "password")
    page = await w.post(password=PASSWORD)
    assert (page.status, page.state) == (200, "done")
    [credential] = await rows(harness, Credential)
    assert credential.user_id == user_id
    [flow] = await rows(harness, Flow)
    assert flow.state == "done"
    [token_code] = await rows(harness, Code)
    assert token_code.used_at is not None
    # The link is used up: another password cannot be set with it.
    again = Invited(harness, link, htmx)
    page = await again.open()
    assert page.state == "done" and 'name="password"' not in page.text


async def test_set_password_link_needs_its_token(harness: Harness) -> None:
    _, link = await set_password_link(harness)
    path = link.partition("?")[0]
    for query in ("", "token=wrong", "token=" + "x" * 200):
        response = await harness.client.get(f"{path}?{query}" if query else path)
        assert response.status_code in (404, 400), query
        assert "tm@example.com" not in response.text
    w = Invited(harness, link)
    await w.open()
    page = await w.post(password=PASSWORD, token="wrong")
    assert page.status == 404 and "invitation.not_found" in page.message_ids
    assert await rows(harness, Credential) == []


async def test_set_password_link_expires(harness: Harness) -> None:
    _, link = await set_password_link(harness)
    harness.clock.advance(72 * 3600 + 1)
    page = await Invited(harness, link).open()
    assert (page.status, page.message_ids) == (410, ["invitation.expired"])


# --- pools, races, history ----------------------------------------------------------------


async def test_employees_pool_without_self_registration_still_activates_invitees(
    harness: Harness,
) -> None:
    staff = Actor(principal=LEAD.principal.__replace__(pool_id="employees"))
    view = await users.create_user(
        harness.web.services,
        staff,
        "employees",
        NewUser(email="new.hire@acme.example", payload={"first_name": "N", "last_name": "H"}),
    )
    await deliver_all(harness)
    [mail] = harness.sender.sent
    found = re.search(r"http://localhost:8000(/embed/employees/activate/\S+)", mail.body_text)
    assert found is not None
    w = Invited(harness, found.group(1))
    assert (await w.open()).state == "code"
    await w.post("/code", code=harness.codes_for("new.hire@acme.example")[0])
    page = await w.post("/password", password=PASSWORD)
    assert page.state == "done"
    assert (await user(harness, view.id)).status == "active"


async def test_parallel_right_codes_activate_once(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    [code] = harness.codes_for("tm@example.com")
    body = {**w.page.hidden(), "code": code}
    responses = await asyncio.gather(
        *(
            harness.client.post(link + "/code", data=body, headers={"HX-Request": "true"})
            for _ in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409, 409]


async def test_history_keeps_the_password_and_refuses_its_reuse(harness: Harness) -> None:
    services = harness.web.services
    async with services.db.write() as session:
        await session.execute(
            update(Pool).where(Pool.id == "partner-1").values(password_policy={"history": 3})
        )
    services.pools.forget("partner-1")
    view = await users.create_user(
        services,
        LEAD,
        "partner-1",
        NewUser(email="h@example.com", status="active", password=PASSWORD),
    )
    assert len(await rows(harness, PasswordHistory)) == 1
    pool = await services.pools.get("partner-1")
    async with services.db.write() as session:
        await send_set_password_link(services, session, pool, view.id, "h@example.com")
    await deliver_all(harness)
    found = re.search(r"http://localhost:8000(/embed/\S+)", harness.sender.sent[-1].body_text)
    assert found is not None
    w = Invited(harness, found.group(1))
    await w.open()
    page = await w.post(password=PASSWORD)
    assert (page.status, page.field_errors) == (422, ["password.history"])
    page = await w.post(password="Green-Valley-Teapot-77")
    assert page.state == "done"
    assert len(await rows(harness, PasswordHistory)) == 2


async def test_an_invitation_gives_at_most_five_codes(harness: Harness) -> None:
    _, link = await invite(harness)
    w = Invited(harness, link)
    await w.open()
    for _ in range(4):
        harness.clock.advance(61)
        assert (await w.post("/resend")).status == 200
    harness.clock.advance(61)
    page = await w.post("/resend")
    assert (page.status, page.state) == (409, "code")
    assert "invitation.too_many_codes" in page.message_ids
    assert len(await rows(harness, Code)) == 5
