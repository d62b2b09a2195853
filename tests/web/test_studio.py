"""The brand studio's pages (/admin/branding): a designer copies, edits, previews,
publishes and rolls back; scope, CSRF and escaping hold on every page."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from tests.branding.conftest import actor, new_theme, workspace_ids
from tests.conftest import Harness, rows
from tests.web.conftest import Login
from tests.web.portal_client import LEAD, OPERATOR, PortalClient, message_ids, signed_in
from widget_server.models import AdminPrincipal, AuditEvent, ThemeRecord
from widget_server.secrets_ import new_id
from widget_server.seed import DEMO_ADMINS

DESIGNER = DEMO_ADMINS[2]
BASE = "/admin/branding"


def errors_under(response: httpx.Response, control: str) -> list[str]:
    """Message ids under one editor control (``colors.primary`` → ``#err-colors-primary``)."""
    dom = control.replace(".", "-").replace("_", "-")
    block = re.search(rf'id="err-{re.escape(dom)}"[^>]*>(.*?)</ul>', response.text, re.S)
    return re.findall(r'data-message-id="([a-z_.]+)"', block.group(1)) if block else []


def editor_form(response: httpx.Response) -> dict[str, str]:
    """The editor's controls as the browser would post them (text inputs, checked radios,
    selected options)."""
    form = re.search(r'<form class="st-editor".*?</form>', response.text, re.S)
    assert form is not None
    html = form.group(0)
    data: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or 'type="file"' in tag or 'type="search"' in tag:
            continue
        if ('type="radio"' in tag or 'type="checkbox"' in tag) and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = _unescape(value.group(1) if value else "")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(
            r'<option value="([^"]*)"', body
        )
        if chosen:
            data[name] = _unescape(chosen.group(1))
    data.pop("csrf_token", None)
    return data


def _unescape(value: str) -> str:
    return (
        value.replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


async def preview(client: PortalClient, theme_id: str, form: dict[str, str]) -> httpx.Response:
    """The preview page (posted as the studio's script does; its sample forms carry no
    token of ours, so the client keeps its CSRF token)."""
    return await client.client.post(
        f"{BASE}/themes/{theme_id}/preview", data={"csrf_token": client.csrf, **form}
    )


async def copied(client: PortalClient, source: str = "default") -> tuple[str, httpx.Response]:
    await client.get(BASE)  # the page a designer copies from (and its CSRF token)
    response = await client.post(f"{BASE}/copy", {"copy_of": source, "name": "ACME retail"})
    assert response.status_code == 303, response.text[:300]
    theme_id = response.headers["location"].rsplit("/", 1)[1]
    page = await client.follow(response)
    assert page.status_code == 200
    return theme_id, page


async def test_designer_lands_in_the_studio_and_sees_built_ins(login: Login) -> None:
    client = await login(DESIGNER)
    home = await client.get("/admin")
    assert home.status_code == 303 and home.headers["location"] == BASE
    page = await client.get(BASE)
    assert page.status_code == 200
    for builtin in ("default", "forest", "midnight", "dark"):
        assert f'data-theme="{builtin}"' in page.text
    assert 'data-nav="branding"' in page.text
    # Users, schemas and pools are not offered to a designer.
    assert "/admin/schemas" not in page.text and "/admin/pools/" not in page.text
    assert 'data-pool="partner-1"' in page.text


async def test_branding_nav_only_for_those_who_may_brand(login: Login) -> None:
    operator = await login(OPERATOR)
    assert 'data-nav="branding"' in (await operator.get("/admin")).text
    # The demo's Business 1 lets its admins brand; the nav follows that switch.
    lead = await login(LEAD)
    assert 'data-nav="branding"' in (await lead.get("/admin/pools/business-1/users")).text


async def test_a_pool_admin_with_branding_rights_brands_its_own_pool(
    h: Harness, login: Login
) -> None:
    lead = await login(LEAD)
    home = await lead.get(BASE)
    assert home.status_code == 200
    assert 'data-pool="business-1"' in home.text and 'data-pool="partner-1"' not in home.text
    theme_id, page = await copied(lead)
    [record] = [r for r in await rows(h, ThemeRecord) if r.id == theme_id]
    assert record.pool_id == "business-1"
    targets = re.findall(r'<option value="((?:tenant|workspace|pool|app):[^"]+)"', page.text)
    assert targets == ["pool:business-1"]
    published = await lead.post(f"{BASE}/themes/{theme_id}/publish", editor_form(page))
    assert published.status_code == 303
    assigned = await lead.post(f"{BASE}/themes/{theme_id}/assign", {"target": "pool:business-1"})
    assert assigned.status_code == 303
    # Workspaces are not a pool admin's to read.
    assert (await lead.get(f"{BASE}/workspaces")).status_code == 403


async def test_copy_edit_save_keeps_the_draft(h: Harness, login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client, "forest")
    form = editor_form(page)
    assert form["colors.primary"].startswith("#")
    form["colors.primary"] = "#b42318"
    form["copy.ui.log_in"] = "Sign in to ACME"
    saved = await client.post(f"{BASE}/themes/{theme_id}", form)
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("?done=studio.saved")
    [record] = [r for r in await rows(h, ThemeRecord) if r.id == theme_id]
    assert record.draft["colors"]["primary"] == "#b42318"
    assert record.draft["copy"]["ui.log_in"] == "Sign in to ACME"
    assert record.published_version is None


async def test_bad_token_is_shown_under_its_control_with_its_message_id(
    h: Harness, login: Login
) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client)
    form = editor_form(page) | {"colors.primary": "red;}body{x:y", "radius": "10px"}
    refused = await client.post(f"{BASE}/themes/{theme_id}", form)
    assert refused.status_code == 422
    assert errors_under(refused, "colors.primary") == ["brand.invalid_token"]
    # What was typed stays in the field; nothing was stored.
    assert 'value="red;}body{x:y"' in refused.text
    [record] = [r for r in await rows(h, ThemeRecord) if r.id == theme_id]
    assert record.draft["colors"]["primary"] == "#4f46e5"


async def test_live_check_answers_badges_and_field_errors(login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client)
    form = editor_form(page)
    good = await client.post(
        f"{BASE}/themes/{theme_id}/check", form, headers={"hx-request": "true"}
    )
    assert good.status_code == 200
    assert 'id="badge-light-button"' in good.text and 'data-passes="yes"' in good.text
    bad = await client.post(
        f"{BASE}/themes/{theme_id}/check",
        form | {"colors.text": "#ffffff"},
        headers={"hx-request": "true"},
    )
    assert re.search(r'id="badge-light-text"[^>]*data-passes="no"', bad.text)
    wrong = await client.post(
        f"{BASE}/themes/{theme_id}/check",
        form | {"spacing": "900px"},
        headers={"hx-request": "true"},
    )
    assert errors_under(wrong, "spacing") == ["brand.invalid_token"]


async def test_posts_without_the_csrf_token_or_from_another_site_are_refused(
    h: Harness, login: Login
) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client)
    form = editor_form(page) | {"colors.primary": "#000000"}
    missing = await client.post(f"{BASE}/themes/{theme_id}", form, csrf="")
    assert missing.status_code == 403
    assert "admin.csrf" in message_ids(missing)
    cross = await client.post(
        f"{BASE}/themes/{theme_id}/publish", form, headers={"origin": "https://evil.test"}
    )
    assert cross.status_code == 403
    preview = await client.post(f"{BASE}/themes/{theme_id}/preview", form, csrf="wrong")
    assert preview.status_code == 403
    [record] = [r for r in await rows(h, ThemeRecord) if r.id == theme_id]
    assert record.draft["colors"]["primary"] == "#4f46e5" and record.published_version is None


