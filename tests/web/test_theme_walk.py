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

import html
import re
from typing import Any

from tests.admin.keys import AdminClient, MakeKey
from tests.auth.people import make_user
from tests.conftest import PARTNER, Harness
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from tests.web.test_registration_errors import GOOD_PASSWORD

POOL = "partner-1"
COLOUR = "#7a1f5c"
LOGO = "Walkabout Outfitters"
COPY = {
    "ui.done_title": "Welcome to the trail",
    "ui.create_account": "Join the walk",
    "ui.log_in": "Step inside",
    "ui.logged_in_title": "Back on the trail",
}
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

    def email(self, name: str, envelope: Any) -> None:
        self.seen.append(name)
        body = envelope.body_html or ""
        if not body:
            self.escaped.append(f"{name}: no HTML part")
        elif COLOUR not in body.lower() or LOGO not in body:
            self.escaped.append(f"{name}: HTML part without the theme's colour or logo")


async def test_every_page_and_email_carries_the_pools_theme(
    harness: Harness, operator: AdminClient, make_key: MakeKey, widget: Any
) -> None:
    await themed_pool(operator, make_key)
    walk = Walk(harness)
    h = harness

    # Registration: form, refused step, code step, done (full pages, no JavaScript).
    w = widget(POOL, htmx=False)
    first = await w.open()
    await walk.page("registration form", first.text, "ui.create_account")
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
    await walk.page("registration done", done.text, "ui.done_title")

    # Login: form, failed, signed in; recovery.
    await make_user(h, "ada@example.com", "correct horse battery", pool=POOL)
    login = LoginClient(h, POOL, htmx=False)
    await walk.page("login form", (await login.open(parent_origin=PARTNER)).text, "ui.log_in")
    failed = await login.submit("ada@example.com", "wrong password entirely")
    await walk.page("login failed", failed.text, "ui.log_in")
    signed_in = await login.log_in("ada@example.com", "correct horse battery")
    await walk.page("login signed in", signed_in.text, "ui.logged_in_title")
    recover = await h.client.get(f"/embed/{POOL}/recover", params={"parent_origin": PARTNER})
    await walk.page("recovery", recover.text)
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
    await walk.page("account portal", (await account.open()).text)

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
