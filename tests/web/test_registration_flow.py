"""Registration end to end over HTTP: steps, code, activation, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, update

from tests.conftest import PARTNER, Harness
from widget_server.models import Address, Credential, Flow, Pool, User

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"


async def users(h: Harness) -> list[User]:
    async with h.web.services.db.read() as session:
        return list((await session.execute(select(User))).scalars())


async def address_of(h: Harness, user_id: str) -> Address:
    async with h.web.services.db.read() as session:
        result = await session.execute(select(Address).where(Address.user_id == user_id))
        return result.scalar_one()


async def register_business(widget, email: str = "Jane.Doe@Example.com", htmx: bool = True):
    w = widget("business-1", htmx=htmx)
    page = await w.open()
    assert (page.status, page.state, page.step) == (200, "form", "account")
    page = await w.post(email=email, password=GOOD_PASSWORD)
    assert (page.status, page.step) == (200, "personal")
    page = await w.post(first_name="Jane", last_name="Doe", date_of_birth="1990-02-03")
    assert page.step == "company"
    page = await w.post(company="ACME Corp", job_title="CTO", country="DE")
    assert page.step == "confirm"
    page = await w.post(terms="on")
    assert (page.status, page.state) == (200, "code")
    assert "registration.check_email" in page.message_ids
    return w, page


async def test_business_registration_through_every_step_activates_user(harness, widget):
    w, page = await register_business(widget)
    [user] = await users(harness)
    assert user.status == "new"
    assert user.payload == {
        "email": "Jane.Doe@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": "1990-02-03",
        "company": "ACME Corp",
        "job_title": "CTO",
        "country": "DE",
        "terms": True,
        "newsletter": False,
    }
    address = await address_of(harness, user.id)
    assert (address.value, address.status) == ("jane.doe@example.com", "unverified")

    await harness.deliver()
    [code] = harness.codes_for("Jane.Doe@example.com")
    page = await w.code(code)
    assert (page.status, page.state) == (200, "done")
    assert f'"user_id": "{user.id}"' in page.text and '"pool_id": "business-1"' in page.text

    [user] = await users(harness)
    assert user.status == "active" and user.activated_at is not None
    address = await address_of(harness, user.id)
    assert address.status == "verified"


async def test_without_htmx_every_post_redirects_303_and_ends_active(harness, widget):
    w, _ = await register_business(widget, htmx=False)
    await harness.deliver()
    [code] = harness.codes_for("jane.doe@example.com")
    response = await harness.client.post(w.path + "/code", data={**w.page.hidden, "code": code})
    assert response.status_code == 303
    assert response.headers["location"] == f"{w.path}?flow={w.page.flow_id}"
    done = await harness.client.get(response.headers["location"])
    assert 'data-state="done"' in done.text
    [user] = await users(harness)
    assert user.status == "active"


async def test_password_is_stored_as_argon2id_and_flow_forgets_it(harness, widget):
    w = widget("partner-1")
    await w.open()
    await w.post(email="a@example.com", password=GOOD_PASSWORD)
    async with harness.web.services.db.read() as session:
        credential = (await session.execute(select(Credential))).scalar_one()
        flow = await session.get(Flow, w.page.flow_id)
    assert credential.secret_hash.startswith("$argon2id$")
    assert GOOD_PASSWORD not in credential.secret_hash
    assert flow is not None and flow.password_hash is None


async def test_back_keeps_values_and_password(harness, widget):
    w = widget("business-1")
    await w.open()
    await w.post(email="b@example.com", password=GOOD_PASSWORD)
    await w.post(first_name="Bo", last_name="Li", date_of_birth="1985-05-05")
    page = await w.post(action="back")
    assert page.step == "personal"
    assert 'value="Bo"' in page.text
    page = await w.post(action="back")
    assert page.step == "account"
    assert "password.keep" not in page.message_ids  # help text, not an alert
    # Leaving the password empty keeps the one chosen before.
    page = await w.post(email="b@example.com")
    assert page.step == "personal"


async def test_event_only_for_allowed_parent_origin(harness, widget):
    w = widget("partner-1", htmx=False)
    page = await w.open(parent_origin="https://evil.example")
    assert 'name="ws-parent-origin"' not in page.text
    await w.post(email="c@example.com", password=GOOD_PASSWORD)
    await harness.deliver()
    [code] = harness.codes_for("c@example.com")
    page = await w.code(code)
    assert page.state == "done"
    assert "data-ws-event" not in page.text

    w2 = widget("partner-1", htmx=False)
    page = await w2.open(parent_origin=PARTNER)
    assert f'<meta name="ws-parent-origin" content="{PARTNER}">' in page.text


async def test_referer_gives_the_parent_origin_for_plain_iframes(harness):
    response = await harness.client.get(
        "/embed/partner-1/register", headers={"Referer": f"{PARTNER}/shop/signup?x=1"}
    )
    assert f'<meta name="ws-parent-origin" content="{PARTNER}">' in response.text


async def test_no_cookies_are_set_anywhere_in_the_flow(harness, widget):
    w = widget("partner-1")
    page = await w.open()
    assert "set-cookie" not in page.response.headers
    page = await w.post(email="d@example.com", password=GOOD_PASSWORD)
    assert "set-cookie" not in page.response.headers


async def test_closed_pool_shows_notice_and_creates_nothing(harness, widget):
    w = widget("employees")
    page = await w.open()
    assert page.status == 403
    assert "registration.disabled" in page.message_ids
    assert "flow_id" not in page.hidden
    assert await users(harness) == []


async def test_unknown_pool_is_404(harness):
    response = await harness.client.get("/embed/nope/register")
    assert response.status_code == 404
    assert 'data-message-id="pool.not_found"' in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_an_abandoned_registration_gives_its_address_up_after_the_code_expires(
    harness, widget, clock
):
    """Closing the tab before entering the code must not lock the address out forever."""
    first = widget("partner-1")
    await first.open()
    await first.post(email="late@example.com", password=GOOD_PASSWORD)
    await harness.deliver()
    [old_code] = harness.codes_for("late@example.com")

    # Within the code's lifetime the address is taken: the owner gets a notice.
    early = widget("partner-1")
    await early.open()
    page = await early.post(email="late@example.com", password=GOOD_PASSWORD)
    assert page.state == "code"
    await harness.deliver()
    assert harness.codes_for("late@example.com") == [old_code]

    clock.advance(harness.settings.code_ttl_seconds + 1)
    again = widget("partner-1")
    await again.open()
    page = await again.post(email="late@example.com", password=GOOD_PASSWORD)
    assert page.state == "code"
    await harness.deliver()
    codes = harness.codes_for("late@example.com")
    assert len(codes) == 2
    page = await again.code(codes[-1])
    assert page.state == "done"
    [user] = await users(harness)
    assert user.status == "active"
    assert (await address_of(harness, user.id)).status == "verified"


async def test_an_active_account_never_gives_its_address_up(harness, widget, clock):
    w = widget("partner-1")
    await w.open()
    await w.post(email="kept@example.com", password=GOOD_PASSWORD)
    await harness.deliver()
    [code] = harness.codes_for("kept@example.com")
    assert (await w.code(code)).state == "done"
    clock.advance(harness.settings.code_ttl_seconds * 10)
    other = widget("partner-1")
    await other.open()
    await other.post(email="kept@example.com", password=GOOD_PASSWORD)
    await harness.deliver()
    assert harness.codes_for("kept@example.com") == [code]  # a notice, not a code
    [user] = await users(harness)
    assert user.status == "active"


async def test_a_theme_rewords_the_widget_by_message_id(harness, widget):
    copy = {"ui.create_account": "Konto anlegen", "ui.sign_up_for": "Konto für {pool} <neu>"}
    async with harness.web.services.db.write() as session:
        await session.execute(
            update(Pool)
            .where(Pool.id == "partner-1")
            .values(theme={"copy": copy}, version=Pool.version + 1)
        )
    harness.web.services.pools.forget("partner-1")
    page = await widget("partner-1").open()
    assert ">Konto anlegen</button>" in page.text
    assert "Create account" not in page.text
    assert "Konto für Partner 1 &lt;neu&gt;" in page.text  # wording is text, not HTML
