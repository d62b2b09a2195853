"""The widget when the hashing pool refuses (503): the refusal comes before any work, says
the real wait, and never sends the form (or the password) back; without JavaScript the
page keeps what it may keep and says when to send it again.

The server here refuses every other hashing admission, starting with the first
(``Settings.hash_refuse_every``), as it might at the height of a burst. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from tests.auth.people import make_user
from tests.conftest import Harness, count
from tests.web.login_client import LoginClient
from widget_server.errors import Overloaded
from widget_server.flows import login as login_flow
from widget_server.flows import registration
from widget_server.models import OutboxMessage, Pool, User
from widget_server.passwords.policy import PasswordPolicy
from widget_server.settings import Settings
from widget_server.web.shared.render import Renderer

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    return Settings(
        database_url=migrated_database_url,
        secret_key="test-secret-key",
        outbox_poll_seconds=0.05,
        public_url="http://localhost:8000",
        hash_refuse_every=2,
    )


class Calls:
    """Counts calls of the functions it wraps (by a name of the test's choosing)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.counts: dict[str, int] = {}

    def watch(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        self.counts[name] = 0

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            return original(*args, **kwargs)

        self.monkeypatch.setattr(owner, attribute, counted)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    return Calls(monkeypatch)


def watch_the_expensive_work(calls: Calls) -> None:
    calls.watch(registration, "read_step", "read_step")  # schema, email validation
    calls.watch(PasswordPolicy, "validate", "password policy")
    calls.watch(registration, "load", "load flow")
    calls.watch(Renderer, "registration", "render form")
    calls.watch(Renderer, "page", "render template")


async def test_a_refusal_comes_before_any_work_and_never_sends_the_form_back(
    harness: Harness, widget: Any, calls: Calls
) -> None:
    w = widget("partner-1")
    await w.open()
    watch_the_expensive_work(calls)
    first = await w.post(email="ada@example.com", password=GOOD_PASSWORD)
    assert first.status == 503
    headers = first.response.headers
    assert headers["retry-after"] == "1"  # nothing ahead: the shortest honest wait
    assert headers["hx-reswap"] == "none"  # htmx leaves the typed form alone
    assert "data-busy" in first.text and 'data-retry-after="1"' in first.text
    assert first.message_ids == ["busy.registration", "busy.countdown"]
    # Not the form: nothing typed comes back, least of all the password.
    assert "<form" not in first.text and "ada@example.com" not in first.text
    assert GOOD_PASSWORD not in first.text
    # The step was neither read, validated, loaded nor rendered; the notice was drawn
    # once, for this first refusal of the pool's version.
    assert calls.counts == {
        "read_step": 0,
        "password policy": 0,
        "load flow": 0,
        "render form": 0,
        "render template": 1,
    }
    # Sent again as it was (what widget.js does after the countdown): registered once.
    done = await w.post(email="ada@example.com", password=GOOD_PASSWORD)
    assert (done.status, done.state) == (200, "code")
    assert calls.counts["read_step"] == 1 and calls.counts["password policy"] == 1
    # Another person refused: the notice is only filled in, nothing is drawn.
    other = widget("partner-1")
    await other.open()
    calls.counts = dict.fromkeys(calls.counts, 0)
    again = await other.post(email="bob@example.com", password=GOOD_PASSWORD)
    assert again.status == 503 and again.text == first.text
    assert set(calls.counts.values()) == {0}
    assert (await other.post(email="bob@example.com", password=GOOD_PASSWORD)).state == "code"
    assert await count(harness, User) == 2
    assert await count(harness, OutboxMessage) == 2


async def test_retry_after_is_the_place_in_line_the_pool_gives(
    harness: Harness, widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise Overloaded(retry_after=7)

    monkeypatch.setattr(harness.web.services.hashing, "admit", refuse)
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="ada@example.com", password=GOOD_PASSWORD)
    assert page.status == 503 and page.response.headers["retry-after"] == "7"
    assert 'data-retry-after="7"' in page.text
    # The countdown as first shown, and its wording with the placeholder widget.js fills.
    assert "Trying again in 7 s…</p>" in page.text
    assert 'data-countdown="Trying again in {seconds} s…"' in page.text


async def test_a_post_that_hashes_nothing_is_never_refused(harness: Harness, widget: Any) -> None:
    w = widget("partner-1")
    await w.open()
    # No password: the step fails validation; no hash, so no place in line is needed.
    page = await w.post(email="ada@example.com", password="")
    assert page.status == 422 and page.field_errors("password") == ["form.required"]
    # The first admission (refused, as every other one here) is still to come.
    assert (await w.post(email="ada@example.com", password=GOOD_PASSWORD)).status == 503


async def test_without_javascript_the_page_keeps_the_values_and_says_when(
    harness: Harness, widget: Any
) -> None:
    w = widget("partner-1", htmx=False)
    opened = await w.open()
    page = await w.post(email="ada@example.com", password=GOOD_PASSWORD)
    assert page.status == 503 and page.response.headers["retry-after"] == "1"
    assert "hx-reswap" not in page.response.headers
    assert page.state == "form" and "busy.registration_later" in page.message_ids
    assert "send the form again in 1 s;" in page.text
    assert 'value="ada@example.com"' in page.text  # kept
    assert GOOD_PASSWORD not in page.text  # never
    assert page.flow_id == opened.flow_id  # the same flow goes on
    done = await w.post(email="ada@example.com", password=GOOD_PASSWORD)
    assert (done.status, done.state) == (200, "code")
    assert await count(harness, User) == 1


async def test_a_theme_rewords_the_waiting_notice(harness: Harness, widget: Any) -> None:
    copy = {
        "busy.registration": "Gerade melden sich viele an — wir versuchen es weiter.",
        "busy.countdown": "Neuer Versuch in {seconds} s",
    }
    async with harness.web.services.db.write() as session:
        await session.execute(
            update(Pool)
            .where(Pool.id == "partner-1")
            .values(theme={"copy": copy}, version=Pool.version + 1)
        )
    harness.web.services.pools.forget("partner-1")
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="ada@example.com", password=GOOD_PASSWORD)
    assert "Gerade melden sich viele an — wir versuchen es weiter." in page.text
    assert ">Neuer Versuch in 1 s</p>" in page.text
    assert 'data-countdown="Neuer Versuch in {seconds} s"' in page.text


async def test_a_login_waits_in_line_the_same_way(
    harness: Harness, calls: Calls
) -> None:
    ada = await make_user(harness)
    client = LoginClient(harness)
    await client.open()
    calls.watch(login_flow, "log_in", "log in")
    busy = await client.submit(ada.email, ada.password)
    assert busy.status == 503 and busy.response.headers["hx-reswap"] == "none"
    assert busy.message_ids == ["busy.login", "busy.countdown"]
    assert ada.email not in busy.text and ada.password not in busy.text
    assert calls.counts["log in"] == 0  # no throttle count, no account read, no verify
    done = await client.submit(ada.email, ada.password)
    assert (done.status, done.state) == (200, "done") and client.token is not None
    plain = LoginClient(harness, htmx=False)
    await plain.open()
    page = await plain.submit(ada.email, ada.password)
    assert page.status == 503 and "busy.login_later" in page.message_ids
    assert f'value="{ada.email}"' in page.text and ada.password not in page.text
