"""Second factors: TOTP enrolment and verification (window, replay, throttle, sealed
seeds), and the login's MFA step over HTTP (email code by default, TOTP when enrolled,
amr on the session, codes bound to their flow and purpose)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import insert, select, update

from tests.auth.people import Person, make_user
from tests.conftest import Harness, count, deliver_all, rows
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from widget_server import crypto, secrets_
from widget_server.auth import mfa, sessions
from widget_server.auth.throttle import MemoryStore
from widget_server.errors import InvalidInput, MfaCodeInvalid, MfaCodeReused, MfaThrottled
from widget_server.models import Code, Flow, MfaFactor, Pool, Session


def throttle(h: Harness) -> mfa.MfaThrottle:
    return mfa.MfaThrottle(MemoryStore(), "k", now=lambda: h.clock.now().timestamp())


def code_at(secret: str, h: Harness, steps: int = 0) -> str:
    moment = h.clock.now() + timedelta(seconds=30 * steps)
    return pyotp.TOTP(secret).at(moment)


async def enrolled(h: Harness, person: Person) -> str:
    """A confirmed TOTP factor for ``person``; returns its seed."""
    services = h.web.services
    enrolment = await mfa.begin_totp(services, person.user_id, person.email, "Partner 1")
    await mfa.confirm_totp(services, person.user_id, code_at(enrolment.secret, h), throttle(h))
    h.clock.advance(30)  # the confirming step is used; the next login needs the next one
    return enrolment.secret


async def set_mfa(h: Harness, mode: str, pool: str = "partner-1") -> None:
    async with h.web.services.db.write() as db:
        await db.execute(
            update(Pool).where(Pool.id == pool).values(mfa=mode, version=Pool.version + 1)
        )
    h.web.services.pools.forget(pool)


@pytest.fixture
async def ada(harness: Harness) -> Person:
    return await make_user(harness)


# --- TOTP, as a service ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_background_delivery(manual_outbox: None) -> None:
    """These tests deliver mail themselves (``deliver_all``): a running worker could hold a
    message under its lease at that moment, and the code would seem never sent."""


async def test_enrolment_shows_the_seed_once_and_stores_it_sealed(
    harness: Harness, ada: Person
) -> None:
    services = harness.web.services
    enrolment = await mfa.begin_totp(services, ada.user_id, ada.email, "Partner 1")
    assert len(enrolment.secret) == 32 and enrolment.uri.startswith("otpauth://totp/")
    assert "issuer=Partner%201" in enrolment.uri and "secret=" + enrolment.secret in enrolment.uri
    [factor] = await rows(harness, MfaFactor)
    assert factor.confirmed_at is None and factor.secret is not None
    assert enrolment.secret not in factor.secret
    assert not (await mfa.factor_state(services, ada.user_id)).totp
    # A ciphertext moved to another row does not open.
    with pytest.raises(InvalidTag):
        crypto.unseal("test-secret-key", "totp seeds", "another-row", factor.secret)
    # Starting again replaces the unconfirmed seed.
    again = await mfa.begin_totp(services, ada.user_id, ada.email, "Partner 1")
    assert again.secret != enrolment.secret and await count(harness, MfaFactor) == 1
    with pytest.raises(MfaCodeInvalid):
        await mfa.confirm_totp(
            services, ada.user_id, code_at(enrolment.secret, harness), throttle(harness)
        )
    await mfa.confirm_totp(services, ada.user_id, code_at(again.secret, harness), throttle(harness))
    assert (await mfa.factor_state(services, ada.user_id)).totp
    with pytest.raises(InvalidInput) as refused:
        await mfa.begin_totp(services, ada.user_id, ada.email, "Partner 1")
    assert refused.value.messages[""][0].id == "mfa.already_enrolled"


async def test_a_code_works_within_one_step_and_once(harness: Harness, ada: Person) -> None:
    services = harness.web.services
    secret = await enrolled(harness, ada)  # the confirming code used the previous step
    guard = throttle(harness)
    await mfa.verify_totp(services, ada.user_id, code_at(secret, harness), guard)
    # This step again, or an older one still in the window, is a replay.
    for steps in (0, -1):
        with pytest.raises(MfaCodeReused):
            await mfa.verify_totp(services, ada.user_id, code_at(secret, harness, steps), guard)
    # One step ahead (a fast phone clock) passes; three ahead is outside the window.
    await mfa.verify_totp(services, ada.user_id, code_at(secret, harness, 1), guard)
    with pytest.raises(MfaCodeInvalid):
        await mfa.verify_totp(services, ada.user_id, code_at(secret, harness, 3), guard)
    # One step behind (a slow phone clock) passes too, once it is newer than the last used.
    harness.clock.advance(90)
    await mfa.verify_totp(services, ada.user_id, code_at(secret, harness, -1), guard)


async def test_parallel_requests_with_one_code_pass_once(harness: Harness, ada: Person) -> None:
    services = harness.web.services
    secret = await enrolled(harness, ada)
    code, guard = code_at(secret, harness), throttle(harness)
    results = await asyncio.gather(
        *(mfa.verify_totp(services, ada.user_id, code, guard) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, MfaCodeReused) for r in results if r is not None)


async def test_wrong_codes_are_counted_per_user(harness: Harness, ada: Person) -> None:
    services = harness.web.services
    secret = await enrolled(harness, ada)
    guard = throttle(harness)
    right = code_at(secret, harness)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(mfa.FREE_ATTEMPTS):
        with pytest.raises(MfaCodeInvalid):
            await mfa.verify_totp(services, ada.user_id, wrong, guard)
    with pytest.raises(MfaThrottled) as waited:
        await mfa.verify_totp(services, ada.user_id, right, guard)
    assert waited.value.retry_after >= 1
    harness.clock.advance(waited.value.retry_after)
    await mfa.verify_totp(services, ada.user_id, code_at(secret, harness), guard)
    # Malformed input is refused without counting.
    with pytest.raises(InvalidInput):
        await mfa.verify_totp(services, ada.user_id, "12345x", guard)


async def test_disabling_needs_the_password(harness: Harness, ada: Person) -> None:
    services = harness.web.services
    await enrolled(harness, ada)
    with pytest.raises(InvalidInput) as refused:
        await mfa.disable_totp(services, ada.user_id, "not my password")
    assert refused.value.messages["password"][0].id == "account.password_incorrect"
    assert await count(harness, MfaFactor) == 1
    await mfa.disable_totp(services, ada.user_id, ada.password)
    assert await count(harness, MfaFactor) == 0


# --- the login's MFA step ------------------------------------------------------------------


def mfa_fields(page: Any, method: str) -> dict[str, str]:
    form = re.search(rf'data-mfa-method="{method}".*?</form>', page.text, re.S)
    assert form is not None, f"no {method} form"
    names = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(0)))
    return {k: names[k] for k in ("flow_id", "csrf_token", "method")}


async def post_code(client: LoginClient, page: Any, method: str, code: str) -> Any:
    body = mfa_fields(page, method) | {"code": code}
    return await client.post(f"/embed/{client.pool}/login/mfa", body)


async def test_a_pool_requiring_mfa_emails_a_code_by_default(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "required")
    client = LoginClient(harness)
    page = await client.log_in(ada.email, ada.password)
    assert page.state == "mfa" and client.token is None and await count(harness, Session) == 0
    assert 'data-message-id="mfa.code_sent"' in page.text and "a•••@example.com" in page.text
    await deliver_all(harness)
    [code] = harness.codes_for(ada.email)
    wrong = "000000" if code != "000000" else "111111"
    refused = await post_code(client, page, "email", wrong)
    assert refused.status == 422 and refused.field_errors("code") == ["code.invalid"]
    assert client.token is None
    done = await post_code(client, refused, "email", code)
    assert done.state == "done" and client.token is not None
    live = await sessions.current_session(harness.web.services, client.token, "partner-1")
    assert live is not None and live.amr == ("pwd", "otp")
    # The flow is finished: the same code again is refused, no second session.
    again = await post_code(client, page, "email", code)
    assert again.status in (409, 410) and await count(harness, Session) == 1


async def test_an_enrolled_user_enters_the_app_code(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "optional")
    secret = await enrolled(harness, ada)
    client = LoginClient(harness)
    page = await client.log_in(ada.email, ada.password)
    assert page.state == "mfa" and 'data-mfa-method="totp"' in page.text
    assert harness.sender.sent == [] and not await rows(harness, Code)  # nothing emailed
    code = code_at(secret, harness)
    done = await post_code(client, page, "totp", code)
    assert done.state == "done"
    live = await sessions.current_session(harness.web.services, client.token, "partner-1")
    assert live is not None and live.amr == ("pwd", "totp")
    # The same code in the same step, on a new login: a replay.
    second = LoginClient(harness)
    page = await second.log_in(ada.email, ada.password)
    replay = await post_code(second, page, "totp", code)
    assert replay.status == 422 and replay.field_errors("code") == ["mfa.code_reused"]
    assert second.token is None


async def test_an_enrolled_user_may_ask_for_an_email_code(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "optional")
    await enrolled(harness, ada)
    client = LoginClient(harness, htmx=False)
    page = await client.log_in(ada.email, ada.password)
    body = {k: v for k, v in mfa_fields(page, "totp").items() if k != "method"}
    page = await client.post("/embed/partner-1/login/mfa/send", body)
    assert page.state == "mfa" and 'data-mfa-method="email"' in page.text
    too_soon = await client.post("/embed/partner-1/login/mfa/send", body)
    assert too_soon.status == 429 and "code.resend_cooldown" in too_soon.message_ids
    await deliver_all(harness)
    [code] = harness.codes_for(ada.email)
    done = await post_code(client, page, "email", code)
    assert done.state == "done" and client.token is not None


async def test_wrong_app_codes_are_throttled_per_user(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "optional")
    secret = await enrolled(harness, ada)
    client = LoginClient(harness)
    page = await client.log_in(ada.email, ada.password)
    right = code_at(secret, harness)
    wrong = "000000" if right != "000000" else "111111"
    statuses = [(await post_code(client, page, "totp", wrong)).status for _ in range(6)]
    assert statuses[:5] == [422] * 5 and statuses[5] == 429
    throttled = await post_code(client, page, "totp", right)
    assert throttled.status == 429 and "mfa.throttled" in throttled.message_ids
    assert client.last is not None and "retry-after" in client.last.headers
    assert client.token is None


async def test_the_step_checks_csrf_and_codes_of_other_flows(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "required")
    mine, theirs = LoginClient(harness), LoginClient(harness)
    page = await mine.log_in(ada.email, ada.password)
    other = await theirs.log_in(ada.email, ada.password)
    forged = mfa_fields(page, "email") | {"csrf_token": "x" * 43, "code": "123456"}
    refused = await mine.post("/embed/partner-1/login/mfa", forged)
    assert refused.status == 403 and refused.state == "form"
    await deliver_all(harness)
    first, second = harness.codes_for(ada.email)
    # The code of the other login does not finish this one.
    crossed = await post_code(mine, page, "email", second)
    assert crossed.field_errors("code") == ["code.invalid"] and mine.token is None
    assert (await post_code(theirs, other, "email", second)).state == "done"
    assert (await post_code(mine, page, "email", first)).state == "done"


async def test_codes_of_other_purposes_never_pass_the_step(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "required")
    client = LoginClient(harness)
    page = await client.log_in(ada.email, ada.password)
    [flow] = await rows(harness, Flow)
    now = harness.clock.now()
    async with harness.web.services.db.write() as db:
        for purpose, code in (("activation", "111111"), ("recovery", "222222")):
            await db.execute(
                insert(Code).values(
                    id=secrets_.new_id(), flow_id=flow.id, user_id=ada.user_id, purpose=purpose,
                    code_hash=secrets_.keyed_hash("test-secret-key", purpose, flow.id, code),
                    expires_at=now + timedelta(minutes=10), attempts=0, max_attempts=5,
                    sent_at=now + timedelta(seconds=1), used_at=None,
                )
            )  # fmt: skip
    for code in ("111111", "222222"):
        assert (await post_code(client, page, "email", code)).field_errors("code") == [
            "code.invalid"
        ]
    assert client.token is None


async def test_parallel_right_codes_make_one_session(harness: Harness, ada: Person) -> None:
    await set_mfa(harness, "required")
    client = LoginClient(harness)
    page = await client.log_in(ada.email, ada.password)
    await deliver_all(harness)
    [code] = harness.codes_for(ada.email)
    body = mfa_fields(page, "email") | {"code": code}
    responses = await asyncio.gather(
        *(harness.client.post("/embed/partner-1/login/mfa", data=body) for _ in range(4))
    )
    assert sum("set-cookie" in r.headers for r in responses) == 1
    async with harness.web.services.db.read() as db:
        assert len(list(await db.scalars(select(Session.id)))) == 1


async def test_enrolment_in_the_account_portal_then_login_with_it(
    harness: Harness, ada: Person
) -> None:
    await set_mfa(harness, "optional")
    account = AccountClient(harness)
    await account.sign_in(ada.email, ada.password)
    assert 'data-section="mfa"' in account.page.text  # type: ignore[union-attr]
    page = await account.post("mfa/totp")
    assert page.status == 200  # the seed is shown in this response, not behind a redirect
    shown = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", page.text)
    assert shown is not None
    secret = re.fullmatch(r"[A-Z2-7]{32}", shown.group(1).replace(" ", ""))
    assert secret is not None
    page = await account.post("mfa/totp/confirm", code="12345")
    assert page.status == 422 and "code.format" in account.section_messages("mfa")
    page = await account.post(
        "mfa/totp/confirm", code=pyotp.TOTP(secret.group(0)).at(harness.clock.now())
    )
    assert "mfa.enrolled" in account.section_messages("mfa") and 'data-mfa="on"' in page.text
    harness.clock.advance(30)
    client = LoginClient(harness)
    login = await client.log_in(ada.email, ada.password)
    assert login.state == "mfa"
    done = await post_code(
        client, login, "totp", pyotp.TOTP(secret.group(0)).at(harness.clock.now())
    )
    assert done.state == "done"
    # Turning it off needs the password.
    page = await account.post("mfa/totp/disable", password="wrong")
    assert page.status == 422 and page.field_errors("password") == ["account.password_incorrect"]
    page = await account.post("mfa/totp/disable", password=ada.password)
    assert (
        "mfa.disabled" in account.section_messages("mfa") and await count(harness, MfaFactor) == 0
    )
