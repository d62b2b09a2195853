"""Rotating an app's secret with a grace period: the new secret works at once, the old
one keeps working at the token endpoint until the grace ends (by the injected clock),
then stops; rotating without one ends the old secret at once."""

from __future__ import annotations

from datetime import timedelta

from tests.admin.keys import AdminClient
from tests.conftest import Harness, rows
from tests.oidc.conftest import EndUser, MakeApp, MakeUser, PartnerApp
from tests.oidc.test_token import embedded_code, token_request
from widget_server.admin import apps
from widget_server.admin.apps import SecretRotation
from widget_server.models import App, AuditEvent


async def exchange(h: Harness, app: PartnerApp, user: EndUser, secret: str) -> int:
    code = await embedded_code(h, app, user)
    grant = {"grant_type": "authorization_code", "code": code}
    response = await token_request(h, grant, auth=(app.id, secret))
    return response.status_code


async def test_the_old_secret_works_until_the_grace_ends(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, operator: AdminClient
) -> None:
    app, user = await make_app(), await make_user()
    assert app.secret is not None
    rotated = await apps.rotate_secret(
        harness.web.services, operator.actor, app.id, SecretRotation(grace_seconds=3600)
    )
    new = rotated.client_secret
    assert new is not None and new != app.secret
    assert rotated.app.previous_secret_until == harness.clock.now() + timedelta(hours=1)
    assert await exchange(harness, app, user, new) == 200
    assert await exchange(harness, app, user, app.secret) == 200
    harness.clock.advance(3599)
    assert await exchange(harness, app, user, app.secret) == 200
    harness.clock.advance(1)
    assert await exchange(harness, app, user, app.secret) == 401
    assert await exchange(harness, app, user, new) == 200
    audit = [
        e
        for e in await rows(harness, AuditEvent)
        if e.action == "app.rotate_secret" and e.target_id == app.id
    ]
    assert [e.details for e in audit] == [{"grace_seconds": 3600}]


async def test_no_grace_ends_the_old_secret_at_once_and_a_second_rotation_keeps_one(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, operator: AdminClient
) -> None:
    app, user = await make_app(), await make_user()
    assert app.secret is not None
    services = harness.web.services
    first = await apps.rotate_secret(services, operator.actor, app.id)
    assert first.app.previous_secret_until is None
    assert await exchange(harness, app, user, app.secret) == 401
    assert first.client_secret is not None
    assert await exchange(harness, app, user, first.client_secret) == 200
    # A week's grace, then another rotation: only the secret just replaced stays valid.
    second = await apps.rotate_secret(
        services, operator.actor, app.id, SecretRotation(grace_seconds=7 * 86400)
    )
    third = await apps.rotate_secret(
        services, operator.actor, app.id, SecretRotation(grace_seconds=86400)
    )
    assert second.client_secret and third.client_secret
    assert await exchange(harness, app, user, first.client_secret) == 401
    assert await exchange(harness, app, user, second.client_secret) == 200
    assert await exchange(harness, app, user, third.client_secret) == 200
    harness.clock.advance(86400)
    assert await exchange(harness, app, user, second.client_secret) == 401
    stored = next(a for a in await rows(harness, App) if a.id == app.id)
    # Only keyed hashes are stored, never a secret.
    assert third.client_secret not in (stored.secret_hash, stored.previous_secret_hash)


async def test_grace_choices_are_checked_over_the_api(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, operator: AdminClient
) -> None:
    app, user = await make_app(), await make_user()
    assert app.secret is not None
    bad = await operator.post(f"/apps/{app.id}/rotate-secret", json={"grace_seconds": 5})
    assert bad.status_code == 422, bad.text
    assert "app.grace_invalid" in bad.text
    unknown = await operator.post(f"/apps/{app.id}/rotate-secret", json={"grace": 3600})
    assert unknown.status_code in (400, 422)
    ok = await operator.post(f"/apps/{app.id}/rotate-secret", json={"grace_seconds": 86400})
    assert ok.status_code == 200, ok.text
    assert ok.json()["app"]["previous_secret_until"] is not None
    assert await exchange(harness, app, user, app.secret) == 200
    # Without a body: no grace, as before.
    plain = await operator.post(f"/apps/{app.id}/rotate-secret")
    assert plain.status_code == 200, plain.text
    assert plain.json()["app"]["previous_secret_until"] is None
    assert await exchange(harness, app, user, ok.json()["client_secret"]) == 401
