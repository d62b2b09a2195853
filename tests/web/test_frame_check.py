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


async def test_a_refused_frame_gets_a_notice_that_names_the_origin(harness):
    iframe = {"sec-fetch-dest": "iframe"}
    refused = await harness.client.get(
        "/embed/partner-1/register",
        params={"parent_origin": "https://wrong.example"},
        headers=iframe,
    )
    assert refused.status_code == 403
    csp = refused.headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://wrong.example") and "unsafe-inline" not in csp
    assert "https://wrong.example" in refused.text and "embed.refused_origin" in refused.text
    assert "<form" not in refused.text and "refused-frame" in refused.text
    allowed = await harness.client.get(
        "/embed/partner-1/register", params={"parent_origin": PARTNER}, headers=iframe
    )
    assert allowed.status_code == 200 and "<form" in allowed.text
    assert allowed.headers["content-security-policy"].endswith(f"frame-ancestors {PARTNER}")
    # A top-level visit (the fallback's popup) is never refused; nor a malformed origin.
    top = await harness.client.get(
        "/embed/partner-1/register",
        params={"parent_origin": "https://wrong.example"},
        headers={"sec-fetch-dest": "document"},
    )
    assert top.status_code == 200 and "<form" in top.text
    bad = await harness.client.get(
        "/embed/partner-1/login",
        params={"parent_origin": "https://a.example frame-ancestors *"},
        headers=iframe,
    )
    assert bad.status_code != 403
