"""The studio's "try it": the real registration and login against an unsaved draft, in a
sandbox that stores nothing in the pool, for the designer who opened it and nobody else."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, select

from tests.conftest import FlowPage, Harness
from tests.web.conftest import Login
from tests.web.portal_client import LEAD, PortalClient
from tests.web.test_studio import BASE, DESIGNER, copied, editor_form
from widget_server.branding.sandbox import MAX_OPEN, PER_SESSION
from widget_server.models import Address, Code, Credential, Flow, OutboxMessage, Session, User

DRAFT_PRIMARY = "#0b6e4f"
PASSWORD = "Blue-Harbour-Kettle-42"
EMAIL = "tryer@example.com"
TABLES = (User, Address, Credential, Flow, Code, OutboxMessage, Session)


async def counts(h: Harness) -> dict[str, int]:
    found = {}
    async with h.web.services.db.read() as session:
        for model in TABLES:
            query = select(func.count()).select_from(model)
            found[model.__tablename__] = int((await session.execute(query)).scalar_one())
    return found


async def open_sandbox(client: PortalClient, primary: str = DRAFT_PRIMARY) -> httpx.Response:
    theme_id, page = await copied(client)
    # The editor's button posts the whole unsaved form there, into a new tab.
    button = re.search(r'<button[^>]*data-action="try"[^>]*>', page.text)
    assert button is not None and f'formaction="{BASE}/themes/{theme_id}/try"' in button.group(0)
    assert 'formtarget="_blank"' in button.group(0)
    form = editor_form(page)
    form["preview.pool"] = "partner-1"
    form["colors.primary"] = primary  # unsaved: only the draft being typed
    return await client.post(f"{BASE}/themes/{theme_id}/try", form)


def frame_src(page: httpx.Response) -> str:
    match = re.search(r'<iframe class="st-try-frame" src="([^"]+)"', page.text)
    assert match is not None, page.text[:500]
    return match.group(1).replace("&amp;", "&")


async def flow_page(client: httpx.AsyncClient, response: httpx.Response, pool: str) -> FlowPage:
    if response.status_code == 303:
        response = await client.get(response.headers["location"])
    return FlowPage(response, pool)


async def test_register_and_log_in_with_the_draft_and_nothing_stored(
    h: Harness, login: Login
) -> None:
    designer = await login(DESIGNER)
    before = await counts(h)
    opened = await open_sandbox(designer)
    assert opened.status_code == 303, opened.text[:300]
    cookie = opened.headers["set-cookie"]
    assert "ws_tryit=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert re.search(r"Path=/embed/try_[0-9a-f]{24}", cookie)
    page = await designer.follow(opened)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "data-no-messages" in page.text
    src = frame_src(page)
    sandbox = src.split("/")[2]
    web = designer.client

    # The real widget, drawn with the draft, framable by our own origin only.
    shown = await web.get(src)
    assert shown.status_code == 200
    assert "frame-ancestors http://localhost:8000" in shown.headers["content-security-policy"]
    css_href = re.search(
        r'<link rel="stylesheet" href="(/embed/[^"]+/theme\.css[^"]*)"', shown.text
    )
    assert css_href is not None
    css = await web.get(css_href.group(1).replace("&amp;", "&"))
    assert DRAFT_PRIMARY in css.text.lower()
    real_css = await web.get("/embed/partner-1/theme.css")
    assert DRAFT_PRIMARY not in real_css.text.lower()

    # Register: the code is read from the try-it page, not sent anywhere.
    form = FlowPage(shown, sandbox)
    path = f"/embed/{sandbox}/register"
    step = await web.post(path, data={**form.hidden, "email": EMAIL, "password": PASSWORD})
    coded = await flow_page(web, step, sandbox)
    assert coded.state == "code", coded.text[:500]
    inbox = await designer.get(f"{BASE}/try/{sandbox}/mail", headers={"HX-Request": "true"})
    codes = re.findall(r"<output data-code>(\d+)</output>", inbox.text)
    assert len(codes) == 1 and EMAIL in inbox.text
    hidden = {k: v for k, v in coded.hidden.items() if k != "step"}
    done = await flow_page(
        web, await web.post(path + "/code", data={**hidden, "code": codes[0]}), sandbox
    )
    assert done.state == "done", done.text[:500]

    # Log in as the person just registered, in the same sandbox.
    query = urlencode({"parent_origin": "http://localhost:8000"})
    form = FlowPage(await web.get(f"/embed/{sandbox}/login?{query}"), sandbox)
    body = {**form.hidden, "identifier": EMAIL, "password": PASSWORD}
    body.pop("step", None)
    signed = await flow_page(web, await web.post(f"/embed/{sandbox}/login", data=body), sandbox)
    assert signed.state == "done", signed.text[:500]

    # Nothing of it in the real database, and no mail left the server.
    await h.deliver()
    assert await counts(h) == before
    assert h.codes_for(EMAIL) == []

    # Ending it removes it: its pages are gone.
    await designer.get(f"{BASE}/try/{sandbox}")
    closed = await designer.post(f"{BASE}/try/{sandbox}/close")
    assert closed.status_code == 303
    assert (await web.get(src)).status_code == 404
    assert (await designer.get(f"{BASE}/try/{sandbox}")).status_code == 404


async def test_nobody_else_reaches_a_sandbox(h: Harness, login: Login, anon: PortalClient) -> None:
    designer = await login(DESIGNER)
    opened = await open_sandbox(designer)
    location = opened.headers["location"]
    page = await designer.follow(opened)
    src = frame_src(page)

    # Another signed-in person, and a visitor without the sandbox's cookie: 404.
    lead = await login(LEAD)
    assert (await lead.get(location)).status_code == 404
    assert (await lead.get(location + "/mail")).status_code == 404
    assert (await lead.client.get(src)).status_code == 404
    assert (await anon.client.get(src)).status_code == 404
    # The cookie alone is not enough once the designer has signed out.
    assert (await designer.client.get(src)).status_code == 200
    await designer.get(BASE)
    out = await designer.post("/admin/logout")
    assert out.status_code in (200, 303)
    assert "ws_tryit" in designer.client.cookies
    assert (await designer.client.get(src)).status_code == 404


async def test_only_who_may_read_the_theme_there_opens_one_and_posts_are_csrf_checked(
    h: Harness, login: Login
) -> None:
    designer = await login(DESIGNER)
    theme_id, page = await copied(designer)
    form = editor_form(page)
    refused = await designer.post(f"{BASE}/themes/{theme_id}/try", form, csrf="")
    assert refused.status_code in (403, 400) and "set-cookie" not in refused.headers
    # A pool admin of another pool cannot try the designer's theme there.
    lead = await login(LEAD)
    await lead.get(BASE)
    other = await lead.post(f"{BASE}/themes/{theme_id}/try", form)
    assert other.status_code == 404
    assert len(h.app.state.sandboxes) == 0


async def test_sandboxes_are_bounded(h: Harness, login: Login) -> None:
    designer = await login(DESIGNER)
    for _ in range(PER_SESSION + 1):
        assert (await open_sandbox(designer)).status_code == 303
    # Opening another closes the session's oldest.
    assert len(h.app.state.sandboxes) == PER_SESSION
    # Past the sandbox lifetime they are closed at the next lookup.
    first = await open_sandbox(designer)
    h.clock.advance(seconds=31 * 60)
    assert (await designer.get(first.headers["location"])).status_code == 404
    assert len(h.app.state.sandboxes) == 0
    assert MAX_OPEN >= PER_SESSION
