"""Every page and email the product draws for a pool carries that pool's theme.

The pool gets a distinctive published theme (a colour no built-in uses, a logo text, and
copy overrides by message id); then the registration (form, refused step, code, done),
the login (form, failed, signed in), recovery, the account portal, the error pages
(unknown flow, sign-up closed) and every email sent on the way are walked. A page fails
when it does not link the pool's stylesheet (whose CSS must hold the colour), or shows
no logo, or ignores a copy override it draws. (Users' most common complaint about other
products is a page that escapes the branding.)
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Any

import pytest

from tests.admin.keys import AdminClient, MakeKey
from tests.auth.people import make_user
from tests.auth.test_mfa import set_mfa
from tests.conftest import PARTNER, Harness, Widget
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from tests.web.test_invitation import LEAD
from tests.web.test_recovery import Recovery
from tests.web.test_registration_errors import GOOD_PASSWORD
from widget_server.admin import apps, users
from widget_server.admin.apps import NewApp
from widget_server.admin.developer_invitations import NewDeveloperInvitation, invite_developer
from widget_server.errors import Overloaded
from widget_server.users.inputs import NewUser
from widget_server.users.invitations import send_set_password_link

POOL = "partner-1"
COLOUR = "#7a1f5c"
LOGO = "Walkabout Outfitters"
COPY = {
    "ui.done_title": "Welcome to the trail",
    "ui.create_account": "Join the walk",
    "ui.log_in": "Step inside",
    "ui.logged_in_title": "Back on the trail",
    "ui.secured_by": "Guarded by the Walkabout crew",
    "ui.mfa_verify": "Prove it on the trail",
    "ui.activate_title": "Join the expedition",
    "ui.choose_password_title": "Pick a trail key",
    "ui.account_title": "Your trail log",
    "ui.mfa_qr_label": "Scan the trail marker",
    "ui.unreadable_title": "That trail map is smudged",
    "ui.not_found_title": "No trail here",
    "ui.refused_frame_title": "This trail does not start here",
    "oauth.consent_allow": "Let them walk along",
    "email.invitation.heading": "The expedition awaits",
    "email.password_changed.heading": "Your trail key changed",
    "email.developer_invitation.heading": "Build trails with us",
}
CALLBACK = "http://127.0.0.1:8001/callback"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/embed/([^/"]+)/theme\.css[^"]*)">')


async def themed_pool(operator: AdminClient, make_key: MakeKey) -> None:
    designer = await make_key("brand_designer")
    made = await designer.post("/themes", json={"name": "Walk", "copy_of": "default"})
    theme = made.json()
    theme_id = theme["summary"]["id"]
    draft = theme["draft"]
    tokens = {
        **draft,
        "colors": {**draft["colors"], "primary": COLOUR},
        "logo": {**draft.get("logo", {}), "text": LOGO},
        "copy": COPY,
    }
    saved = await designer.put(f"/themes/{theme_id}/draft", json={"tokens": tokens})
    assert saved.status_code == 200, saved.text
    assert (await designer.post(f"/themes/{theme_id}/publish", json={})).status_code == 200
    assigned = await designer.put(f"/theme-assignments/pool/{POOL}", json={"theme_id": theme_id})
    assert assigned.status_code == 200, assigned.text
    # The demo pool's own inline tokens (its logo text) would sit above the assignment.
    assert (await operator.patch(f"/pools/{POOL}", json={"theme": {}})).status_code == 200


class Walk:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.escaped: list[str] = []
        self.seen: list[str] = []
        self._mailed = 0

    async def page(self, name: str, text: str, *copy_ids: str) -> None:
        """Check one drawn page (a full page: a fragment is swapped into one)."""
        self.seen.append(name)
        links = STYLESHEET.findall(text)
        if not links or any(pool != POOL for _url, pool in links):
            self.escaped.append(f"{name}: no stylesheet of the pool")
        else:
            css = await self.h.client.get(html.unescape(links[0][0]))
            if COLOUR not in css.text:
                self.escaped.append(f"{name}: stylesheet without the theme's colour")
        if LOGO not in text:
            self.escaped.append(f"{name}: no logo")
        for message_id in copy_ids:
            if COPY[message_id] not in text:
                self.escaped.append(f"{name}: ignores the copy of {message_id}")

    def email(self, name: str, envelope: Any, *copy_ids: str) -> None:
        self.seen.append(name)
        body = envelope.body_html or ""
        if not body:
            self.escaped.append(f"{name}: no HTML part")
        elif COLOUR not in body.lower() or LOGO not in body:
            self.escaped.append(f"{name}: HTML part without the theme's colour or logo")
        for message_id in copy_ids:
            if (
                html.escape(COPY[message_id]) not in body
                or COPY[message_id] not in envelope.body_text
            ):
                self.escaped.append(f"{name}: ignores the copy of {message_id}")

    async def new_mail(self) -> list[Any]:
        """Deliver the outbox; every email sent since the last call."""
        await self.h.deliver()
        sent = self.h.sender.sent[self._mailed :]
        self._mailed = len(self.h.sender.sent)
        return sent

    async def emails(self, *expected: tuple[str, str, tuple[str, ...]]) -> None:
        """Walk every email sent since the last call; each ``(recipient, subject part,
        copy ids)`` of ``expected`` must be among them."""
        sent = await self.new_mail()
        for recipient, subject, copy_ids in expected:
            found = [e for e in sent if e.recipient == recipient and subject in e.subject]
            if not found:
                self.escaped.append(f"no email {subject!r} to {recipient}")
            for envelope in found:
                self.email(f"email {envelope.subject!r}", envelope, *copy_ids)

    def done(self, at_least: int) -> None:
        assert self.escaped == [], "\n".join(self.escaped)
        assert len(self.seen) >= at_least, self.seen


async def test_every_page_and_email_carries_the_pools_theme(
    harness: Harness, operator: AdminClient, make_key: MakeKey, widget: Any
) -> None:
    await themed_pool(operator, make_key)
    walk = Walk(harness)
    h = harness

    # Registration: form, refused step, code step, done (full pages, no JavaScript).
    w = widget(POOL, htmx=False)
    first = await w.open()
    await walk.page("registration form", first.text, "ui.create_account", "ui.secured_by")
    refused = await w.post(email="not-an-address", password=GOOD_PASSWORD)
    await walk.page("registration refused", refused.text, "ui.create_account")
    code_step = await w.post(email="walker@example.com", password=GOOD_PASSWORD)
    await walk.page("registration code", code_step.text)
    await h.deliver()
    [code] = h.codes_for("walker@example.com")
    wrong = await w.code("000000" if code != "000000" else "111111")
    await walk.page("registration wrong code", wrong.text)
    done = await w.code(code)
    assert done.state == "done", done.text[:300]
    await walk.page("registration done", done.text, "ui.done_title", "ui.secured_by")

    # Login: form, failed, signed in; recovery.
    await make_user(h, "ada@example.com", "correct horse battery", pool=POOL)
    login = LoginClient(h, POOL, htmx=False)
    form = await login.open(parent_origin=PARTNER)
    await walk.page("login form", form.text, "ui.log_in", "ui.secured_by")
    failed = await login.submit("ada@example.com", "wrong password entirely")
    await walk.page("login failed", failed.text, "ui.log_in")
    signed_in = await login.log_in("ada@example.com", "correct horse battery")
    await walk.page("login signed in", signed_in.text, "ui.logged_in_title")
    recover = await h.client.get(f"/embed/{POOL}/recover", params={"parent_origin": PARTNER})
    await walk.page("recovery", recover.text, "ui.secured_by")
    hidden = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', recover.text))
    asked = await h.client.post(
        f"/embed/{POOL}/recover",
        data={**{k: html.unescape(v) for k, v in hidden.items()}, "identifier": "ada@example.com"},
        follow_redirects=True,
    )
    await walk.page("recovery code", asked.text)

    # The account portal.
    account = AccountClient(h, POOL)
    await account.sign_in("ada@example.com", "correct horse battery")
    await walk.page(
        "account portal", (await account.open()).text, "ui.account_title", "ui.secured_by"
    )

    # Error pages of the pool.
    gone = await h.client.get(f"/embed/{POOL}/register", params={"flow": "no-such-flow"})
    await walk.page("unknown flow", gone.text)
    await operator.patch(f"/pools/{POOL}", json={"self_registration": False})
    closed = await h.client.get(f"/embed/{POOL}/register")
    await walk.page("sign-up closed", closed.text)

    # Every email sent on the way.
    await h.deliver()
    for envelope in h.sender.sent:
        walk.email(f"email {envelope.subject!r}", envelope)

    assert len(walk.seen) >= 15, walk.seen
    assert walk.escaped == [], "\n".join(walk.escaped)


# --- the rest of what the product draws for a pool ----------------------------------------


@pytest.fixture
async def walk(harness: Harness, operator: AdminClient, make_key: MakeKey) -> Walk:
    await themed_pool(operator, make_key)
    return Walk(harness)


async def test_the_login_s_other_states_carry_the_theme(
    harness: Harness, walk: Walk, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    ada = await make_user(h, "ada@example.com", "correct horse battery", pool=POOL)

    # The MFA step (an emailed code), then a wrong code on it.
    await set_mfa(h, "required", POOL)
    login = LoginClient(h, POOL, htmx=False)
    step = await login.log_in(ada.email, ada.password)
    assert step.state == "mfa", step.text[:300]
    await walk.page("login MFA step", step.text, "ui.mfa_verify", "ui.secured_by")
    fields = dict(re.findall(r'name="(flow_id|csrf_token|method)" value="([^"]*)"', step.text))
    wrong = await login.post(f"/embed/{POOL}/login/mfa", fields | {"code": "12345"})
    await walk.page("login MFA wrong code", wrong.text, "ui.mfa_verify")
    await walk.emails((ada.email, "sign-in code", ()))
    await set_mfa(h, "off", POOL)

    # Throttled after five wrong passwords.
    throttled = LoginClient(h, POOL, htmx=False)
    for _ in range(5):
        await throttled.log_in(ada.email, "wrong password entirely")
    page = await throttled.log_in(ada.email, ada.password)
    assert page.status == 429, page.text[:300]
    await walk.page("login throttled", page.text, "ui.log_in", "ui.secured_by")

    # Busy (the hashing pool refuses): the page without JavaScript, for both forms.
    def refuse() -> Any:
        raise Overloaded(retry_after=3)

    monkeypatch.setattr(h.web.services.hashing, "admit", refuse)
    h.clock.advance(3600)
    busy = LoginClient(h, POOL, htmx=False)
    page = await busy.log_in(ada.email, ada.password)
    assert page.status == 503, page.text[:300]
    await walk.page("login busy", page.text, "ui.log_in")
    w = Widget(h, POOL, htmx=False)
    await w.open()
    page = await w.post(email="busy@example.com", password=GOOD_PASSWORD)
    assert page.status == 503, page.text[:300]
    await walk.page("registration busy", page.text, "ui.create_account")
    monkeypatch.undo()

    # A frame on a site the pool does not allow.
    refused = await h.client.get(
        f"/embed/{POOL}/register",
        params={"parent_origin": "https://wrong.example"},
        headers={"sec-fetch-dest": "iframe"},
    )
    assert refused.status_code == 403
    await walk.page("frame refused", refused.text, "ui.refused_frame_title")

    # A form that is not UTF-8, on each of the pool's forms.
    for path in ("register", "login", "recover"):
        unreadable = await h.client.post(
            f"/embed/{POOL}/{path}",
            content=b"flow_id=x&email=jane%FF%40example.com&identifier=%FF",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert unreadable.status_code == 400, unreadable.text[:300]
        await walk.page(f"unreadable {path}", unreadable.text, "ui.unreadable_title")

    walk.done(10)


async def test_recovery_to_the_end_carries_the_theme(harness: Harness, walk: Walk) -> None:
    h = harness
    ada = await make_user(h, "ada@example.com", "correct horse battery", pool=POOL)
    flow = Recovery(h, POOL, htmx=False)
    await flow.ask(ada.email)
    await walk.emails((ada.email, "", ()))
    [code] = h.codes_for(ada.email)
    wrong = await flow.code("000000" if code != "000000" else "111111")
    await walk.page("recovery wrong code", wrong.text, "ui.secured_by")
    page = await flow.code(code)
    assert page.state == "password", page.text[:300]
    await walk.page("recovery new password", page.text, "ui.secured_by")
    refused = await flow.password("short")
    await walk.page("recovery password refused", refused.text, "ui.secured_by")
    done = await flow.password("a brand new passphrase")
    assert done.state == "done", done.text[:300]
    await walk.page("recovery done", done.text, "ui.secured_by")
    walk.done(5)


async def test_invitations_and_their_emails_carry_the_theme(harness: Harness, walk: Walk) -> None:
    h = harness
    created = await users.create_user(
        h.web.services, LEAD, POOL, NewUser(email="tm@example.com", status="new")
    )
    [mail] = [m for m in await walk.new_mail() if m.recipient == "tm@example.com"]
    walk.email("email invitation", mail, "email.invitation.heading")
    found = re.search(r"http://localhost:8000(/embed/\S+)", mail.body_text)
    assert found is not None
    path, _, query = found.group(1).partition("?")
    page = await h.client.get(f"{path}?{query}")
    await walk.page("invitation code", page.text, "ui.activate_title", "ui.secured_by")
    [code] = h.codes_for("tm@example.com")
    hidden = dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    page = await h.client.post(path + "/code", data={**hidden, "code": code}, follow_redirects=True)
    await walk.page("invitation password", page.text, "ui.choose_password_title")
    hidden = dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    page = await h.client.post(
        path + "/password", data={**hidden, "password": "short"}, follow_redirects=True
    )
    await walk.page("invitation password refused", page.text, "ui.choose_password_title")
    page = await h.client.post(
        path + "/password", data={**hidden, "password": GOOD_PASSWORD}, follow_redirects=True
    )
    await walk.page("invitation done", page.text, "ui.done_title")

    # The set-password link an admin sends.
    pool = await h.web.services.pools.get(POOL)
    async with h.web.services.db.write() as session:
        await send_set_password_link(h.web.services, session, pool, created.id, "tm@example.com")
    [link_mail] = await walk.new_mail()
    walk.email("email set password", link_mail)
    found = re.search(r"http://localhost:8000(/embed/\S+)", link_mail.body_text)
    assert found is not None
    page = await h.client.get(found.group(1))
    await walk.page("set password", page.text, "ui.secured_by")
    gone = await h.client.get(found.group(1).partition("?")[0] + "?token=no-such-token")
    await walk.page("set password link invalid", gone.text)

    walk.done(8)


async def test_account_sub_pages_and_notices_carry_the_theme(harness: Harness, walk: Walk) -> None:
    h = harness
    await set_mfa(h, "optional", POOL)
    ada = await make_user(h, "ada@example.com", "correct horse battery", pool=POOL)
    account = AccountClient(h, POOL)
    await account.sign_in(ada.email, ada.password)
    page = await account.post("password", current_password="wrong one!", new_password="short")
    await walk.page("account password refused", page.text, "ui.account_title", "ui.secured_by")
    page = await account.post(
        "password", current_password=ada.password, new_password="a fresh long passphrase"
    )
    await walk.page("account password changed", page.text, "ui.account_title")
    page = await account.post("addresses", address="ada.work@example.org")
    await walk.page("account address code", page.text, "ui.account_title")
    page = await account.post("addresses/verify", code="12345")
    await walk.page("account address wrong code", page.text, "ui.account_title")
    page = await account.post("mfa/totp")
    assert "data-totp-qr" in page.text
    await walk.page("account MFA setup (QR code)", page.text, "ui.mfa_qr_label")
    page = await account.post("mfa/totp/confirm", code="12345")
    await walk.page("account MFA wrong code", page.text, "ui.account_title")
    page = await account.post("sessions/end-others")
    await walk.page("account sessions", page.text, "ui.account_title")
    # An address of another account: its owner gets a notice, not a code.
    await make_user(h, "bob@example.com", "another horse battery", pool=POOL)
    h.clock.advance(61)  # past the cooldown between two address codes
    page = await account.post("addresses", address="bob@example.com")
    await walk.page("account address of another account", page.text, "ui.account_title")
    await walk.emails(
        (ada.email, "password was changed", ("email.password_changed.heading",)),
        ("ada.work@example.org", "add this address", ()),
        ("bob@example.com", "add your address to another", ()),
    )
    # An address that already has an account gets a notice instead of a code.
    w = Widget(h, POOL, htmx=False)
    await w.open()
    await w.post(email=ada.email, password=GOOD_PASSWORD)
    await walk.emails((ada.email, "tried to sign up", ()))
    walk.done(12)


async def test_consent_carries_the_theme(
    harness: Harness, walk: Walk, operator: AdminClient
) -> None:
    h = harness
    await apps.create_app(
        h.web.services,
        operator.actor,
        NewApp(
            id="shop",
            name="Shop",
            kind="confidential",
            pool_ids=[POOL],
            redirect_uris=[CALLBACK],
            allowed_origins=["http://127.0.0.1:8001"],
            scopes=["email"],
        ),
    )
    await make_user(h, "ada@example.com", "correct horse battery", pool=POOL)
    login = LoginClient(h, POOL, htmx=False)
    assert (await login.log_in("ada@example.com", "correct horse battery")).state == "done"
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = {
        "client_id": "shop",
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid email",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    started = await h.client.get("/oauth/authorize", params=query, headers=login.headers())
    assert started.status_code == 303, started.text[:300]
    location = started.headers["location"]
    assert location.startswith("/oauth/consent"), location
    page = await h.client.get(location, headers=login.headers())
    assert page.status_code == 200, page.text[:300]
    await walk.page("consent", page.text, "oauth.consent_allow", "ui.secured_by")
    # Its error pages: a forged form, an unknown decision.
    fields = dict(re.findall(r'name="(flow_id|csrf_token)" value="([^"]+)"', page.text))
    forged = await h.client.post(
        "/oauth/consent",
        data=fields | {"csrf_token": "x" * 43, "decision": "allow"},
        headers=login.headers(),
    )
    assert forged.status_code == 403, forged.text[:300]
    await walk.page("consent forged", forged.text, "ui.secured_by")
    odd = await h.client.post(
        "/oauth/consent", data=fields | {"decision": "maybe"}, headers=login.headers()
    )
    assert odd.status_code == 400, odd.text[:300]
    await walk.page("consent unknown decision", odd.text, "ui.secured_by")
    walk.done(3)


async def test_a_developer_invitation_to_the_pool_carries_its_theme(
    harness: Harness, walk: Walk, operator: AdminClient
) -> None:
    await invite_developer(
        harness.web.services,
        operator.actor,
        NewDeveloperInvitation(email="grace@partner.example", name="Grace", pool_id=POOL),
    )
    await walk.emails(
        ("grace@partner.example", "developer portal", ("email.developer_invitation.heading",))
    )
    walk.done(1)
