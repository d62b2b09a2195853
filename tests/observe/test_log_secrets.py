"""No password, code, token or email address is ever logged.

Every flow is driven with known secrets while every logger writes to the product's JSON
handler at DEBUG (``observe/logs.configure``): registration with a wrong and a right code,
activation, login (wrong and right password), recovery (code and new password), the
second factor by emailed code, the portal sign-in, and the admin API with its key. Then
the output is searched for each secret. The email redaction is a safety net; the test
also fails if the net had to catch anything (``<email>`` in the output), so the code
itself must never hand an address to a logger.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from tests.conftest import Harness, deliver_all
from tests.web.login_client import LoginClient
from tests.web.portal_client import OPERATOR, seed_admins, signed_in
from tests.web.test_recovery import Recovery
from widget_server.models import Pool
from widget_server.observe import logs

pytestmark = pytest.mark.usefixtures("manual_outbox")

EMAIL = "Secret.Person@Example.com"
PASSWORD = "Very-Secret-Harbour-93"
NEW_PASSWORD = "Other-Secret-Lantern-57"
API_EMAIL = "api.created@example.org"
API_PASSWORD = "Api-Secret-Meadow-28"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    out = io.StringIO()
    logs.configure("json", "DEBUG", stream=out)
    try:
        yield out
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


async def _last_code(h: Harness, address: str) -> str:
    await deliver_all(h)
    codes = h.codes_for(address)
    assert codes
    return codes[-1]


async def test_no_secret_reaches_the_logs(
    harness: Harness, widget, operator, captured: io.StringIO
) -> None:
    secrets: list[str] = [EMAIL, EMAIL.lower(), PASSWORD, NEW_PASSWORD, API_EMAIL, API_PASSWORD]

    # Registration: a refused password, a wrong code, the right one.
    w = widget("partner-1")
    page = await w.open()
    secrets += [page.hidden["csrf_token"], page.hidden["flow_ticket"]]
    await w.post(email=EMAIL, password="short")
    await w.post(email=EMAIL, password=PASSWORD)
    code = await _last_code(harness, EMAIL)
    secrets.append(code)
    await w.code("000000" if code != "000000" else "111111")
    assert (await w.code(code)).state == "done"

    # Login: wrong password, then right; the session token.
    client = LoginClient(harness)
    await client.log_in(EMAIL, "Wrong-Password-That-Fails-1")
    page = await client.log_in(EMAIL, PASSWORD)
    assert page.state == "done" and client.token
    secrets.append(client.token)

    # Recovery: a code, then a new password.
    recovery = Recovery(harness)
    await recovery.ask(EMAIL)
    recovery_code = await _last_code(harness, EMAIL)
    secrets.append(recovery_code)
    await recovery.code(recovery_code)
    assert (await recovery.password(NEW_PASSWORD)).state == "done"

    # Second factor by emailed code, the pool requiring one.
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Pool).where(Pool.id == "partner-1").values(mfa="required", version=9)
        )
    harness.web.services.pools.forget("partner-1")
    mfa = LoginClient(harness)
    page = await mfa.log_in(EMAIL, NEW_PASSWORD)
    assert page.state == "mfa", page.message_ids
    await mfa.post("/embed/partner-1/login/mfa/send", {**_mfa_fields(page), "method": "email"})
    mfa_code = await _last_code(harness, EMAIL)
    secrets.append(mfa_code)
    done = await mfa.post(
        "/embed/partner-1/login/mfa", {**_mfa_fields(page), "method": "email", "code": mfa_code}
    )
    assert done.state == "done" and mfa.token
    secrets.append(mfa.token)

    # The portal sign-in (its password) and the admin API with its key.
    await seed_admins(harness)
    portal = await signed_in(harness, OPERATOR)
    secrets += [OPERATOR.password, portal.client.cookies.get("ws_admin") or ""]
    secrets.append(operator.key)
    created = await operator.post(
        "/pools/partner-1/users",
        json={"email": API_EMAIL, "password": API_PASSWORD, "status": "active"},
    )
    assert created.status_code == 201, created.text
    found = await operator.get("/pools/partner-1/users", params={"q": "api.created"})
    assert found.status_code == 200
    await portal.client.aclose()

    output = captured.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    # The capture saw the run: DEBUG request lines with request ids, and the flows' own logs.
    requests = [line for line in lines if line["message"] == "request"]
    assert len(requests) > 20
    assert all(re.fullmatch("[0-9a-f]{20}", line["request_id"]) for line in requests)
    assert any(line["logger"].startswith("widget_server.flows") for line in lines)
    for secret in filter(None, secrets):
        assert secret not in output, f"a secret reached the logs: {secret[:4]}…"
    assert "<email>" not in output  # nothing even tried to log an address
    assert "@" not in output


def _mfa_fields(page) -> dict[str, str]:
    return {"flow_id": page.hidden["flow_id"], "csrf_token": page.hidden["csrf_token"]}
