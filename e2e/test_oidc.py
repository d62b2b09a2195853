"""The partner app's side, in Chromium: the login widget embedded cross-site ends in an ID
token the partner's backend verified (authlib, against discovery + JWKS), and the redirect
flow (authorization code + PKCE) with the consent page.

Partner site: http://127.0.0.1:B (demo/partner_signin.py, app ``northwind``); widget and
provider: http://localhost:A. The user registers first through the widget, with the code
from the real SMTP sink.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

from harness import Demo, Mailbox
from pages import PartnerPage, WidgetFrame
from playwright.sync_api import Browser, Page, expect

from widget_server.seed import DEMO_ADMINS

PASSWORD = "Lantern-tundra-Gq7-42"


def register(page: Page, demo: Demo, mailbox: Mailbox, pool: str = "partner-1") -> str:
    email = f"oidc-{uuid.uuid4().hex[:10]}@example.com"
    widget = PartnerPage(page, demo.partner_origin).open(pool).widget
    widget.expect_step("account")
    widget.fill_step({"email": email, "password": PASSWORD})
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
    return email


def log_in(widget: WidgetFrame, email: str) -> None:
    expect(widget.card).to_have_attribute("data-state", "form")
    widget.control("identifier").fill(email)
    widget.control("password").fill(PASSWORD)
    widget.primary_button.click()


def claim(page: Page, name: str) -> object:
    cell = page.locator(f'#verified-claims tr[data-claim="{name}"] td')
    expect(cell).to_be_visible()
    return json.loads(cell.inner_text())


def test_embedded_login_ends_in_a_verified_id_token(
    page: Page, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    email = register(page, demo, mailbox)
    page.goto(f"{demo.partner_origin}/signin?pool=partner-1")
    iframe = page.locator("#widget-server-login iframe")
    expect(iframe).to_have_attribute(
        "src", re.compile(r"/embed/partner-1/login\?.*client_id=northwind")
    )
    widget = WidgetFrame(page.frame_locator("#widget-server-login iframe"))
    log_in(widget, email)
    widget.expect_state("done")

    # The page got a code, its backend exchanged it and verified the ID token.
    expect(page.locator("#claims-box")).to_be_visible()
    assert claim(page, "email") == email
    assert claim(page, "email_verified") is True
    assert claim(page, "aud") == "northwind"
    assert claim(page, "iss") == demo.widget_origin
    assert claim(page, "pool") == "partner-1"
    assert claim(page, "amr") == ["pwd"]
    assert isinstance(claim(page, "sub"), str)
    expect(page.locator("#claims-error")).to_be_hidden()
    shot(page, "oidc-01-embedded-verified", mobile=True)


def test_redirect_flow_with_consent(
    browser: Browser, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    email = register(page, demo, mailbox)

    # Top level on the widget's own site: no session there yet, so the login page first.
    page.goto(f"{demo.partner_origin}/signin?pool=partner-1")
    page.locator("#redirect-signin").click()
    page.wait_for_url(re.compile(re.escape(demo.widget_origin) + r"/embed/partner-1/login\?flow="))
    log_in(WidgetFrame(page), email)

    page.wait_for_url(re.compile(re.escape(demo.widget_origin) + r"/oauth/consent\?flow="))
    card = page.locator("#ws-card")
    expect(card).to_have_attribute("data-state", "consent")
    expect(page.locator("[data-scope]")).to_have_count(6)
    expect(page.locator('[data-message-id="oauth.consent_intro"]')).to_contain_text(email)
    expect(page.locator('[data-message-id="oauth.consent_intro"]')).to_contain_text("Northwind")
    shot(page, "oidc-02-consent", mobile=True)

    page.locator('[data-action="allow"]').click()
    page.wait_for_url(re.compile(re.escape(demo.partner_origin) + r"/callback\?"))
    assert claim(page, "email") == email
    assert claim(page, "aud") == "northwind"
    assert claim(page, "pool") == "partner-1"
    shot(page, "oidc-03-redirect-verified")

    # Signed in and consented: straight back with a fresh token, no page in between.
    page.goto(f"{demo.partner_origin}/signin?pool=partner-1")
    page.locator("#redirect-signin").click()
    page.wait_for_url(re.compile(re.escape(demo.partner_origin) + r"/callback\?"))
    assert claim(page, "email") == email

    # A new login (session gone) for an app already granted: from the login form's POST
    # straight to the partner (the login page's form-action must allow that redirect).
    context.clear_cookies()
    page.goto(f"{demo.partner_origin}/signin/redirect?pool=partner-1")
    log_in(WidgetFrame(page), email)
    page.wait_for_url(re.compile(re.escape(demo.partner_origin) + r"/callback\?"))
    assert claim(page, "email") == email

    # Asked to review: the consent page again; Deny reaches the partner as access_denied.
    page.goto(f"{demo.partner_origin}/signin/redirect?pool=partner-1&prompt=consent")
    expect(page.locator("#ws-card")).to_have_attribute("data-state", "consent")
    page.locator('[data-action="deny"]').click()
    page.wait_for_url(
        re.compile(re.escape(demo.partner_origin) + r"/callback\?error=access_denied")
    )
    expect(page.locator("#claims-error")).to_have_text("access_denied")
    context.close()


def test_unregistered_redirect_uri_gets_a_frame_proof_error_page(
    page: Page, demo: Demo, shot: Callable[..., None]
) -> None:
    response = page.goto(
        f"{demo.widget_origin}/oauth/authorize?client_id=northwind"
        "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code"
        "&scope=openid"
    )
    assert response is not None and response.status == 400
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.locator('[data-message-id="oauth.invalid_redirect_uri"]')).to_be_visible()
    assert page.url.startswith(demo.widget_origin)
    shot(page, "oidc-04-redirect-refused")


def test_operator_registers_an_app_in_the_portal(
    page: Page, demo: Demo, shot: Callable[..., None]
) -> None:
    operator = DEMO_ADMINS[0]
    page.goto(f"{demo.widget_origin}/admin")
    page.get_by_label("Email").fill(operator.email)
    page.get_by_label("Password").fill(operator.password)
    page.get_by_role("button", name="Sign in").click()
    page.locator('a.adm-nav-link[href="/admin/apps"]').click()
    expect(page.locator('tr[data-app="northwind"]')).to_be_visible()

    form = page.locator("#new-app")
    form.locator('[name="name"]').fill("Field service app")
    form.locator('[name="id"]').fill("field-service")
    form.locator('input[name="pool_ids"][value="employees"]').check()
    form.locator('[name="redirect_uris"]').fill("http://localhost:5173/callback")
    form.locator('input[name="scopes"][value="roles"]').check()
    form.get_by_role("button", name="Register app").click()
    expect(page.locator('tr[data-app="field-service"]')).to_contain_text("Confidential")
    secret = page.locator("[data-client-secret]")
    expect(secret).to_have_text(re.compile(r"^[\w-]{43}$"))
    first = secret.inner_text()
    shot(page, "oidc-05-portal-apps")

    # Only this app's secret is replaced (the demo partner keeps northwind's).
    # The portal's confirmations are modal dialogs (static/admin.js).
    page.locator('tr[data-app="field-service"] button', has_text="New secret").click()
    page.get_by_role("dialog").locator('[data-action="rotate"]').click()
    expect(secret).to_have_text(re.compile(r"^[\w-]{43}$"))
    assert secret.inner_text() != first
