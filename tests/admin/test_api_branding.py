"""The brand studio through the admin API: themes (copy, draft, publish, history,
rollback, export/import), files, assignments at every level, workspaces; each with the
scope and bad-input answers a design system's CI will meet."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness
from widget_server.models import AuditEvent, ThemeVersion

RED = "#b42318"


def png(width: int = 64, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), RED).save(out, format="PNG")
    return out.getvalue()


def ids(response: Any) -> list[str]:
    return [e["id"] for e in response.json()["errors"]]


def fields(response: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["id"])
    return found


async def denied(h: Harness, actor_id: str) -> int:
    async with h.web.services.db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.outcome == "denied")
        )
        return int(count or 0)


async def workspace_id(client: AdminClient, name: str) -> str:
    listed = await client.get("/workspaces")
    assert listed.status_code == 200, listed.text
    return next(w["id"] for w in listed.json() if w["name"] == name)


async def copy_theme(client: AdminClient, name: str = "ACME", **place: str) -> dict[str, Any]:
    made = await client.post("/themes", json={"name": name, "copy_of": "default", **place})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def published(client: AdminClient, primary: str = RED, **place: str) -> str:
    theme = await copy_theme(client, **place)
    theme_id = theme["summary"]["id"]
    tokens = {**theme["draft"], "colors": {**theme["draft"]["colors"], "primary": primary}}
    assert (
        await client.put(f"/themes/{theme_id}/draft", json={"tokens": tokens})
    ).status_code == 200
    assert (await client.post(f"/themes/{theme_id}/publish", json={})).status_code == 200
    return str(theme_id)


async def test_a_designer_copies_edits_publishes_and_rolls_back(make_key: MakeKey) -> None:
    designer = await make_key("brand_designer")
    listed = (await designer.get("/themes")).json()
    builtins = {t["id"] for t in listed if t["builtin"]}
    assert {"default", "forest", "midnight", "dark"} <= builtins
    assert (await designer.get("/themes/forest")).json()["summary"]["builtin"] is True

    theme = await copy_theme(designer)
    theme_id = theme["summary"]["id"]
    draft = (await designer.get(f"/themes/{theme_id}/draft")).json()
    tokens = {**draft["tokens"], "colors": {**draft["tokens"]["colors"], "primary": RED}}
    saved = await designer.put(
        f"/themes/{theme_id}/draft", json={"tokens": tokens, "revision": draft["revision"]}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["tokens"]["colors"]["primary"] == RED
    # Saving over a newer draft is refused, not silently merged.
    stale = await designer.put(
        f"/themes/{theme_id}/draft", json={"tokens": tokens, "revision": draft["revision"]}
    )
    assert stale.status_code == 409

    first = await designer.post(f"/themes/{theme_id}/publish", json={})
    assert first.status_code == 200, first.text
    assert first.json()["version"]["number"] == 1

    # A pale button fails AA: refused until acknowledged, then recorded on the version.
    pale = {**tokens, "colors": {**tokens["colors"], "primary": "#f2f2f2"}}
    assert (
        await designer.put(f"/themes/{theme_id}/draft", json={"tokens": pale})
    ).status_code == 200
    refused = await designer.post(f"/themes/{theme_id}/publish", json={})
    assert refused.status_code == 409 and ids(refused) == ["brand.contrast_failures"]
    accepted = await designer.post(
        f"/themes/{theme_id}/publish", json={"acknowledge_contrast": True}
    )
    assert accepted.status_code == 200
    assert "light.button" in accepted.json()["version"]["contrast_failures"]

    history = (await designer.get(f"/themes/{theme_id}/versions")).json()
    assert [v["number"] for v in history] == [2, 1]
    assert history[0]["published_by_name"] == "brand_designer key"
    one = (await designer.get(f"/themes/{theme_id}/versions/1")).json()
    assert one["tokens"]["colors"]["primary"] == RED

    back = await designer.post(f"/themes/{theme_id}/rollback", json={"version": 1})
    assert back.status_code == 200, back.text
    assert back.json()["version"]["number"] == 3
    assert back.json()["version"]["restored_from"] == 1
    now = (await designer.get(f"/themes/{theme_id}")).json()
    assert now["published"]["colors"]["primary"] == RED
    assert now["summary"]["published_version"] == 3


async def test_bad_input_is_named_and_nothing_is_stored(
    harness: Harness, make_key: MakeKey
) -> None:
    designer = await make_key("brand_designer")
    theme = await copy_theme(designer)
    theme_id = theme["summary"]["id"]
    # A token that would break out of CSS is refused by its path.
    evil = {"colors": {"primary": "red;}body{background:url(//evil.test)"}}
    answer = await designer.put(f"/themes/{theme_id}/draft", json={"tokens": evil})
    assert answer.status_code == 422
    assert "colors.primary" in fields(answer)
    # Unknown body fields and wrong types: 400 with the field.
    assert (await designer.put(f"/themes/{theme_id}/draft", json={"colour": 1})).status_code == 400
    assert (
        await designer.post(f"/themes/{theme_id}/publish", json={"acknowledge_contrast": "yes"})
    ).status_code == 400
    assert (
        await designer.post(f"/themes/{theme_id}/rollback", json={"version": 0})
    ).status_code == 400
    # Copying what does not exist, a built-in's draft, a version that does not exist.
    unknown = await designer.post("/themes", json={"name": "x", "copy_of": "no-such"})
    assert unknown.status_code == 422 and fields(unknown) == {"copy_of": ["brand.unknown_theme"]}
    builtin = await designer.put("/themes/default/draft", json={"tokens": {}})
    assert builtin.status_code == 409 and ids(builtin) == ["brand.builtin_readonly"]
    assert (await designer.get(f"/themes/{theme_id}/versions/7")).status_code == 404
    assert (
        await designer.post(f"/themes/{theme_id}/rollback", json={"version": 7})
    ).status_code == 404
    # The draft is what it was: none of the refused saves reached it.
    draft = (await designer.get(f"/themes/{theme_id}/draft")).json()
    assert draft["tokens"] == theme["draft"]
    async with harness.web.services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ThemeVersion)) == 2  # demo


async def test_files_are_checked_by_content(make_key: MakeKey) -> None:
    designer = await make_key("brand_designer")
    renamed = await designer.post("/brand-assets", params={"name": "logo.svg"}, content=png())
    assert renamed.status_code == 201, renamed.text
    assert renamed.json()["media_type"] == "image/png"
    again = await designer.post("/brand-assets", params={"name": "other.png"}, content=png())
    assert again.json()["sha256"] == renamed.json()["sha256"]
    evil = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
    refused = await designer.post("/brand-assets", params={"name": "x.svg"}, content=evil)
    assert refused.status_code == 422 and fields(refused) == {"file": ["brand.svg_event_handler"]}
    empty = await designer.post("/brand-assets", content=b"")
    assert empty.status_code == 422 and fields(empty) == {"file": ["brand.asset_empty"]}
    listed = (await designer.get("/brand-assets")).json()
    assert [a["sha256"] for a in listed] == [renamed.json()["sha256"]]
    assert (await designer.delete("/brand-assets/" + "0" * 64)).status_code == 404


async def test_a_theme_exports_to_one_file_and_imports_elsewhere(make_key: MakeKey) -> None:
    designer = await make_key("brand_designer")
    logo = (await designer.post("/brand-assets", params={"name": "logo.png"}, content=png())).json()
    theme = await copy_theme(designer)
    theme_id = theme["summary"]["id"]
    tokens = {**theme["draft"], "logo": {"text": "ACME", "asset": logo["sha256"]}}
    assert (
        await designer.put(f"/themes/{theme_id}/draft", json={"tokens": tokens})
    ).status_code == 200
    assert (await designer.post(f"/themes/{theme_id}/publish", json={})).status_code == 200

    exported = await designer.get(f"/themes/{theme_id}/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert document["format"] == "widget-server-theme" and document["version"] == 1
    [asset] = document["assets"]
    assert base64.b64decode(asset["data"]) == png()

    imported = await designer.post("/themes/import", params={"publish": "true"}, json=document)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["assets"] == [logo["sha256"]]
    assert body["published"]["version"]["number"] == 1
    assert body["theme"]["draft"]["logo"]["asset"] == logo["sha256"]
    # Into an existing theme: its draft only.
    into = await designer.post("/themes/import", params={"into": theme_id}, json=document)
    assert into.status_code == 201 and into.json()["published"] is None

    tampered = {**document, "assets": [{**asset, "sha256": "0" * 64}]}
    bad_hash = await designer.post("/themes/import", json=tampered)
    assert bad_hash.status_code == 422 and fields(bad_hash) == {"file": ["brand.import_hash"]}
    wrong_format = await designer.post("/themes/import", json={**document, "format": "css"})
    assert wrong_format.status_code == 400
    bad_token = {**document, "tokens": {"radius": "url(//evil.test)"}}
    assert (await designer.post("/themes/import", json=bad_token)).status_code == 422
    before = len((await designer.get("/themes")).json())
    assert before == len((await designer.get("/themes")).json())


async def test_assignments_at_every_level(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    app = await operator.post(
        "/apps",
        json={
            "name": "Shop",
            "kind": "public",
            "pool_ids": ["partner-1"],
            "id": "shop-app",
            "allowed_origins": ["https://shop.example"],
        },
    )
    assert app.status_code == 201, app.text
    designer = await make_key("brand_designer")
    theme_id = await published(designer)
    targets = (await designer.get("/theme-assignments")).json()
    assert {t["level"] for t in targets} == {"tenant", "workspace", "pool", "app"}
    app_id = next(t["id"] for t in targets if t["level"] == "app")
    partners = await workspace_id(designer, "Partners")
    for level, target in (
        ("tenant", "acme"),
        ("workspace", partners),
        ("pool", "partner-1"),
        ("app", app_id),
    ):
        put = await designer.put(
            f"/theme-assignments/{level}/{target}", json={"theme_id": theme_id}
        )
        assert put.status_code == 200, (level, put.text)
        got = (await designer.get(f"/theme-assignments/{level}/{target}")).json()
        assert got["theme_id"] == theme_id
    origins = (await designer.get("/pools/partner-1/theme-origins")).json()
    primary = next(o for o in origins if o["token"] == "colors.primary")
    assert primary["value"] == RED and primary["level"] == "pool"
    with_app = await designer.get("/pools/partner-1/theme-origins", params={"app_id": app_id})
    assert with_app.status_code == 200

    removed = await designer.delete("/theme-assignments/pool/partner-1")
    assert removed.status_code == 200 and removed.json()["theme_id"] is None
    assert (await designer.get("/theme-assignments/pool/partner-1")).json()["theme_id"] is None

    draft_only = (await copy_theme(designer, "Draft"))["summary"]["id"]
    unpublished = await designer.put(
        "/theme-assignments/pool/partner-1", json={"theme_id": draft_only}
    )
    assert unpublished.status_code == 422
    assert fields(unpublished) == {"theme_id": ["brand.not_published"]}
    level = await designer.put("/theme-assignments/planet/x", json={"theme_id": theme_id})
    assert level.status_code in {400, 422}
    unknown = await designer.put("/theme-assignments/pool/no-such", json={"theme_id": theme_id})
    assert unknown.status_code == 404 and ids(unknown) == ["admin.not_found"]
    assert (await designer.get("/pools/no-such/theme-origins")).status_code == 404


async def test_a_workspace_designer_sees_only_its_workspace(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    partners = await workspace_id(operator, "Partners")
    business = await workspace_id(operator, "Business customers")
    made = await operator.post(
        "/admins",
        json={
            "kind": "api_key",
            "role": "brand_designer",
            "name": "partners ci",
            "workspace_id": partners,
        },
    )
    assert made.status_code == 201, made.text
    scoped = AdminClient(harness, made.json()["api_key"], operator.principal)
    scoped_id = made.json()["admin"]["id"]
    theirs = await published(operator, workspace_id=business)
    mine = await published(scoped)

    listed = {t["id"] for t in (await scoped.get("/themes")).json()}
    assert mine in listed and theirs not in listed
    before = await denied(harness, scoped_id)
    for method, path, body in (
        ("GET", f"/themes/{theirs}", None),
        ("GET", f"/themes/{theirs}/draft", None),
        ("PUT", f"/themes/{theirs}/draft", {"tokens": {}}),
        ("POST", f"/themes/{theirs}/publish", {}),
        ("GET", f"/themes/{theirs}/versions", None),
        ("POST", f"/themes/{theirs}/rollback", {"version": 1}),
        ("GET", f"/themes/{theirs}/export", None),
        ("DELETE", f"/themes/{theirs}", None),
        ("PUT", "/theme-assignments/pool/business-1", {"theme_id": mine}),
        ("GET", "/theme-assignments/pool/business-1", None),
        ("GET", "/pools/business-1/theme-origins", None),
        ("GET", f"/workspaces/{business}", None),
    ):
        answer = await scoped.call(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert ids(answer) == ["admin.not_found"]
    assert await denied(harness, scoped_id) == before + 12
    # Its own workspace's pool it may brand.
    ok = await scoped.put("/theme-assignments/pool/partner-1", json={"theme_id": mine})
    assert ok.status_code == 200
    # Workspaces are the operator's to change.
    assert (await scoped.post("/workspaces", json={"name": "Mine"})).status_code == 403


async def test_roles_without_branding_get_403_and_delegated_pool_admins_brand_their_pool(
    make_key: MakeKey,
) -> None:
    for role, pool in (
        ("pool_admin", "partner-1"),
        ("pool_viewer", "business-1"),
        ("developer", None),
    ):
        key = await make_key(role, pool)
        for method, path, body in (
            ("GET", "/themes", None),
            ("POST", "/themes", {"name": "x", "copy_of": "default"}),
            ("GET", "/themes/default", None),
            ("POST", "/brand-assets", None),
            ("GET", "/theme-assignments", None),
            ("GET", "/workspaces", None),
        ):
            answer = await key.call(method, path, json=body)
            assert answer.status_code == 403, (role, method, path, answer.text)
    # business-1's admins may brand it (the tenant lets them): their pool's themes only.
    lead = await make_key("pool_admin", "business-1")
    theme_id = await published(lead)
    assert (await lead.get(f"/themes/{theme_id}")).json()["summary"]["pool_id"] == "business-1"
    own = await lead.put("/theme-assignments/pool/business-1", json={"theme_id": theme_id})
    assert own.status_code == 200
    other = await lead.put("/theme-assignments/pool/partner-1", json={"theme_id": theme_id})
    assert other.status_code == 404
    tenant = await lead.put("/theme-assignments/tenant/acme", json={"theme_id": theme_id})
    assert tenant.status_code == 404


async def test_workspaces_crud_moves_and_templates(operator: AdminClient) -> None:
    made = await operator.post("/workspaces", json={"name": "Suppliers"})
    assert made.status_code == 201, made.text
    ws = made.json()["id"]
    assert (await operator.post("/workspaces", json={"name": "Suppliers"})).status_code == 422
    assert (await operator.post("/workspaces", json={"name": ""})).status_code == 400
    renamed = await operator.patch(f"/workspaces/{ws}", json={"name": "Vendors"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Vendors"

    moved = await operator.post(f"/workspaces/{ws}/pools", json={"pool_id": "partner-2"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["pool_ids"] == ["partner-2"]
    unknown = await operator.post(f"/workspaces/{ws}/pools", json={"pool_id": "no-such"})
    assert unknown.status_code == 422 and fields(unknown) == {"pool_id": ["admin.unknown_pool"]}
    busy = await operator.delete(f"/workspaces/{ws}")
    assert busy.status_code == 409
    partners = await workspace_id(operator, "Partners")
    assert (
        await operator.post(f"/workspaces/{partners}/pools", json={"pool_id": "partner-2"})
    ).status_code == 200
    assert (await operator.delete(f"/workspaces/{ws}")).status_code == 204
    assert (await operator.get(f"/workspaces/{ws}")).status_code == 404

    templates = (await operator.get("/templates")).json()
    template = templates[0]["id"]
    created = await operator.post(
        "/workspaces/from-template",
        json={
            "name": "Retail",
            "template": template,
            "pools": [{"id": "retail-shop", "name": "Shop"}],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["workspace"]["pool_ids"] == ["retail-shop"]
    theme = await operator.get(f"/themes/{created.json()['theme_id']}")
    assert theme.json()["summary"]["published_version"] == 1
    bad = await operator.post(
        "/workspaces/from-template", json={"name": "X", "template": "no-such"}
    )
    assert bad.status_code == 422


async def test_the_openapi_document_describes_the_branding_api(harness: Harness) -> None:
    document = (await harness.client.get("/api/admin/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/api/admin/themes",
        "/api/admin/themes/{theme_id}/publish",
        "/api/admin/themes/{theme_id}/rollback",
        "/api/admin/themes/import",
        "/api/admin/brand-assets",
        "/api/admin/theme-assignments/{level}/{target_id}",
        "/api/admin/pools/{pool_id}/theme-origins",
        "/api/admin/workspaces/from-template",
    ):
        assert path in paths, path
    publish = paths["/api/admin/themes/{theme_id}/publish"]["post"]
    assert {"403", "404", "409", "422"} <= set(publish["responses"])