async def test_a_script_in_a_copy_override_is_text_in_the_preview(login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client)
    script = "<script>alert(1)</script>"
    form = editor_form(page) | {
        "copy.ui.continue": script,
        "copy.ui.create_account": script,
        "copy.ui.log_in": script,
        "preview.state": "register.step.0",
    }
    drawn = await preview(client, theme_id, form)
    assert drawn.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in drawn.text
    assert script not in drawn.text
    csp = drawn.headers["content-security-policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and "form-action 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'<style nonce="{nonce.group(1)}">' in drawn.text
    # The unsaved primary colour is what the preview draws.
    assert "--ws-color-primary:#4f46e5" in drawn.text
    login_page = await preview(client, theme_id, form | {"preview.state": "login.form"})
    assert "&lt;script&gt;" in login_page.text and script not in login_page.text


async def test_preview_draws_every_state_from_the_real_templates(login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client, "dark")
    states = re.findall(
        r'<option value="((?:register|login|recovery|consent|account|error|email)[^"]*)"', page.text
    )
    assert {"register.step.0", "login.mfa", "account", "email.activation_code"} <= set(states)
    assert len(states) >= 25
    form = editor_form(page) | {"colors.primary": "#0e7490", "scheme": "dark"}
    for state in states:
        drawn = await preview(client, theme_id, form | {"preview.state": state})
        assert drawn.status_code == 200, (state, drawn.text[:300])
        assert "#0e7490" in drawn.text, state
        if not state.startswith("email."):
            assert 'data-color-scheme="dark"' in drawn.text, state
    wrong_code = await preview(client, theme_id, form | {"preview.state": "register.wrong_code"})
    assert 'data-message-id="code.invalid"' in wrong_code.text


async def test_a_built_in_is_read_only_but_previews_tweaks(login: Login) -> None:
    client = await login(DESIGNER)
    page = await client.get(f"{BASE}/themes/forest")
    assert page.status_code == 200 and 'data-action="publish"' not in page.text
    form = editor_form(page) | {"colors.primary": "#123456", "preview.state": "login.form"}
    drawn = await preview(client, "forest", form)
    assert drawn.status_code == 200 and "--ws-color-primary:#123456" in drawn.text
    refused = await client.post(f"{BASE}/themes/forest", form)
    assert refused.status_code == 409
    assert "brand.builtin_readonly" in message_ids(refused)


async def test_publish_below_aa_warns_and_needs_one_explicit_click(
    h: Harness, login: Login
) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client)
    form = editor_form(page) | {"colors.muted": "#cccccc"}
    warned = await client.post(f"{BASE}/themes/{theme_id}/publish", form)
    assert warned.status_code == 409
    assert "data-contrast-warning" in warned.text and "light.muted" in warned.text
    [record] = [r for r in await rows(h, ThemeRecord) if r.id == theme_id]
    assert record.published_version is None
    anyway = re.search(
        r'<form method="post" action="[^"]+/publish" class="st-warning-actions">(.*?)</form>',
        warned.text,
        re.S,
    )
    assert anyway
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', anyway.group(1))
    fields = {name: _unescape(value) for name, value in hidden}
    fields.pop("csrf_token")
    published = await client.post(f"{BASE}/themes/{theme_id}/publish", fields)
    assert published.status_code == 303, re.findall(
        r'err-[a-z-]+"[^>]*><li data-message-id="[^"]+">[^<]*', published.text
    )
    [record] = [r for r in await rows(h, ThemeRecord) if r.id == theme_id]
    assert record.published_version == 1 and record.draft["colors"]["muted"] == "#cccccc"
    events = [e for e in await rows(h, AuditEvent) if e.action == "theme.publish"]
    assert events and "light.muted" in str(events[-1].details)


