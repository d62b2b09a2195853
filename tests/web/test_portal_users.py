"""Portal pages for a pool's users (as its pool admin) and the tenant pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import Harness, deliver_all, rows
from tests.web.conftest import Login
from tests.web.portal_client import LEAD, OPERATOR, PortalClient, field_errors, message_ids
from widget_server.models import AdminPrincipal, AuditEvent, User
from widget_server.seed import DEMO_ADMINS

USERS = "/admin/pools/partner-1/users"
TEAM = "/admin/pools/business-1/users"
XSS = '<script>alert("x")</script>'


async def _create(portal: PortalClient, path: str, **fields: str) -> str:
    await portal.get(path + "/new")
    response = await portal.post(path, {"status": "new", "password_mode": "invite", **fields})
    assert response.status_code == 303, message_ids(response)
    match = re.search(
        r"/users/([0-9a-f-]{36})\?done=admin.user_created", response.headers["location"]
    )
    assert match is not None
    return match.group(1)


async def test_operator_invites_a_user_who_receives_a_code(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    user_id = await _create(portal, USERS, email="Ada@Example.com")
    page = await portal.get(f"{USERS}/{user_id}")
    assert page.status_code == 200
    assert 'data-status="new"' in page.text and "ada@example.com" in page.text
    await deliver_all(h)
    assert [e.recipient for e in h.sender.sent] == ["ada@example.com"]
    listing = await portal.get(USERS)
    assert f'data-user="{user_id}"' in listing.text


async def test_creating_a_user_reports_problems_by_field_and_stores_nothing(
    h: Harness, login: Login
) -> None:
    portal = await login(LEAD)
    await portal.get(TEAM + "/new")
    response = await portal.post(
        TEAM, {"email": "not-an-address", "status": "new", "metadata": "[1, 2"}
    )
    assert response.status_code == 422
    assert field_errors(response, "metadata") == ["admin.json_invalid"]
    response = await portal.post(TEAM, {"email": "not-an-address", "status": "new"})
    assert response.status_code == 422
    assert field_errors(response, "email")
    assert 'value="not-an-address"' in response.text
    assert await rows(h, User) == []


async def test_search_filters_and_htmx_gets_only_the_results(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    ada = await _create(portal, USERS, email="ada@example.com")
    bob = await _create(portal, USERS, email="bob@other.example")
    await portal.post(f"{USERS}/{bob}/activate")
    found = await portal.get(USERS, params={"q": "EXAMPLE.COM"})
    assert f'data-user="{ada}"' in found.text and f'data-user="{bob}"' not in found.text
    assert "<html" in found.text
    active = await portal.get(USERS, params={"status": "active"}, headers={"HX-Request": "true"})
    assert active.text.lstrip().startswith('<div id="users-results"')
    assert f'data-user="{bob}"' in active.text and f'data-user="{ada}"' not in active.text
    assert "HX-Request" in active.headers["vary"]
    none = await portal.get(USERS, params={"q": "nobody"})
    assert 'data-total="0"' in none.text and "No users match" in none.text


async def test_lifecycle_actions_follow_the_status_table(h: Harness, login: Login) -> None:
    portal = await login(LEAD)
    user_id = await _create(
        portal,
        TEAM,
        email="mia@example.com",
        first_name="Mia",
        last_name="Member",
        company="Business One",
        date_of_birth="1990-05-01",
        country="DE",
        terms="true",
    )
    path = f"{TEAM}/{user_id}"
    wrong = await portal.post(f"{path}/deactivate")
    assert wrong.status_code == 409 and "admin.status_transition" in message_ids(wrong)
    for action, status in (
        ("activate", "active"),
        ("deactivate", "inactive"),
        ("reactivate", "active"),
    ):
        response = await portal.post(f"{path}/{action}")
        assert response.status_code == 303, (action, message_ids(response))
        assert f'data-status="{status}"' in (await portal.follow(response)).text
    assert (await portal.post(f"{path}/revoke-sessions")).status_code == 303
    assert (await portal.post(f"{path}/explode")).status_code == 404
    gone = await portal.post(f"{path}/delete")
    assert gone.headers["location"] == f"{TEAM}?done=admin.user_deleted"
    erased = await portal.get(path)
    assert 'data-status="deleted"' in erased.text and "mia@example.com" not in erased.text
    audit = await portal.get("/admin/pools/business-1/audit")
    for action in ("user.create", "user.delete"):
        assert f'data-action="{action}"' in audit.text


async def test_actions_need_the_csrf_token(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    user_id = await _create(portal, USERS, email="ada@example.com")
    for csrf in ("", "x" * 64):
        response = await portal.post(f"{USERS}/{user_id}/delete", csrf=csrf)
        assert response.status_code == 403
        assert "admin.csrf" in message_ids(response)
    assert (await rows(h, User))[0].status == "new"


async def test_payload_values_render_escaped(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    user_id = await _create(portal, USERS, email="ada@example.com")
    await portal.get(f"{USERS}/{user_id}")
    # An admin stores markup in the metadata; a user could put it in their payload.
    saved = await portal.post(
        f"{USERS}/{user_id}",
        {
            "payload": '{"email": "ada@example.com"}',
            "metadata": '{"note": "' + XSS.replace('"', '\\"') + '"}',
        },
    )
    assert saved.status_code == 303, message_ids(saved)
    async with h.web.services.db.write() as session:
        user = (await session.execute(select(User))).scalar_one()
        user.payload = {**user.payload, "name": XSS}
    page = await portal.get(f"{USERS}/{user_id}")
    assert XSS not in page.text
    assert page.text.count("&lt;script&gt;") >= 2  # payload value and metadata JSON


async def test_edit_keeps_what_was_typed_when_refused(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    user_id = await _create(portal, USERS, email="ada@example.com")
    await portal.get(f"{USERS}/{user_id}")
    response = await portal.post(
        f"{USERS}/{user_id}", {"payload": '{"email": "eve@example.com"}', "metadata": "{}"}
    )
    assert response.status_code == 422
    assert field_errors(response, "payload") == ["admin.identifier_readonly"]
    assert "eve@example.com" in response.text
    assert (await rows(h, User))[0].payload["email"] == "ada@example.com"


async def test_pool_viewer_reads_but_cannot_change(h: Harness, login: Login) -> None:
    operator = await login(OPERATOR)
    user_id = await _create(operator, TEAM.replace("business-1", "partner-1"), email="a@b.example")
    await operator.get("/admin/admins")
    created = await operator.post(
        "/admin/admins",
        {
            "kind": "person",
            "role": "pool_viewer",
            "name": "Vic Viewer",
            "pool_id": "partner-1",
            "email": "vic@example.com",
            "password": "viewer-password-2026",
        },
    )
    assert created.status_code == 303, message_ids(created)
    from widget_server.seed import DemoAdmin

    viewer = await login(
        DemoAdmin(
            email="vic@example.com",
            name="Vic",
            role="pool_viewer",
            pool_id="partner-1",
            password="viewer-password-2026",
        )
    )
    page = await viewer.get(f"{USERS}/{user_id}")
    assert page.status_code == 200
    assert "/delete" not in page.text and "Save changes" not in page.text
    assert "/users/new" not in (await viewer.get(USERS)).text
    assert (await viewer.post(f"{USERS}/{user_id}/delete")).status_code == 403
    assert (await rows(h, User))[0].status == "new"


# --- Tenant pages ---------------------------------------------------------------------------


async def test_api_key_is_shown_once_and_can_be_revoked(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    await portal.get("/admin/admins")
    response = await portal.post(
        "/admin/admins",
        {"kind": "api_key", "role": "pool_admin", "name": "CRM sync", "pool_id": "partner-1"},
    )
    assert response.status_code == 200
    key = re.search(r"data-api-key>(wsk_[^<]+)</code>", response.text)
    assert key is not None
    assert response.headers["cache-control"] == "no-store"
    again = await portal.get("/admin/admins")
    assert key.group(1) not in again.text and "CRM sync" in again.text
    api = await h.client.get(
        "/api/admin/pools/partner-1", headers={"Authorization": f"Bearer {key.group(1)}"}
    )
    assert api.status_code == 200
    row = next(p for p in await rows(h, AdminPrincipal) if p.name == "CRM sync")
    revoked = await portal.post(f"/admin/admins/{row.id}/revoke")
    assert revoked.status_code == 303
    api = await h.client.get(
        "/api/admin/pools/partner-1", headers={"Authorization": f"Bearer {key.group(1)}"}
    )
    assert api.status_code == 401


async def test_new_admin_problems_are_shown_by_field(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    await portal.get("/admin/admins")
    response = await portal.post(
        "/admin/admins",
        {
            "kind": "person",
            "role": "pool_admin",
            "name": "X",
            "pool_id": "partner-1",
            "email": "nope",
            "password": "short",
        },
    )
    assert response.status_code == 422
    assert field_errors(response, "email") and field_errors(response, "password")
    assert len(await rows(h, AdminPrincipal)) == len(DEMO_ADMINS)  # the demo admins only


async def test_schemas_builtin_read_only_custom_validated(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    listing = await portal.get("/admin/schemas")
    builtin = re.search(r'data-schema="([^"]+)"', listing.text)
    assert builtin is not None
    page = await portal.get(f"/admin/schemas/{builtin.group(1)}")
    assert '<fieldset class="adm-fieldset" disabled>' in page.text
    refused = await portal.post(
        f"/admin/schemas/{builtin.group(1)}", {"name": "Mine", "body": "{}"}
    )
    assert refused.status_code == 409 and "admin.schema_builtin" in message_ids(refused)
    await portal.get("/admin/schemas/new")
    bad = await portal.post(
        "/admin/schemas",
        {"name": "Remote", "kind": "metadata", "body": '{"$ref": "https://evil.example/s.json"}'},
    )
    assert bad.status_code == 422 and field_errors(bad, "body")
    assert "evil.example" in bad.text  # the typed JSON is kept
    broken = await portal.post(
        "/admin/schemas", {"name": "Broken", "kind": "metadata", "body": "{"}
    )
    assert field_errors(broken, "body") == ["admin.json_invalid"]
    good = await portal.post(
        "/admin/schemas",
        {
            "name": "Roles",
            "kind": "metadata",
            "id": "roles",
            "body": '{"type": "object", "properties": {"roles": {"type": "array"}}}',
        },
    )
    assert good.status_code == 303, message_ids(good)
    assert good.headers["location"] == "/admin/schemas/roles?done=admin.schema_saved"
    assert "Roles" in (await portal.follow(good)).text
    deleted = await portal.post("/admin/schemas/roles/delete")
    assert deleted.status_code == 303


async def test_login_audit_and_denials_are_visible_to_the_pool_admin(
    h: Harness, login: Login
) -> None:
    lead = await login(LEAD)
    assert (await lead.get("/admin/pools/partner-1/users")).status_code == 404
    audit = await lead.get("/admin/pools/business-1/audit")
    assert 'data-action="admin.login"' in audit.text
    denied = [e for e in await rows(h, AuditEvent) if e.outcome == "denied"]
    assert denied and all(e.actor_name == LEAD.name for e in denied)


async def test_active_users_get_a_password_now_or_a_link(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    await portal.get(USERS + "/new")
    weak = await portal.post(
        USERS,
        {
            "email": "ada@example.com",
            "status": "active",
            "password_mode": "password",
            "password": "short",
        },
    )
    assert weak.status_code == 422 and field_errors(weak, "password")
    assert "short" not in re.findall(r'name="password"[^>]*>', weak.text)[0]  # never echoed
    with_password = await portal.post(
        USERS,
        {
            "email": "ada@example.com",
            "status": "active",
            "password_mode": "password",
            "password": "Lantern-tundra-Gq7-42",
        },
    )
    assert with_password.status_code == 303, message_ids(with_password)
    page = await portal.follow(with_password)
    assert 'data-status="active"' in page.text and "Not set yet" not in page.text
    with_link = await portal.post(
        USERS, {"email": "bob@example.com", "status": "active", "password_mode": "link"}
    )
    assert with_link.status_code == 303, message_ids(with_link)
    await deliver_all(h)
    assert "bob@example.com" in [e.recipient for e in h.sender.sent]
