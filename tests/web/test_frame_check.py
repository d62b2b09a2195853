"""``/embed/{pool}/frame-check``: what embed.js asks before the frame shows."""

from __future__ import annotations

from tests.conftest import PARTNER


async def test_an_allowed_origin_is_allowed(harness):
    response = await harness.client.get(
        "/embed/partner-1/frame-check", params={"parent_origin": PARTNER}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["v"], body["allowed"], body["reason"], body["origin"]) == (1, True, None, PARTNER)


async def test_another_origin_is_refused_with_the_reason_and_theme(harness):
    response = await harness.client.get(
        "/embed/partner-1/frame-check", params={"parent_origin": "https://evil.example"}
    )
    body = response.json()
    assert (body["allowed"], body["reason"], body["origin"]) == (
        False,
        "origin_not_allowed",
        "https://evil.example",
    )
    assert body["theme"]["primary"].startswith("#")
    assert body["pool_name"]


async def test_no_origin_and_unknown_pool(harness):
    body = (await harness.client.get("/embed/partner-1/frame-check")).json()
    assert (body["allowed"], body["reason"]) == (False, "origin_missing")
    response = await harness.client.get(
        "/embed/no-such-pool/frame-check", params={"parent_origin": PARTNER}
    )
    assert response.status_code == 200
    assert response.json() == {
        "v": 1,
        "allowed": False,
        "reason": "unknown_pool",
        "origin": PARTNER,
        "pool_name": None,
        "theme": None,
    }


async def test_a_malformed_origin_is_no_origin(harness):
    body = (
        await harness.client.get(
            "/embed/partner-1/frame-check", params={"parent_origin": "javascript:alert(1)"}
        )
    ).json()
    assert (body["allowed"], body["origin"]) == (False, None)