async def test_publish_assign_history_and_rollback(h: Harness, login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, page = await copied(client)
    form = editor_form(page)
    first = await client.post(f"{BASE}/themes/{theme_id}/publish", form)
    assert first.status_code == 303, message_ids(first)
    stale = await client.post(f"{BASE}/themes/{theme_id}/publish", form)
    assert stale.status_code == 409  # another save since this form was drawn
    assert "brand.draft_changed" in message_ids(stale)
    second = editor_form(await client.get(f"{BASE}/themes/{theme_id}")) | {
        "colors.primary": "#b42318"
    }
    assert (await client.post(f"{BASE}/themes/{theme_id}/publish", second)).status_code == 303
    assigned = await client.post(f"{BASE}/themes/{theme_id}/assign", {"target": "pool:partner-1"})
    assert assigned.status_code == 303
    css = await client.client.get("/embed/partner-1/theme.css")
    assert "--ws-color-primary:#b42318" in css.text
    history = await client.get(f"{BASE}/themes/{theme_id}/history")
    assert 'data-version="2"' in history.text and 'data-version="1"' in history.text
    back = await client.post(f"{BASE}/themes/{theme_id}/rollback", {"version": "1"})
    assert back.status_code == 303
    css = await client.client.get("/embed/partner-1/theme.css")
    assert "--ws-color-primary:#4f46e5" in css.text
    origins = await client.get(f"{BASE}/pools/partner-1")
    assert re.search(r'data-token="colors.primary" data-level="pool"', origins.text)


async def test_export_then_import_makes_a_new_theme(login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, _page = await copied(client, "midnight")
    exported = await client.get(f"{BASE}/themes/{theme_id}/export?draft=1")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment")
    imported = await client.client.post(
        f"{BASE}/import",
        data={"csrf_token": client.csrf},
        files={"file": ("theme.json", exported.content, "application/json")},
    )
    assert imported.status_code == 303, re.findall(r'data-message-id="[^"]+">[^<]*', imported.text)
    assert imported.headers["location"].endswith("?done=studio.imported")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 32), "#b42318").save(out, "PNG")
    return out.getvalue()


