"""The admin portal: sign-in, session cookie, CSRF, scope, and escaping."""

from __future__ import annotations

import re

from sqlalchemy import update

from tests.conftest import Harness, rows
from tests.web.conftest import Login
from tests.web.portal_client import (
    LEAD,
    OPERATOR,
    PortalClient,
    field_errors,
    message_ids,
    portal_client,
)
from widget_server.models import AdminPrincipal, AdminSession, AuditEvent, User
from widget_server.passwords.hashing import Argon2Hasher

# --- Sign-in ------------------------------------------------------------------------------


async def test_sign_in_sets_a_strict_secure_http_only_cookie_scoped_to_admin(
    h: Harness, anon: PortalClient
) -> None:
    response = await anon.sign_in(OPERATOR.email.upper(), OPERATOR.password)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ws_admin=")
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/admin"):
        assert flag.lower() in cookie.lower(), flag
    assert "max-age" not in cookie.lower()  # a browser-session cookie
    page = await anon.follow(response)
    assert page.status_code == 200
    assert 'data-pool="business-1"' in page.text
    # Only the keyed hash of the token is stored.
    token = anon.client.cookies["ws_admin"]
    stored = await rows(h, AdminSession)
    assert len(stored) == 1 and stored[0].token_hash != token and token not in str(vars(stored[0]))


async def test_failed_sign_in_answers_the_same_for_unknown_wrong_and_revoked(
    h: Harness, anon: PortalClient
) -> None:
    async with h.web.services.db.write() as session:
        await session.execute(
            update(AdminPrincipal)
            .where(AdminPrincipal.email == LEAD.email)
            .values(revoked_at=h.clock.now())
        )
    answers = [
        await anon.sign_in("nobody@acme.test", "whatever-password"),
        await anon.sign_in(OPERATOR.email, "wrong-password-123"),
        await anon.sign_in(LEAD.email, LEAD.password),
    ]
    for response in answers:
        assert response.status_code == 401
        assert message_ids(response) == ["admin.login_failed"]
        assert "set-cookie" not in response.headers
    emails = ("nobody@acme.test", OPERATOR.email, LEAD.email)
    bodies = {r.text.replace(e, "") for r, e in zip(answers, emails, strict=True)}
    assert len(bodies) == 1
    failed = [e for e in await rows(h, AuditEvent) if e.action == "admin.login"]
    assert {e.outcome for e in failed} == {"failed"}
    assert all("password" not in str(e.details) for e in failed)


async def test_successful_sign_in_is_audited(h: Harness, anon: PortalClient) -> None:
    await anon.sign_in(LEAD.email, LEAD.password)
    events = [e for e in await rows(h, AuditEvent) if e.action == "admin.login"]
    assert [(e.outcome, e.pool_id, e.ip) for e in events] == [("ok", "business-1", "203.0.113.7")]


async def test_repeated_failures_are_throttled_per_email(h: Harness, anon: PortalClient) -> None:
    for _ in range(5):
        assert (await anon.sign_in(OPERATOR.email, "not-the-password")).status_code == 401
    # Now even the right password waits: guessing has hit the brake.
    throttled = await anon.sign_in(OPERATOR.email, OPERATOR.password)
    assert throttled.status_code == 429
    assert message_ids(throttled) == ["admin.login_throttled"]
    assert int(throttled.headers["retry-after"]) > 0
    # Another person signing in from elsewhere is not affected.
    async with portal_client(h) as client:
        other = PortalClient(h, client)
        assert (await other.sign_in(LEAD.email, LEAD.password)).status_code == 303


async def test_unknown_emails_are_throttled_like_known_ones(h: Harness, anon: PortalClient) -> None:
    for _ in range(5):
        await anon.sign_in("ghost@acme.test", "not-the-password")
    assert (await anon.sign_in("ghost@acme.test", "not-the-password")).status_code == 429


