"""The user detail page edits payload and metadata with forms drawn from the pool's
schemas (web/portal/user_form.py), validated as the widget and the API validate; raw
JSON is the advanced editor."""

from __future__ import annotations

from sqlalchemy import update

from tests.conftest import Harness, rows
from tests.web.conftest import Login
from tests.web.portal_client import OPERATOR, PortalClient, field_errors, message_ids
from tests.web.test_portal_users import _create
from widget_server.admin.templates import BUILTIN_METADATA
from widget_server.models import Pool, User

TEAM = "/admin/pools/business-1/users"
MEMBER = {
    "email": "mia@example.com",
    "first_name": "Mia",
    "last_name": "Member",
    "date_of_birth": "1991-03-08",
    "company": "Business One",
    "job_title": "Analyst",
    "country": "DE",
    "terms": "true",
}


async def _member(h: Harness, portal: PortalClient) -> str:
    async with h.web.services.db.write() as session:
        await session.execute(
            update(Pool).where(Pool.id == "business-1").values(metadata_schema_id=BUILTIN_METADATA)
        )
    h.web.services.pools.forget("business-1")
    return await _create(portal, TEAM, **MEMBER)


async def test_the_edit_form_is_drawn_from_the_schemas(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    user_id = await _member(h, portal)
    page = await portal.get(f"{TEAM}/{user_id}")
    assert page.status_code == 200
    assert 'id="user-edit"' in page.text and 'name="mode" value="form"' in page.text
    for field in ("first_name", "company", "country", "metadata.customer_number"):
        assert f'name="{field}"' in page.text, field
    assert 'name="metadata.roles"' in page.text  # an array of strings: one a line
    assert 'name="email"' not in page.text  # the sign-in address is not edited here
    assert 'href="/admin/pools/business-1/users/' + user_id + '?edit=json"' in page.text
    raw = await portal.get(f"{TEAM}/{user_id}?edit=json")
    assert 'name="payload"' in raw.text and 'name="mode" value="json"' in raw.text


async def test_a_form_edit_is_read_like_the_widget_and_stored(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    user_id = await _member(h, portal)
    await portal.get(f"{TEAM}/{user_id}")
    fields = {k: v for k, v in MEMBER.items() if k != "email"}
    saved = await portal.post(
        f"{TEAM}/{user_id}",
        {
            "mode": "form",
            **fields,
            "job_title": "",  # optional, emptied: removed
            "company": "Business Two",
            "metadata.customer_number": "C-1042",
            "metadata.roles": "billing\nsupport\n",
        },
    )
    assert saved.status_code == 303, message_ids(saved)
    assert saved.headers["location"].endswith("done=admin.user_updated")
    user = (await rows(h, User))[0]
    assert user.payload["company"] == "Business Two" and "job_title" not in user.payload
    assert user.payload["terms"] is True  # typed as the widget types it
    assert user.metadata_ == {"customer_number": "C-1042", "roles": ["billing", "support"]}


async def test_bad_values_come_back_by_field_with_what_was_typed(
    h: Harness, login: Login
) -> None:
    portal = await login(OPERATOR)
    user_id = await _member(h, portal)
    await portal.get(f"{TEAM}/{user_id}")
    fields = {k: v for k, v in MEMBER.items() if k != "email"}
    refused = await portal.post(
        f"{TEAM}/{user_id}",
        {
            "mode": "form",
            **fields,
            "first_name": "",
            "company": "Kept typed",
            "metadata.customer_number": "no spaces allowed",
            "metadata.roles": "Not A Role",
        },
    )
    assert refused.status_code == 422
    assert field_errors(refused, "first_name")
    assert field_errors(refused, "metadata.customer_number")
    assert 'value="Kept typed"' in refused.text
    user = (await rows(h, User))[0]
    assert user.payload["company"] == "Business One" and user.metadata_ == {}
