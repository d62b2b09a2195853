"""Developers get in by invitation: an operator or a pool admin invites by email (portal or
API), the email carries a single-use expiring link (only its keyed hash is stored), the
developer chooses a password and lands signed in on /developers. Resend, revoke, audit,
expired/used links and enumeration safety."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import delete

from tests.admin.keys import MakeKey
from tests.conftest import Harness, deliver_all, rows
from tests.web.conftest import Login
from tests.web.portal_client import (
    LEAD,
    OPERATOR,
    PortalClient,
    field_errors,
    message_ids,
    portal_client,
)
from widget_server.admin import apps
from widget_server.admin.access import Actor, Principal
from widget_server.admin.developer_invitations import LIFETIME, MAX_SENDS
from widget_server.developers.embed_log import EmbedLog
from widget_server.models import (
    AdminPrincipal,
    AdminPrincipalPool,
    AuditEvent,
    DeveloperInvitation,
    DeveloperInvitationPool,
)

PASSWORD = "a-long-developer-passphrase"
TAKEN = "ines@partner.example"
LINK = re.compile(r"https?://[^/\s]+(/developers/join/[A-Za-z0-9_-]+)")


async def _links(h: Harness, email: str) -> list[str]:
    await deliver_all(h)
    found = []
    for mail in h.sender.sent:
        if mail.recipient == email:
            text = LINK.search(mail.body_text)
            html = LINK.search(mail.body_html or "")
            assert text and html and text.group(1) == html.group(1)
            found.append(text.group(1))
    return found


async def _invite(op: PortalClient, email: str, scope: str = "pool:partner-1") -> httpx.Response:
    await op.get("/admin/developers")
    return await op.post("/admin/developers", {"email": email, "name": "Grace Dev", "scope": scope})


async def test_an_invited_developer_chooses_a_password_and_lands_signed_in(
    h: Harness, login: Login
) -> None:
    op = await login(OPERATOR)
    page = await _invite(op, "Grace@Partner.example")
    assert page.status_code == 200, page.text[:400]
    assert "invitation.developer_sent" in message_ids(page)
    assert 'data-state="sent"' in page.text and "grace@partner.example" in page.text
    [link] = await _links(h, "grace@partner.example")
    mail = h.sender.sent[-1]
    assert "developer portal" in mail.subject and mail.body_html and "<html" in mail.body_html
    token = link.rsplit("/", 1)[1]
    [stored] = await rows(h, DeveloperInvitation)
    assert token not in (stored.token_hash, stored.id)  # only a keyed hash at rest

    async with portal_client(h) as browser:
        form = await browser.get(link)
        assert form.status_code == 200 and "grace@partner.example" in form.text
        assert "Partner 1" in form.text
        differ = await browser.post(
            link, data={"name": "Grace", "password": PASSWORD, "password_again": PASSWORD + "x"}
        )
        assert differ.status_code == 422
        assert "invitation.developer_mismatch" in message_ids(differ)
        weak = await browser.post(
            link, data={"name": "Grace", "password": "short", "password_again": "short"}
        )
        assert weak.status_code == 422 and field_errors(weak, "password")
        forged = await browser.post(
            link,
            data={"name": "Grace", "password": PASSWORD, "password_again": PASSWORD},
            headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        )
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        done = await browser.post(
            link, data={"name": "Grace", "password": PASSWORD, "password_again": PASSWORD}
        )
        assert done.status_code == 303 and done.headers["location"] == "/developers"
        assert "ws_dev=" in done.headers["set-cookie"]
        home = await browser.get("/developers")
        assert home.status_code == 200 and 'data-pool="partner-1"' in home.text
        again = await browser.get(link)
        assert again.status_code == 410
        assert "invitation.developer_used" in message_ids(again)
        reused = await browser.post(
            link, data={"name": "X", "password": PASSWORD, "password_again": PASSWORD}
        )
        assert reused.status_code == 410

    [dev] = [p for p in await rows(h, AdminPrincipal) if p.email == "grace@partner.example"]
    assert (dev.role, dev.pool_id, dev.kind, dev.name) == ("developer", None, "person", "Grace")
    # The developer's pool is where every developer's pools are.
    links = [r.pool_id for r in await rows(h, AdminPrincipalPool) if r.principal_id == dev.id]
    assert links == ["partner-1"]
    actions = [
        e.action for e in await rows(h, AuditEvent) if e.target_type == "developer_invitation"
    ]
    assert actions == ["developer_invitation.create", "developer_invitation.accept"]
    listed = await op.get("/admin/developers")
    assert 'data-state="accepted"' in listed.text
    # Signing in later works with the chosen password.
    async with portal_client(h) as later:
        response = await later.post(
            "/developers/login", data={"email": "grace@partner.example", "password": PASSWORD}
        )
        assert response.status_code == 303


async def test_expired_resent_and_withdrawn_links(h: Harness, login: Login) -> None:
    op = await login(OPERATOR)
    await _invite(op, "late@partner.example")
    [first] = await _links(h, "late@partner.example")
    h.clock.advance(LIFETIME.total_seconds())
    op = await login(OPERATOR)  # the first session has ended long since
    async with portal_client(h) as browser:
        expired = await browser.get(first)
        assert expired.status_code == 410 and "invitation.developer_expired" in message_ids(expired)
        listed = await op.get("/admin/developers")
        assert 'data-state="expired"' in listed.text
        [row] = await rows(h, DeveloperInvitation)
        resent = await op.post(f"/admin/developers/{row.id}/resend")
        assert resent.status_code == 200 and 'data-state="sent"' in resent.text
        links = await _links(h, "late@partner.example")
        assert len(links) == 2 and links[1] != first
        assert (await browser.get(first)).status_code == 404  # the old link is gone for good
        assert (await browser.get(links[1])).status_code == 200
        withdrawn = await op.post(f"/admin/developers/{row.id}/revoke")
        assert withdrawn.status_code == 200 and 'data-state="revoked"' in withdrawn.text
        gone = await browser.get(links[1])
        assert gone.status_code == 410 and "invitation.developer_revoked" in message_ids(gone)
        unknown = await browser.get("/developers/join/not-a-real-token")
        assert unknown.status_code == 404
        assert "invitation.developer_unknown" in message_ids(unknown)
        closed = await op.post(f"/admin/developers/{row.id}/resend")
        assert closed.status_code == 409
    actions = [
        e.action for e in await rows(h, AuditEvent) if e.target_type == "developer_invitation"
    ]
    assert actions == [
        "developer_invitation.create",
        "developer_invitation.resend",
        "developer_invitation.revoke",
    ]


async def test_resends_are_capped(h: Harness, make_key: MakeKey) -> None:
    operator = await make_key("tenant_admin")
    created = await operator.post(
        "/developer-invitations",
        json={"email": "many@partner.example", "name": "Many", "pool_id": "partner-1"},
    )
    assert created.status_code == 201, created.text
    invitation_id = created.json()["id"]
    for _ in range(MAX_SENDS - 1):
        assert (
            await operator.post(f"/developer-invitations/{invitation_id}/resend")
        ).status_code == 200
    capped = await operator.post(f"/developer-invitations/{invitation_id}/resend")
    assert capped.status_code == 409 and "invitation.developer_resend_limit" in capped.text
    assert len(await _links(h, "many@partner.example")) == MAX_SENDS


async def test_pool_admins_invite_to_their_pool_only(h: Harness, login: Login) -> None:
    lead = await login(LEAD)
    page = await lead.get("/admin/developers")
    assert page.status_code == 200
    assert 'value="pool:business-1"' in page.text and "pool:partner-1" not in page.text
    assert "workspace:" not in page.text
    ok = await _invite(lead, "b1dev@partner.example", "pool:business-1")
    assert ok.status_code == 200 and "invitation.developer_sent" in message_ids(ok)
    other = await _invite(lead, "sneaky@partner.example", "pool:partner-1")
    assert other.status_code == 404
    denied = [e for e in await rows(h, AuditEvent) if e.outcome == "denied"]
    assert denied and denied[-1].action == "developers.invite"
    # The operator sees both pools' invitations; the lead only its own.
    listed = await lead.get("/admin/developers")
    assert "b1dev@partner.example" in listed.text


async def test_viewers_and_developers_cannot_invite(h: Harness, make_key: MakeKey) -> None:
    viewer = await make_key("pool_viewer", pool_id="partner-1")
    refused = await viewer.post(
        "/developer-invitations",
        json={"email": "x@partner.example", "name": "X", "pool_id": "partner-1"},
    )
    assert refused.status_code == 403
    developer = await make_key("developer", pool_id="partner-1")
    assert (await developer.get("/developer-invitations")).status_code == 403


async def test_the_inviter_learns_nothing_about_existing_addresses(
    h: Harness, make_key: MakeKey
) -> None:
    operator = await make_key("tenant_admin")
    existing = await operator.post(
        "/admins",
        json={
            "kind": "person",
            "role": "pool_admin",
            "name": "Ines",
            "pool_id": "partner-1",
            "email": TAKEN,
            "password": PASSWORD,
        },
    )
    assert existing.status_code == 201, existing.text
    taken = await operator.post(
        "/developer-invitations",
        json={"email": TAKEN, "name": "Ines again", "pool_id": "partner-1"},
    )
    fresh = await operator.post(
        "/developer-invitations",
        json={"email": "nobody@partner.example", "name": "New", "pool_id": "partner-1"},
    )
    assert taken.status_code == fresh.status_code == 201
    assert set(taken.json()) == set(fresh.json())
    assert taken.json()["state"] == fresh.json()["state"] == "sent"
    # The person with the mailbox learns it on accepting, about their own address.
    [link] = await _links(h, TAKEN)
    async with portal_client(h) as browser:
        answer = await browser.post(
            link, data={"name": "Lena", "password": PASSWORD, "password_again": PASSWORD}
        )
        assert answer.status_code == 410 and "invitation.developer_taken" in message_ids(answer)
    # No second principal, and the invitation stays open (the claim rolled back).
    assert len([p for p in await rows(h, AdminPrincipal) if p.email == TAKEN]) == 1
    [row] = [r for r in await rows(h, DeveloperInvitation) if r.email == TAKEN]
    assert row.accepted_at is None and row.principal_id is None


async def test_bad_invitations_are_refused_by_field(h: Harness, make_key: MakeKey) -> None:
    operator = await make_key("tenant_admin")
    both = await operator.post(
        "/developer-invitations",
        json={"email": "not-an-email", "name": "X", "pool_id": "partner-1", "workspace_id": "w"},
    )
    assert both.status_code == 422
    assert "form.email_invalid" in both.text and "admin.role_scope" in both.text, both.text
    neither = await operator.post(
        "/developer-invitations", json={"email": "a@partner.example", "name": "X"}
    )
    assert neither.status_code == 422 and "admin.role_scope" in neither.text
    unknown_pool = await operator.post(
        "/developer-invitations",
        json={"email": "a@partner.example", "name": "X", "pool_id": "nope"},
    )
    assert unknown_pool.status_code == 404
    extra = await operator.post(
        "/developer-invitations",
        json={
            "email": "a@partner.example",
            "name": "X",
            "pool_id": "partner-1",
            "role": "tenant_admin",
        },
    )
    assert extra.status_code in (400, 422)


SYSTEM = Actor(
    principal=Principal(
        id="system", tenant_id="acme", pool_id=None, role="tenant_admin", kind="api_key", name="t"
    )
)


def _app(name: str, *pools: str) -> apps.NewApp:
    return apps.NewApp(
        name=name,
        kind="confidential",
        pool_ids=list(pools),
        redirect_uris=["https://shop.example/callback"],
        allowed_origins=["https://shop.example"],
    )


async def _accept(h: Harness, browser: httpx.AsyncClient, email: str) -> None:
    [link] = await _links(h, email)
    done = await browser.post(
        link, data={"name": "Multi", "password": PASSWORD, "password_again": PASSWORD}
    )
    assert done.status_code == 303, done.text[:400]


async def test_a_developer_invited_to_two_pools_works_on_both_and_not_a_third(
    h: Harness, login: Login
) -> None:
    op = await login(OPERATOR)
    page = await op.get("/admin/developers")
    assert 'type="checkbox" name="scope" value="pool:partner-2"' in page.text
    sent = await op.post(
        "/admin/developers",
        {
            "email": "two@partner.example",
            "name": "Two Pools",
            "scope": ["pool:partner-1", "pool:partner-2"],
        },
    )
    assert sent.status_code == 200 and "invitation.developer_sent" in message_ids(sent)
    scope_cell = re.search(r"<td data-scope>(.*?)</td>", sent.text)
    assert scope_cell and scope_cell.group(1) == "Partner 1, Partner 2"
    [invitation] = await rows(h, DeveloperInvitation)
    async with portal_client(h) as browser:
        await _accept(h, browser, "two@partner.example")
        mail = next(m for m in h.sender.sent if m.recipient == "two@partner.example")
        assert "Partner 1, Partner 2" in mail.body_text
        home = await browser.get("/developers")
        assert 'data-pool="partner-1"' in home.text and 'data-pool="partner-2"' in home.text
        assert 'data-pool="business-1"' not in home.text
        # Every pool picker offers exactly the two.
        snippets = await browser.get("/developers/snippets?pool=partner-2")
        assert snippets.status_code == 200
        offered = set(re.findall(r'<option value="([a-z0-9-]+)"[^>]*>', snippets.text))
        assert {"partner-1", "partner-2"} <= offered and "business-1" not in offered
        # An app for both pools is theirs, in the apps list and the config export; one
        # that reaches the third is neither.
        services = h.web.services
        ours = await apps.create_app(services, SYSTEM, _app("Ours", "partner-1", "partner-2"))
        wider = await apps.create_app(services, SYSTEM, _app("Wider", "partner-2", "business-1"))
        listed = await browser.get("/developers/apps")
        assert ours.app.id in listed.text and wider.app.id not in listed.text
        exported = await browser.get("/developers/config/export")
        assert exported.status_code == 200
        assert ours.app.id in exported.text and wider.app.id not in exported.text
        assert "business-1" not in exported.text
        # The embed log shows refusals of both pools and not of the third.
        refusals: EmbedLog = h.app.state.embed_log
        for pool_id in ("partner-1", "partner-2", "business-1"):
            refusals.note(pool_id, f"https://{pool_id}.refused.example", h.clock.now())
        await refusals.flush(services.db, h.clock.now())
        log = await browser.get("/developers/embed-log")
        assert "partner-1.refused.example" in log.text
        assert "partner-2.refused.example" in log.text
        assert "business-1.refused.example" not in log.text
    [dev] = [p for p in await rows(h, AdminPrincipal) if p.email == "two@partner.example"]
    links = sorted(r.pool_id for r in await rows(h, AdminPrincipalPool) if r.principal_id == dev.id)
    assert links == ["partner-1", "partner-2"] and dev.pool_id is None
    assert invitation.workspace_id is None


async def test_pools_and_a_workspace_at_once_are_refused_on_scope(
    h: Harness, login: Login
) -> None:
    op = await login(OPERATOR)
    page = await op.get("/admin/developers")
    [workspace] = re.findall(r'value="(workspace:[^"]+)"', page.text)[:1]
    mixed = await op.post(
        "/admin/developers",
        {"email": "mixed@partner.example", "name": "Mixed", "scope": ["pool:partner-1", workspace]},
    )
    assert mixed.status_code == 422
    assert field_errors(mixed, "scope") == ["admin.role_scope"]
    # What was typed and ticked is kept.
    assert 'value="pool:partner-1" checked' in mixed.text
    nothing = await op.post("/admin/developers", {"email": "n@partner.example", "name": "N"})
    assert nothing.status_code == 422 and field_errors(nothing, "scope") == ["admin.role_scope"]
    assert await rows(h, DeveloperInvitation) == []


async def test_the_api_invites_to_several_pools_and_a_pool_admin_sees_only_its_own(
    h: Harness, make_key: MakeKey, login: Login
) -> None:
    operator = await make_key("tenant_admin")
    created = await operator.post(
        "/developer-invitations",
        json={
            "email": "api@partner.example",
            "name": "Api",
            "pool_ids": ["business-1", "partner-1"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["pool_ids"] == ["business-1", "partner-1"] and body["pool_id"] is None
    single = await operator.post(
        "/developer-invitations",
        json={"email": "one@partner.example", "name": "One", "pool_ids": ["business-1"]},
    )
    assert single.json()["pool_id"] == "business-1"
    # The lead of business-1 sees the invitation to its pool alone, not the one that
    # also names partner-1, and cannot resend or withdraw that one.
    lead = await make_key("pool_admin", pool_id="business-1")
    listed = {i["email"] for i in (await lead.get("/developer-invitations")).json()}
    assert listed == {"one@partner.example"}
    for action in ("resend", "revoke"):
        refused = await lead.post(f"/developer-invitations/{body['id']}/{action}")
        assert refused.status_code == 404
    denied = [e for e in await rows(h, AuditEvent) if e.outcome == "denied"]
    assert [e.target_id for e in denied][-2:] == [body["id"], body["id"]]
    # Nor may it invite to its pool and another.
    sneaky = await lead.post(
        "/developer-invitations",
        json={"email": "s@partner.example", "name": "S", "pool_ids": ["business-1", "partner-1"]},
    )
    assert sneaky.status_code == 404
    bad = await operator.post(
        "/developer-invitations",
        json={"email": "b@partner.example", "name": "B", "pool_ids": [], "workspace_id": None},
    )
    assert bad.status_code == 422 and "admin.role_scope" in bad.text


async def test_an_invitation_whose_pools_are_all_gone_no_longer_opens(
    h: Harness, make_key: MakeKey
) -> None:
    operator = await make_key("tenant_admin")
    created = await operator.post(
        "/developer-invitations",
        json={"email": "gone@partner.example", "name": "Gone", "pool_ids": ["partner-2"]},
    )
    assert created.status_code == 201
    async with h.web.services.db.write() as session:
        await session.execute(delete(DeveloperInvitationPool))
    [link] = await _links(h, "gone@partner.example")
    async with portal_client(h) as browser:
        opened = await browser.get(link)
        assert opened.status_code == 410
        assert "invitation.developer_revoked" in message_ids(opened)
        taken = await browser.post(
            link, data={"name": "G", "password": PASSWORD, "password_again": PASSWORD}
        )
        assert taken.status_code == 410
    assert [p for p in await rows(h, AdminPrincipal) if p.email == "gone@partner.example"] == []
