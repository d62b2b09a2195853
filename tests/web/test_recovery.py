"""Password recovery: enumeration safety, the code's rules and bindings, the new password
(policy, history), sessions ended, and replays."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update

from tests.auth.people import make_user
from tests.conftest import PARTNER, FlowPage, Harness, count, deliver_all, rows
from tests.web.login_client import LoginClient
from widget_server import secrets_
from widget_server.auth import sessions
from widget_server.models import (
    Code,
    Credential,
    Flow,
    OutboxMessage,
    PasswordHistory,
    Pool,
    Session,
    User,
)


class Recovery:
    """Drives one recovery flow over HTTP (htmx by default)."""

    def __init__(self, h: Harness, pool: str = "partner-1", htmx: bool = True) -> None:
        self.h, self.pool, self.htmx = h, pool, htmx
        self.page: FlowPage | None = None

    @property
    def path(self) -> str:
        return f"/embed/{self.pool}/recover"

    def _headers(self) -> dict[str, str]:
        return {"HX-Request": "true"} if self.htmx else {}

    async def open(self) -> FlowPage:
        response = await self.h.client.get(
            self.path, params={"parent_origin": PARTNER}, headers=self._headers()
        )
        self.page = FlowPage(response, self.pool)
        return self.page

    async def post(self, suffix: str = "", **fields: str) -> FlowPage:
        assert self.page is not None
        hidden = {k: v for k, v in self.page.hidden.items() if k != "step"}
        response = await self.h.client.post(
            self.path + suffix, data=hidden | fields, headers=self._headers()
        )
        if response.status_code == 303:
            response = await self.h.client.get(response.headers["location"])
        page = FlowPage(response, self.pool)
        if page.hidden:
            self.page = page
        return page

    async def ask(self, identifier: str) -> FlowPage:
        await self.open()
        return await self.post(identifier=identifier)

    async def code(self, code: str) -> FlowPage:
        return await self.post("/code", code=code)

    async def resend(self) -> FlowPage:
        return await self.post("/resend")

    async def password(self, password: str) -> FlowPage:
        return await self.post("/password", password=password)


async def _code(h: Harness, address: str) -> str:
    await deliver_all(h)
    codes = h.codes_for(address)
    assert codes, f"no code mailed to {address}"
    return codes[-1]


@pytest.fixture
def recover(harness: Harness) -> Any:
    def make(htmx: bool = True) -> Recovery:
        return Recovery(harness, htmx=htmx)

    return make


async def test_the_form_writes_nothing(harness: Harness, recover: Any) -> None:
    page = await recover().open()
    assert page.status == 200 and page.state == "identify"
    assert 'name="identifier"' in page.text and "flow_ticket" in page.hidden
    assert await count(harness, Flow) == 0


async def test_known_unknown_and_inactive_addresses_look_the_same(
    harness: Harness, recover: Any, manual_outbox: None
) -> None:
    ada = await make_user(harness)
    await make_user(harness, "off@example.com", status="inactive")
    shapes = []
    for address in (ada.email, "nobody@example.com", "off@example.com"):
        flow = recover()
        page = await flow.ask(address)
        text = page.text.replace(address, "")
        for value in page.hidden.values():
            text = text.replace(value, "")
        shapes.append((page.status, page.state, page.message_ids, text))
    assert all(shape == shapes[0] for shape in shapes)
    assert shapes[0][:3] == (200, "code", ["recovery.sent"])
    # The same rows for each (a flow and a code); only the account's address gets mail.
    assert await count(harness, Flow) == 3 and await count(harness, Code) == 3
    assert [m.recipient for m in await rows(harness, OutboxMessage)] == [ada.email]
    owners = [c.user_id for c in await rows(harness, Code)]
    assert owners.count(None) == 2


async def test_reset_changes_the_password_and_ends_every_session(
    harness: Harness, recover: Any
) -> None:
    ada = await make_user(harness)
    browsers = [LoginClient(harness), LoginClient(harness, pool="partner-1")]
    for browser in browsers:
        assert (await browser.log_in(ada.email, ada.password)).state == "done"
    tokens = [b.token for b in browsers]
    flow = recover()
    await flow.ask(ada.email.upper())
    page = await flow.code(await _code(harness, ada.email))
    assert page.status == 200 and page.state == "password"
    assert 'autocomplete="new-password"' in page.text
    page = await flow.password("a brand new passphrase")
    assert page.state == "done" and "recovery.done" in page.message_ids
    # The owner hears of it at the address the code went to: a security notice.
    await deliver_all(harness)
    notices = [e for e in harness.sender.sent if e.recipient == ada.email][1:]
    assert [e.subject for e in notices] == ["Your Partner 1 password was changed"]
    assert "was just changed" in notices[0].body_text
    for token in tokens:
        assert await sessions.current_session(harness.web.services, token, "partner-1") is None
    assert all(s.revoked_at is not None for s in await rows(harness, Session))
    assert (await LoginClient(harness).log_in(ada.email, ada.password)).message_ids == [
        "login.failed"
    ]
    assert (await LoginClient(harness).log_in(ada.email, "a brand new passphrase")).state == "done"
    # The finished flow refuses any further step.
    again = await flow.password("another new passphrase")
    assert again.status == 409 and "recovery.complete" in again.message_ids


async def test_plain_form_posts_redirect(harness: Harness, recover: Any) -> None:
    ada = await make_user(harness)
    flow = recover(htmx=False)
    page = await flow.ask(ada.email)
    assert page.state == "code"
    page = await flow.code(await _code(harness, ada.email))
    assert page.state == "password"
    page = await flow.password("a brand new passphrase")
    assert page.state == "done"


async def test_the_new_password_meets_the_policy_and_history(
    harness: Harness, recover: Any
) -> None:
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Pool)
            .where(Pool.id == "partner-1")
            .values(password_policy={"history": 3}, version=2)
        )
    harness.web.services.pools.forget("partner-1")
    ada = await make_user(harness)
    # make_user stored no history; remember the current password as the pool would have.
    [credential] = await rows(harness, Credential)
    async with harness.web.services.db.write() as db:
        db.add(
            PasswordHistory(
                id=secrets_.new_id(),
                user_id=ada.user_id,
                secret_hash=credential.secret_hash,
                created_at=harness.clock.now(),
            )
        )
    flow = recover()
    await flow.ask(ada.email)
    await flow.code(await _code(harness, ada.email))
    page = await flow.password("short")
    assert page.status == 422 and page.field_errors("password") == ["password.too_short"]
    page = await flow.password(ada.password)
    assert page.status == 422 and page.field_errors("password") == ["password.history"]
    page = await flow.password("")
    assert page.status == 422 and page.field_errors("password") == ["form.required"]
    assert (await flow.password("a brand new passphrase")).state == "done"


async def test_unreadable_identifiers_are_field_errors(harness: Harness, recover: Any) -> None:
    flow = recover()
    page = await flow.ask("not-an-email")
    assert page.status == 422 and page.field_errors("identifier") == ["form.email_invalid"]
    page = await flow.post(identifier="")
    assert page.status == 422 and page.field_errors("identifier") == ["form.required"]
    assert await count(harness, Flow) == 0


async def test_five_wrong_codes_then_a_new_one(harness: Harness, recover: Any) -> None:
    ada = await make_user(harness)
    flow = recover()
    await flow.ask(ada.email)
    right = await _code(harness, ada.email)
    wrong = "000000" if right != "000000" else "111111"
    for remaining in (4, 3, 2, 1):
        page = await flow.code(wrong)
        assert page.status == 422 and page.field_errors("code") == ["code.invalid"]
        assert f"{remaining} attempts left" in page.text
    page = await flow.code(wrong)
    assert page.status == 429 and page.field_errors("code") == ["code.exhausted"]
    assert (await flow.code(right)).field_errors("code") == ["code.exhausted"]
    page = await flow.resend()
    assert page.status == 429 and "code.resend_cooldown" in page.message_ids
    harness.clock.advance(60)
    page = await flow.resend()
    assert page.status == 200 and page.state == "code"
    fresh = await _code(harness, ada.email)
    if fresh != right:
        assert (await flow.code(right)).status == 422
    assert (await flow.code(fresh)).state == "password"


async def test_an_expired_code_fails(harness: Harness, recover: Any) -> None:
    ada = await make_user(harness)
    flow = recover()
    await flow.ask(ada.email)
    code = await _code(harness, ada.email)
    harness.clock.advance(601)
    page = await flow.code(code)
    assert page.status == 410 and page.field_errors("code") == ["code.expired"]


async def test_malformed_codes_cost_no_attempt(harness: Harness, recover: Any) -> None:
    ada = await make_user(harness)
    flow = recover()
    await flow.ask(ada.email)
    for bad in ("12345", "١٢٣٤٥٦", "abcdef"):
        assert (await flow.code(bad)).field_errors("code") == ["code.format"]
    [code] = await rows(harness, Code)
    assert code.attempts == 0


async def test_csrf_and_malformed_posts(harness: Harness, recover: Any) -> None:
    flow = recover()
    page = await flow.open()
    forged = {**page.hidden, "csrf_token": "y" * 43, "identifier": "ada@example.com"}
    response = await harness.client.post(flow.path, data=forged)
    assert response.status_code == 403 and "flow.csrf" in response.text
    extra = {**page.hidden, "identifier": "ada@example.com", "password": "x"}
    response = await harness.client.post(flow.path, data=extra)
    assert response.status_code == 400 and "flow.malformed" in response.text
    assert await count(harness, Flow) == 0


async def test_codes_work_for_one_purpose_and_one_flow_only(
    harness: Harness, recover: Any, widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every code is the same six digits here: only purpose and flow tell them apart.
    monkeypatch.setattr(secrets_, "new_code", lambda: "424242")
    ada = await make_user(harness)
    bob = await make_user(harness, "bob@example.com")
    key = harness.settings.secret_key

    # An activation code (a registration's, same digits) does not pass a recovery step.
    registration = widget()
    await registration.open()
    await registration.post(email="new@example.com", password="a long enough passphrase")
    ada_flow = recover()
    await ada_flow.ask(ada.email)
    assert ada_flow.page is not None
    flow_id = ada_flow.page.flow_id
    # Even an activation-purpose row bound to this very flow and user is not accepted.
    await _retire_codes(harness, flow_id)
    await _add_code(harness, flow_id, ada.user_id, "activation", "424242", key)
    page = await ada_flow.code("424242")
    assert page.state == "code" and page.status != 200

    # A recovery code does not activate a registration.
    assert registration.page is not None
    reg_id = registration.page.flow_id
    await _retire_codes(harness, reg_id, purpose="activation")
    reg_user = await rows(harness, Flow)
    owner = next(f.user_id for f in reg_user if f.id == reg_id)
    await _add_code(harness, reg_id, owner, "recovery", "424242", key)
    page = await registration.code("424242")
    assert page.state == "code" and page.status != 200

    # Bob's recovery code (same digits, his flow) does not open Ada's flow.
    bob_flow = recover()
    await bob_flow.ask(bob.email)
    other = recover()
    await other.ask(ada.email)
    assert other.page is not None and bob_flow.page is not None
    # Bob's code row copied into Ada's flow: its HMAC names Bob's flow, so it fails here.
    await _retire_codes(harness, other.page.flow_id)
    [bobs] = [c for c in await rows(harness, Code) if c.flow_id == bob_flow.page.flow_id]
    await _add_code(harness, other.page.flow_id, ada.user_id, "recovery", "424242", key)
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Code)
            .where(Code.flow_id == other.page.flow_id, Code.used_at.is_(None))
            .values(code_hash=bobs.code_hash)
        )
    page = await other.code("424242")
    assert page.status == 422 and page.field_errors("code") == ["code.invalid"]
    # ...while in Bob's own flow the same digits work.
    assert (await bob_flow.code("424242")).state == "password"


async def _retire_codes(h: Harness, flow_id: str, purpose: str = "recovery") -> None:
    async with h.web.services.db.write() as db:
        await db.execute(
            update(Code)
            .where(Code.flow_id == flow_id, Code.purpose == purpose)
            .values(used_at=h.clock.now())
        )


async def _add_code(
    h: Harness, flow_id: str, user_id: str | None, purpose: str, code: str, key: str
) -> None:
    now = h.clock.now()
    async with h.web.services.db.write() as db:
        await db.execute(
            insert(Code).values(
                id=secrets_.new_id(),
                flow_id=flow_id,
                user_id=user_id,
                purpose=purpose,
                code_hash=secrets_.keyed_hash(key, purpose, flow_id, code),
                expires_at=now.replace(year=now.year + 1),
                attempts=0,
                max_attempts=5,
                sent_at=now,
                used_at=None,
            )
        )


def _shape(statement: str) -> str:
    """A statement as its verb and first table: ``INSERT outbox``, ``SAVEPOINT``."""
    words = re.sub(r"[(),]", " ", statement).split()
    verb = words[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    marker = {"INSERT": "INTO", "DELETE": "FROM", "SELECT": "FROM", "UPDATE": "UPDATE"}[verb]
    upper = [w.upper() for w in words]
    return f"{verb} {words[upper.index(marker) + 1]}" if marker in upper else verb


async def test_an_account_a_stranger_and_an_address_over_its_limit_run_the_same_statements(
    harness: Harness, recover: Any, manual_outbox: None
) -> None:
    """The same statements for each, in the same order: the message is counted and
    inserted for every address, and rolled back to a savepoint where it does not go
    (tests/web/test_timing.py times the account against the stranger)."""
    ada = await make_user(harness)
    await recover().open()  # the pool's caches, once
    ran: list[str] = []
    me = asyncio.current_task()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if asyncio.current_task() is me:  # not the background workers' polling
            ran.append(_shape(statement))

    engine = harness.web.services.db.engine.sync_engine

    async def asked(address: str) -> list[str]:
        flow = recover()
        await flow.open()
        ran.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            await flow.post(identifier=address)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return list(ran)

    account = await asked(ada.email)
    stranger = await asked("nobody@example.com")
    for _ in range(3):
        await asked(ada.email)
    last_under = await asked(ada.email)  # the fifth message of the hour
    over = await asked(ada.email)
    assert account == last_under
    assert "INSERT outbox" in account and "SAVEPOINT" in account
    for other in (stranger, over):
        differing = [(a, b) for a, b in zip(account, other, strict=True) if a != b]
        assert differing == [("RELEASE", "ROLLBACK")]
    assert await count(harness, OutboxMessage) == 5  # the stranger's and the sixth: none


async def test_a_code_that_was_not_sent_cannot_succeed(
    harness: Harness, recover: Any, manual_outbox: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secrets_, "new_code", lambda: "515151")
    ada = await make_user(harness)
    for _ in range(5):
        await recover().ask(ada.email)
    # The address is at its hourly limit: the sixth code is not mailed, so it has no owner
    # and guessing it (the digits are known here) gets nowhere.
    sixth = recover()
    page = await sixth.ask(ada.email)
    assert page.state == "code" and page.message_ids == ["recovery.sent"]
    assert await count(harness, OutboxMessage) == 5
    assert (await sixth.code("515151")).state == "code"


async def test_a_user_deactivated_meanwhile_cannot_reset(harness: Harness, recover: Any) -> None:
    ada = await make_user(harness)
    flow = recover()
    await flow.ask(ada.email)
    await flow.code(await _code(harness, ada.email))
    async with harness.web.services.db.write() as db:
        await db.execute(update(User).where(User.id == ada.user_id).values(status="inactive"))
    page = await flow.password("a brand new passphrase")
    assert page.state == "identify" and page.status == 404
    async with harness.web.services.db.read() as db:
        assert await db.scalar(select(Flow.state).where(Flow.state == "done")) is None
    assert re.search("flow.not_found", page.text)
