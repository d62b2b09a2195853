"""The operator's Apps page in the admin portal: register (secret shown once, not in a
URL), errors by field with values kept, rotate, revoke, CSRF; pool admins are refused."""

from __future__ import annotations

import re

from tests.conftest import Harness, rows
from tests.web.portal_client import LEAD, field_errors, seed_admins, signed_in
from widget_server.models import App
from widget_server.oidc.clients import client_secret_hash

FORM = {
    "name": "Shop",
    "id": "shop",
    "kind": "confidential",
    "pool_ids": ["partner-1", "partner-2"],
    "redirect_uris": "https://shop.example/cb\nhttp://localhost:3000/cb",
    "allowed_origins": "https://shop.example",
    "scopes": ["email", "roles"],
}


def secret_on(page_text: str) -> str:
    match = re.search(
        r"<code class=\"adm-secret-key\" data-client-secret>([^<]+)</code>", page_text
    )
    assert match, "no secret on the page"
    return match.group(1)


async def test_register_rotate_and_revoke(harness: Harness) -> None:
    await seed_admins(harness)
    operator = await signed_in(harness)
    page = await operator.get("/admin/apps")
    assert page.status_code == 200 and 'id="new-app"' in page.text

    created = await operator.post("/admin/apps", FORM)
    assert created.status_code == 200, created.text[:500]
    assert created.headers["cache-control"] == "no-store"
    secret = secret_on(created.text)
    (app,) = await rows(harness, App)
    assert app.secret_hash == client_secret_hash(harness.settings.secret_key, "shop", secret)
    assert (app.pool_ids, app.scopes) == (["partner-1", "partner-2"], ["email", "roles"])
    assert app.redirect_uris == ["http://localhost:3000/cb", "https://shop.example/cb"]
    assert 'data-app="shop"' in created.text
    assert secret not in (await operator.get("/admin/apps")).text

    rotated = await operator.post("/admin/apps/shop/rotate-secret")
    new_secret = secret_on(rotated.text)
    assert new_secret != secret
    (app,) = await rows(harness, App)
    assert app.secret_hash == client_secret_hash(harness.settings.secret_key, "shop", new_secret)

    revoked = await operator.post("/admin/apps/shop/revoke")
    assert revoked.status_code == 200
    (app,) = await rows(harness, App)
    assert app.revoked_at is not None
    assert "adm-badge--revoked" in revoked.text


async def test_bad_values_stay_on_the_form_with_errors(harness: Harness) -> None:
    await seed_admins(harness)
    operator = await signed_in(harness)
    await operator.get("/admin/apps")
    response = await operator.post(
        "/admin/apps",
        FORM | {"redirect_uris": "http://shop.example/cb", "pool_ids": [], "name": "Keep me"},
    )
    assert response.status_code == 422
    assert field_errors(response, "redirect_uris") == ["app.redirect_uri_invalid"]
    assert field_errors(response, "pool_ids") == ["app.needs_pool"]
    assert 'value="Keep me"' in response.text
    assert await rows(harness, App) == []


async def test_csrf_and_roles(harness: Harness) -> None:
    await seed_admins(harness)
    operator = await signed_in(harness)
    await operator.get("/admin/apps")
    forged = await operator.post("/admin/apps", FORM, csrf="x" * 43)
    assert forged.status_code == 403
    lead = await signed_in(harness, LEAD)
    assert (await lead.get("/admin/apps")).status_code == 403
    assert await rows(harness, App) == []