async def test_cross_site_login_post_is_refused(h: Harness, anon: PortalClient) -> None:
    response = await anon.client.post(
        "/admin/login",
        data={"email": OPERATOR.email, "password": OPERATOR.password},
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_next_only_leads_inside_the_portal(h: Harness, anon: PortalClient) -> None:
    for target, expected in [
        ("/admin/pools/business-1/users", "/admin/pools/business-1/users"),
        ("//evil.example/admin/x", "/admin"),
        ("https://evil.example/", "/admin"),
        ("/admin/\\evil", "/admin"),
    ]:
        response = await anon.client.post(
            "/admin/login",
            data={"email": OPERATOR.email, "password": OPERATOR.password, "next": target},
        )
        assert response.headers["location"] == expected


# --- Session -------------------------------------------------------------------------------


async def test_pages_need_a_session(h: Harness, anon: PortalClient) -> None:
    response = await anon.get("/admin")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")
    htmx = await anon.get("/admin", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/admin/login")


async def test_a_forged_cookie_is_no_session(h: Harness, anon: PortalClient) -> None:
    anon.client.cookies.set("ws_admin", "forged-token", domain="widget.test", path="/admin")
    response = await anon.get("/admin")
    assert response.status_code == 303
    assert "ws_admin=" in response.headers.get("set-cookie", "")  # cleared


async def test_idle_sessions_end_after_an_hour(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    h.clock.advance(50 * 60)
    assert (await portal.get("/admin")).status_code == 200
    # The request above slid the idle deadline; 50 more minutes are still within it.
    h.clock.advance(50 * 60)
    assert (await portal.get("/admin")).status_code == 200
    h.clock.advance(61 * 60)
    assert (await portal.get("/admin")).status_code == 303


async def test_sessions_end_after_eight_hours_however_busy(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    served = 0
    for _ in range(20):
        h.clock.advance(30 * 60)
        if (await portal.get("/admin")).status_code != 200:
            break
        served += 1
    # Busy every half hour, yet out after 8 h: 15 requests at 0:30 ... 7:30, none at 8:00.
    assert served == 15


async def test_revoking_a_person_ends_their_sessions(h: Harness, login: Login) -> None:
    portal = await login(LEAD)
    async with h.web.services.db.write() as session:
        await session.execute(
            update(AdminPrincipal)
            .where(AdminPrincipal.email == LEAD.email)
            .values(revoked_at=h.clock.now())
        )
    assert (await portal.get("/admin")).status_code == 303


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    assert (await portal.post("/admin/logout", csrf="")).status_code == 403
    assert (await portal.post("/admin/logout", csrf="forged" + portal.csrf[6:])).status_code == 403
    assert (await portal.get("/admin")).status_code == 200
    response = await portal.post("/admin/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?done=admin.signed_out"
    assert await rows(h, AdminSession) == []
    assert (await portal.get("/admin")).status_code == 303


async def test_admin_pages_cannot_be_framed_and_vary_on_htmx(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    for path in ("/admin", "/admin/login"):
        response = await portal.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "HX-Request" in response.headers["vary"]
        assert response.headers["cache-control"] == "no-store"


# --- Pools ---------------------------------------------------------------------------------


async def test_operator_changes_pool_settings(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    page = await portal.get("/admin/pools/business-1")
    assert page.status_code == 200 and "Save settings" in page.text
    response = await portal.post(
        "/admin/pools/business-1",
        {
            "name": "Business One",
            "payload_schema_id": _selected(page.text, "payload_schema_id"),
            "activation_methods": ["email"],
            "allowed_origins": "https://shop.example\nhttps://b1.example",
            "email_domains": "",
            "session_lifetime_seconds": "3600",
            "policy.min_length": "12",
            "policy.max_length": "64",
            "policy.history": "3",
            "policy.common": "on",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/pools/business-1?done=admin.saved"
    pool = await h.web.services.pools.get("business-1")
    assert pool.name == "Business One" and not pool.self_registration
    assert pool.allowed_origins == ("https://b1.example", "https://shop.example")
    assert pool.policy.min_length == 12
    page = await portal.follow(response)
    assert "admin.saved" in message_ids(page)
    audit = await portal.get("/admin/pools/business-1/audit")
    assert 'data-action="pool.update"' in audit.text


async def test_bad_pool_settings_come_back_by_field_and_nothing_is_stored(
    h: Harness, login: Login
) -> None:
    portal = await login(OPERATOR)
    page = await portal.get("/admin/pools/partner-1")
    response = await portal.post(
        "/admin/pools/partner-1",
        {
            "name": "Partner 1",
            "payload_schema_id": _selected(page.text, "payload_schema_id"),
            "activation_methods": ["email"],
            "allowed_origins": "https://ok.example\njavascript:alert(1)",
            "session_lifetime_seconds": "soon",
            "policy.min_length": "40",
            "policy.max_length": "20",
        },
    )
    # Unreadable input is reported before anything reaches the service...
    assert response.status_code == 422
    assert field_errors(response, "session_lifetime_seconds") == ["admin.not_a_number"]
    # ...what was typed is still there, escaped...
    assert "javascript:alert(1)</textarea>" in response.text
    response = await portal.post(
        "/admin/pools/partner-1",
        {
            "name": "Partner 1",
            "payload_schema_id": _selected(page.text, "payload_schema_id"),
            "activation_methods": ["email"],
            "allowed_origins": "https://ok.example\njavascript:alert(1)",
            "session_lifetime_seconds": "3600",
            "policy.min_length": "40",
            "policy.max_length": "20",
        },
    )
    # ...then the service's checks, every one by field.
    assert response.status_code == 422
    assert field_errors(response, "allowed_origins") == ["admin.invalid_origin"]
    assert field_errors(response, "password_policy") == ["admin.invalid_value"]
    pool = await h.web.services.pools.get("partner-1")
    assert "https://ok.example" not in pool.allowed_origins


async def test_operator_creates_a_pool_from_a_template(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    form = await portal.get("/admin/pools/new")
    assert 'data-template="banking"' in form.text
    taken = await portal.post(
        "/admin/pools/new".replace("/new", ""),
        {"id": "partner-1", "name": "Again", "template": "ecommerce"},
    )
    assert taken.status_code == 422 and field_errors(taken, "id") == ["admin.id_taken"]
    response = await portal.post(
        "/admin/pools", {"id": "northwind", "name": "Northwind", "template": "banking"}
    )
    assert response.status_code == 303
    page = await portal.follow(response)
    assert page.status_code == 200 and "Northwind" in page.text
    assert 'href="/admin/pools/northwind/users"' in page.text  # now in the sidebar


async def test_pool_admin_sees_only_their_pool(h: Harness, login: Login) -> None:
    portal = await login(LEAD)
    home = await portal.get("/admin")
    assert 'data-pool="business-1"' in home.text
    for other in ("partner-1", "employees"):
        assert f"/admin/pools/{other}" not in home.text
    assert "/admin/schemas" not in home.text and "/admin/admins" not in home.text
    assert "/admin/pools/new" not in home.text
    settings = await portal.get("/admin/pools/business-1")
    assert settings.status_code == 200 and "Save settings" not in settings.text
    assert "/delete" not in settings.text


async def test_pool_admin_gets_404_for_other_pools_and_403_for_tenant_pages(
    h: Harness, login: Login
) -> None:
    portal = await login(LEAD)
    for path in (
        "/admin/pools/partner-1",
        "/admin/pools/partner-1/audit",
        "/admin/pools/partner-1/users",
        "/admin/pools/partner-1/users/new",
        "/admin/pools/no-such-pool/users",
    ):
        assert (await portal.get(path)).status_code == 404, path
    for path in ("/admin/pools/new", "/admin/schemas", "/admin/admins"):
        assert (await portal.get(path)).status_code == 403, path
    await portal.get("/admin")
    refused = await portal.post(
        "/admin/pools/business-1", {"name": "Mine now", "activation_methods": ["email"]}
    )
    assert refused.status_code == 403
    assert (await portal.post("/admin/pools/partner-1/delete")).status_code == 404
    assert (await portal.post("/admin/pools", {"id": "rogue", "name": "R"})).status_code == 403
    denied = [e for e in await rows(h, AuditEvent) if e.outcome == "denied"]
    assert len(denied) >= 5


def _selected(page: str, name: str) -> str:
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S)
    assert select is not None
    option = re.search(r'<option value="([^"]*)" selected', select.group(0))
    assert option is not None
    return option.group(1)


async def test_failures_from_one_address_are_throttled_across_emails(
    h: Harness, anon: PortalClient
) -> None:
    for n in range(30):
        await anon.sign_in(f"guess-{n}@acme.test", "not-the-password")
    assert (await anon.sign_in(OPERATOR.email, OPERATOR.password)).status_code == 429


async def test_schema_change_preview_counts_users_that_would_not_validate(
    h: Harness, login: Login
) -> None:
    portal = await login(OPERATOR)
    await portal.get("/admin/pools/partner-1/users/new")
    created = await portal.post(
        "/admin/pools/partner-1/users",
        {"email": "ada@example.com", "status": "new", "password_mode": "invite"},
    )
    assert created.status_code == 303
    same = await portal.get(
        "/admin/pools/partner-1/schema-impact",
        params={"payload_schema_id": "consumer-basic"},
        headers={"HX-Request": "true"},
    )
    assert same.text.startswith('<p class="adm-help adm-impact" id="schema-impact"')
    other = await portal.get(
        "/admin/pools/partner-1/schema-impact",
        params={"payload_schema_id": "business-customer"},
        headers={"HX-Request": "true"},
    )
    assert 'data-invalid="1"' in other.text


async def test_audit_log_pages_back_in_time(h: Harness, login: Login) -> None:
    portal = await login(LEAD)  # one admin.login event
    async with h.web.services.db.write() as session:
        for n in range(60):
            session.add(
                AuditEvent(
                    tenant_id="acme",
                    pool_id="business-1",
                    actor_id=None,
                    actor_name=f"script {n}",
                    action="user.update",
                    target_type="user",
                    target_id=f"user-{n}",
                    outcome="ok",
                    ip=None,
                    details={},
                    created_at=h.clock.now(),
                )
            )
    first = await portal.get("/admin/pools/business-1/audit")
    assert first.text.count("<tr data-action=") == 50
    older = re.search(r'href="(/admin/pools/business-1/audit\?before=\d+)"', first.text)
    assert older is not None
    second = await portal.get(older.group(1))
    assert second.text.count("<tr data-action=") == 11
    assert "script 9<" in second.text and "script 59<" not in second.text
    assert 'rel="next"' not in second.text


async def test_history_restore_gets_the_whole_page(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    page = await portal.get("/admin/pools/partner-1/users", headers=headers)
    assert "<html" in page.text


async def test_a_hash_made_with_old_parameters_is_replaced_at_sign_in(
    h: Harness, anon: PortalClient
) -> None:
    old = Argon2Hasher(time_cost=1, memory_kib=16).hash(OPERATOR.password)
    async with h.web.services.db.write() as session:
        await session.execute(
            update(AdminPrincipal)
            .where(AdminPrincipal.email == OPERATOR.email)
            .values(secret_hash=old)
        )
    assert (await anon.sign_in(OPERATOR.email, OPERATOR.password)).status_code == 303
    stored = next(p for p in await rows(h, AdminPrincipal) if p.email == OPERATOR.email)
    assert stored.secret_hash != old
    assert not h.web.services.hashing.hasher.needs_rehash(stored.secret_hash)


async def test_pool_admin_cannot_act_on_a_user_of_another_pool(h: Harness, login: Login) -> None:
    operator = await login(OPERATOR)
    await operator.get("/admin/pools/partner-1/users/new")
    created = await operator.post(
        "/admin/pools/partner-1/users",
        {"email": "ada@example.com", "status": "new", "password_mode": "invite"},
    )
    user_path = created.headers["location"].split("?")[0]
    user_id = user_path.rsplit("/", 1)[1]
    lead = await login(LEAD)
    assert (await lead.get(user_path)).status_code == 404
    for action in ("activate", "delete", "resend"):
        assert (await lead.post(f"{user_path}/{action}")).status_code == 404
    # Nor through their own pool's URL.
    smuggled = f"/admin/pools/business-1/users/{user_id}"
    assert (await lead.get(smuggled)).status_code == 404
    assert (await lead.post(f"{smuggled}/delete")).status_code == 404
    user = next(u for u in await rows(h, User) if u.id == user_id)
    assert user.status == "new"


async def test_tenant_audit_log_shows_sign_ins_and_probes_for_the_operator_only(
    h: Harness, anon: PortalClient, login: Login
) -> None:
    await anon.sign_in(OPERATOR.email, "wrong-password-123")
    lead = await login(LEAD)
    await lead.get("/admin/pools/partner-1")
    assert (await lead.get("/admin/audit")).status_code == 403
    operator = await login(OPERATOR)
    page = await operator.get("/admin/audit")
    assert page.status_code == 200
    assert 'data-action="admin.login"' in page.text and "adm-badge--failed" in page.text
    assert "adm-badge--denied" in page.text and "<td>partner-1</td>" in page.text


async def test_operator_sets_login_security_of_a_pool(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    page = await portal.get("/admin/pools/partner-1")
    assert 'name="mfa"' in page.text and 'name="phone_regions"' in page.text
    form = {
        "name": "Partner 1",
        "payload_schema_id": _selected(page.text, "payload_schema_id"),
        "activation_methods": ["email"],
        "session_lifetime_seconds": "86400",
        "session_idle_seconds": "900",
        "mfa": "required",
        "phone_regions": "de\nAT",
    }
    response = await portal.post("/admin/pools/partner-1", form)
    assert response.status_code == 303, response.text
    pool = await h.web.services.pools.get("partner-1")
    assert (pool.mfa, pool.session_idle_seconds, pool.phone_regions) == (
        "required",
        900,
        ("AT", "DE"),
    )
    refused = await portal.post("/admin/pools/partner-1", form | {"mfa": "sometimes"})
    assert refused.status_code == 422
    assert (await h.web.services.pools.get("partner-1")).mfa == "required"