async def test_logo_upload_answers_the_control_with_the_hash(login: Login) -> None:
    client = await login(DESIGNER)
    theme_id, _page = await copied(client)
    answer = await client.client.post(
        f"{BASE}/themes/{theme_id}/upload",
        data={"csrf_token": client.csrf, "token": "logo.asset"},
        files={"upload.logo.asset": ("logo.svg", _png(), "image/svg+xml")},
        headers={"hx-request": "true"},
    )
    assert answer.status_code == 200, answer.text[:300]
    sha = re.search(r'name="logo.asset" value="([0-9a-f]{64})"', answer.text)
    assert sha and f"/brand-assets/{sha.group(1)}" in answer.text
    bad = await client.client.post(
        f"{BASE}/themes/{theme_id}/upload",
        data={"csrf_token": client.csrf, "token": "logo.asset"},
        files={"upload.logo.asset": ("logo.png", b"<svg onload='x()'/>", "image/png")},
        headers={"hx-request": "true"},
    )
    assert bad.status_code == 422
    assert errors_under(bad, "logo.asset")


async def _workspace_designer(h: Harness, workspace: str) -> Any:
    """A person who designs for one workspace only, signed in."""
    ids = await workspace_ids(h)
    hasher = h.web.services.hashing.hasher
    async with h.web.services.db.write() as session:
        session.add(
            AdminPrincipal(
                id=new_id(),
                tenant_id="acme",
                pool_id=None,
                workspace_id=ids[workspace],
                kind="person",
                role="brand_designer",
                name="Wanda Workspace",
                email="wanda@acme.test",
                secret_hash=hasher.hash("wanda-demo-2026"),
                created_by=None,
                created_at=h.clock.now(),
                last_used_at=None,
                revoked_at=None,
            )
        )

    class Who:
        email = "wanda@acme.test"
        password = "wanda-demo-2026"

    return Who


async def test_a_workspace_designer_gets_404_for_another_workspaces_theme(h: Harness) -> None:
    ids = await workspace_ids(h)
    other = await new_theme(h, actor(), workspace_id=ids["Business customers"])
    theirs = other.summary.id
    client = await signed_in(h, await _workspace_designer(h, "Partners"))
    try:
        editor = await client.get(f"{BASE}/themes/{theirs}")
        assert editor.status_code == 404
        home = await client.get(BASE)
        assert theirs not in home.text
        assert 'data-pool="business-1"' not in home.text
        preview = await client.post(
            f"{BASE}/themes/{theirs}/preview", {"preview.pool": "partner-1"}
        )
        assert preview.status_code == 404, preview.text[-3000:]
        published = await client.post(f"{BASE}/themes/{theirs}/publish", {})
        assert published.status_code == 404
        # Their own theme, in their workspace, opens.
        mine, page = await copied(client)
        assert (await client.get(f"{BASE}/themes/{mine}")).status_code == 200
        # A pool of another workspace is not a preview context either.
        foreign = await client.post(
            f"{BASE}/themes/{mine}/preview", editor_form(page) | {"preview.pool": "business-1"}
        )
        assert foreign.status_code == 404
    finally:
        await client.client.aclose()
    denied = [e for e in await rows(h, AuditEvent) if e.outcome == "denied"]
    assert any(e.target_id == theirs for e in denied)


async def test_operator_manages_workspaces(h: Harness, login: Login) -> None:
    client = await login(OPERATOR)
    page = await client.get(f"{BASE}/workspaces")
    assert page.status_code == 200 and "Partners" in page.text
    created = await client.post(f"{BASE}/workspaces", {"name": "Franchisees"})
    assert created.status_code == 303
    wid = (await workspace_ids(h))["Franchisees"]
    renamed = await client.post(f"{BASE}/workspaces/{wid}", {"name": "Stores"})
    assert renamed.status_code == 303
    assert (await workspace_ids(h))["Stores"] == wid
    moved = await client.post(f"{BASE}/workspaces/{wid}/pools", {"pool_id": "partner-1"})
    assert moved.status_code == 303
    refused = await client.post(f"{BASE}/workspaces/{wid}/delete", {})
    assert refused.status_code == 409
    assert "brand.workspace_not_empty" in message_ids(refused)
    duplicate = await client.post(f"{BASE}/workspaces", {"name": "Stores"})
    assert duplicate.status_code == 422
    template = await client.post(
        f"{BASE}/workspaces/from-template",
        {
            "name": "Bank branches",
            "template": "banking",
            "pool_id": "branch-1",
            "pool_name": "Branch 1",
        },
    )
    assert template.status_code == 303, template.text[:300]
    assert "Bank branches" in await workspace_ids(h)


async def test_designer_reads_workspaces_but_cannot_change_them(h: Harness, login: Login) -> None:
    client = await login(DESIGNER)
    page = await client.get(f"{BASE}/workspaces")
    assert page.status_code == 200 and "Create workspace" not in page.text
    refused = await client.post(f"{BASE}/workspaces", {"name": "Mine"})
    assert refused.status_code == 403
    async with h.web.services.db.read() as session:
        names = (await session.execute(select(AdminPrincipal.email))).scalars().all()
    assert DESIGNER.email in names
