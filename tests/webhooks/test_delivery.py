"""Delivery to a real HTTP receiver: signed so the reference library verifies it, retried
across outages with the same ``webhook-id``, nothing lost across a worker restart, in
order per user, a hanging receiver holding up only itself, SSRF refused at delivery."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from standardwebhooks import WebhookVerificationError

from tests.admin.keys import AdminClient
from tests.conftest import Harness
from tests.webhooks.conftest import HANG, Hooks, Receiver, StaticResolver, valid_body
from widget_server.admin import users
from widget_server.users.inputs import NewUser, UserPatch
from widget_server.webhooks import manage, queue
from widget_server.webhooks.http import RESPONSE_EXCERPT


async def new_user(hooks: Hooks, email: str = "ada@example.com", status: str = "new") -> str:
    view = await users.create_user(
        hooks.services,
        hooks.operator.actor,
        "partner-1",
        NewUser(email=email, status=status, send_set_password_link=status == "active"),
    )
    return view.id


async def test_an_event_arrives_signed_and_matches_its_schema(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    user_id = await new_user(hooks)
    await hooks.drain()

    [request] = receiver.at("/hook")
    payload = valid_body(request.verify(made.secret))
    assert payload["type"] == "user.registered"
    assert payload["data"]["user"]["id"] == user_id
    assert payload["data"]["source"] == "admin"
    assert request.message_id.startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    [delivery] = await hooks.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    [attempt] = await hooks.attempts()
    assert attempt.number == 1 and attempt.status_code == 200 and attempt.error is None
    assert attempt.request_excerpt == request.body.decode()
    # The receiver answered 2.8 KB; the log keeps the first KiB.
    assert attempt.response_excerpt is not None
    assert len(attempt.response_excerpt) == RESPONSE_EXCERPT


async def test_an_outage_is_retried_with_the_same_id_until_it_is_over(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    receiver.answers["/hook"] = 500
    await new_user(hooks)
    await hooks.drain()
    [delivery] = await hooks.deliveries()
    assert delivery.status == "pending" and delivery.last_status_code == 500
    assert delivery.next_attempt_at == hooks.h.clock.now() + queue.SCHEDULE[0]

    await hooks.drain()  # not due yet: nothing is sent
    assert len(receiver.at("/hook")) == 1
    hooks.h.clock.advance(5)
    await hooks.drain()
    receiver.answers["/hook"] = 200
    hooks.h.clock.advance(30)
    await hooks.drain()

    requests = receiver.at("/hook")
    assert len(requests) == 3
    assert len({r.message_id for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    for request in requests:
        request.verify(made.secret)
    [delivery] = await hooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert [(a.number, a.status_code) for a in await hooks.attempts()] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]


async def test_a_receiver_down_for_good_is_retried_for_over_a_day(
    hooks: Hooks, receiver: Receiver
) -> None:
    await hooks.endpoint(receiver.url())
    receiver.answers["/hook"] = 503
    await new_user(hooks)
    start = hooks.h.clock.now()
    await hooks.drain()
    for wait in queue.SCHEDULE:
        hooks.h.clock.advance(wait.total_seconds())
        await hooks.drain()
    [delivery] = await hooks.deliveries()
    assert delivery.status == "failed" and delivery.attempts == queue.MAX_ATTEMPTS
    assert len(receiver.at("/hook")) == queue.MAX_ATTEMPTS
    assert hooks.h.clock.now() - start >= timedelta(hours=24)
    hooks.h.clock.advance(86400)
    await hooks.drain()
    assert len(receiver.at("/hook")) == queue.MAX_ATTEMPTS  # given up: no more


async def test_events_wait_while_the_receiver_is_unreachable(
    hooks: Hooks, receiver: Receiver
) -> None:
    """Written while nobody listens (no worker, no receiver): delivered once both are back."""
    made = await hooks.endpoint(receiver.url("/later"))
    receiver.answers["/later"] = 404  # not deployed yet
    await new_user(hooks)
    await hooks.drain()
    receiver.answers["/later"] = 204
    hooks.h.clock.advance(5)
    await hooks.drain()
    assert [r.verify(made.secret)["type"] for r in receiver.at("/later")] == ["user.registered"] * 2
    assert [d.status for d in await hooks.deliveries()] == ["succeeded"]


async def test_a_restart_mid_request_loses_nothing_and_resends_the_same_id(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    receiver.answers["/hook"] = HANG
    await new_user(hooks)
    first = hooks.worker()
    assert await first.round() == 1  # the request is on its way; the receiver hangs
    [seen] = await receiver.wait_for("/hook")
    await first.stop(timeout=0.1)  # the process goes down mid-request
    [delivery] = await hooks.deliveries()
    assert delivery.status == "pending" and delivery.attempts == 0

    receiver.answers["/hook"] = 200
    second = hooks.worker()  # the server comes back, on the same database
    await second.drain()
    assert len(receiver.at("/hook")) == 1  # the first worker's lease still holds it
    hooks.h.clock.advance(120)  # past the lease
    await second.drain()
    [_, again] = receiver.at("/hook")
    assert again.message_id == seen.message_id and again.body == seen.body
    again.verify(made.secret)
    [delivery] = await hooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


async def test_two_workers_send_each_event_once(hooks: Hooks, receiver: Receiver) -> None:
    await hooks.endpoint(receiver.url())
    for n in range(6):
        await new_user(hooks, f"u{n}@example.com")
    one, two = hooks.worker(), hooks.worker()
    await asyncio.gather(one.drain(), two.drain())
    requests = receiver.at("/hook")
    assert len(requests) == 6 and len({r.message_id for r in requests}) == 6


async def test_one_users_events_arrive_in_order_and_hold_back_only_that_user(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    ada = await new_user(hooks, "ada@example.com", status="active")
    for name in ("A", "B"):
        await users.update_user(
            hooks.services,
            hooks.operator.actor,
            "partner-1",
            ada,
            UserPatch(metadata={"team": name}),
        )
    receiver.answers["/hook"] = 500
    await hooks.drain()  # ada's first event fails; her later ones wait behind it
    assert len(receiver.at("/hook")) == 1
    receiver.answers["/hook"] = 200
    bob = await new_user(hooks, "bob@example.com")
    await hooks.drain()  # bob's event is not held back by ada's
    assert receiver.at("/hook")[-1].verify(made.secret)["data"]["user"]["id"] == bob
    hooks.h.clock.advance(5)
    await hooks.drain()

    arrived = [r.verify(made.secret) for r in receiver.at("/hook")]
    adas = [(p["type"], p["data"]["user"]["metadata"]) for p in arrived if _about(p) == ada]
    assert adas == [
        ("user.registered", {}),  # the failed attempt
        ("user.registered", {}),
        ("user.activated", {}),
        ("user.updated", {"team": "A"}),
        ("user.updated", {"team": "B"}),
    ]


def _about(payload: dict[str, object]) -> object:
    data = payload["data"]
    assert isinstance(data, dict)
    return data["user"]["id"]


async def test_a_hanging_receiver_delays_only_its_own_endpoint(
    hooks: Hooks, receiver: Receiver
) -> None:
    await hooks.endpoint(receiver.url("/slow"))
    fast = await hooks.endpoint(receiver.url("/fast"))
    receiver.answers["/slow"] = HANG
    for n in range(8):  # eight users: nothing orders them, only the endpoint's limit
        await new_user(hooks, f"u{n}@example.com")
    worker = hooks.worker(webhook_timeout_seconds=3.0, webhook_endpoint_concurrency=2)
    worker.start()
    arrived = await receiver.wait_for("/fast", 8, seconds=2.5)
    assert len(receiver.at("/slow")) == 2  # its two slots hang; the rest wait their turn
    assert all(r.verify(fast.secret) for r in arrived)
    await receiver.wait_for("/slow", 4, seconds=6)  # timed out after 3 s: the next two
    [attempt, *_] = [a for a in await hooks.attempts() if a.status_code is None]
    assert attempt.error == "no answer within 3 s" and attempt.duration_ms >= 2900


async def test_private_addresses_are_refused_at_delivery_time(
    hooks: Hooks, receiver: Receiver
) -> None:
    """The name was fine when the endpoint was saved; at delivery it resolves to this
    machine. Production settings refuse to connect, and the receiver sees nothing."""
    await hooks.endpoint(f"https://partner.example:{receiver.port}/hook")
    resolver = StaticResolver({"partner.example": ["93.184.215.14", "127.0.0.1"]})
    worker = hooks.worker(resolver, webhooks_allow_private=False)
    await new_user(hooks)
    await worker.drain()
    assert resolver.asked == ["partner.example"]
    assert receiver.requests == []
    [attempt] = await hooks.attempts()
    assert attempt.status_code is None
    assert attempt.error == "refused: 127.0.0.1 is not a public address"
    [delivery] = await hooks.deliveries()
    assert delivery.status == "pending"  # DNS may be fixed: retried like any failure


async def test_the_request_goes_to_the_checked_address_with_the_hosts_name(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url(host="hooks.localhost"))
    resolver = StaticResolver({"hooks.localhost": ["127.0.0.1"]})
    await new_user(hooks)
    await hooks.worker(resolver).drain()
    [request] = receiver.at("/hook")
    assert request.headers["host"] == f"hooks.localhost:{receiver.port}"
    request.verify(made.secret)


async def test_redirects_are_not_followed(hooks: Hooks, receiver: Receiver) -> None:
    await hooks.endpoint(receiver.url("/moved"))
    receiver.answers["/moved"] = (307, {"location": receiver.url("/hook")})
    await new_user(hooks)
    await hooks.drain()
    assert receiver.at("/hook") == [] and len(receiver.at("/moved")) == 1
    [attempt] = await hooks.attempts()
    assert attempt.status_code == 307
    [delivery] = await hooks.deliveries()
    assert delivery.status == "pending"


async def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    rotated = await manage.rotate_secret(
        hooks.services, hooks.operator.actor, made.endpoint.id, grace_seconds=3600
    )
    assert rotated.secret != made.secret
    assert rotated.endpoint.previous_secret_until == hooks.h.clock.now() + timedelta(hours=1)
    await new_user(hooks, "during@example.com")
    await hooks.drain()
    [during] = receiver.at("/hook")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    during.verify(made.secret)
    during.verify(rotated.secret)

    hooks.h.clock.advance(3601)
    await new_user(hooks, "after@example.com")
    await hooks.drain()
    after = receiver.at("/hook")[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    after.verify(rotated.secret)
    with pytest.raises(WebhookVerificationError):
        after.verify(made.secret)


async def test_a_rotation_without_grace_retires_the_old_secret_at_once(
    hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    rotated = await manage.rotate_secret(
        hooks.services, hooks.operator.actor, made.endpoint.id, grace_seconds=0
    )
    await new_user(hooks)
    await hooks.drain()
    [request] = receiver.at("/hook")
    request.verify(rotated.secret)
    with pytest.raises(WebhookVerificationError):
        request.verify(made.secret)


async def test_filters_choose_the_event_types_per_endpoint(
    hooks: Hooks, receiver: Receiver
) -> None:
    await hooks.endpoint(receiver.url("/logins"), event_types=["login.succeeded"])
    await hooks.endpoint(receiver.url("/users"), event_types=["user.registered", "user.deleted"])
    await hooks.endpoint(receiver.url("/all"))
    await hooks.endpoint(receiver.url("/off"), enabled=False)
    user_id = await new_user(hooks, status="active")
    await users.delete_user(hooks.services, hooks.operator.actor, "partner-1", user_id)
    await hooks.drain()
    assert receiver.at("/logins") == [] and receiver.at("/off") == []
    assert [r.json["type"] for r in receiver.at("/users")] == ["user.registered", "user.deleted"]
    assert [r.json["type"] for r in receiver.at("/all")] == [
        "user.registered",
        "user.activated",
        "user.deleted",
    ]


async def test_another_pools_endpoint_hears_nothing(hooks: Hooks, receiver: Receiver) -> None:
    await hooks.endpoint(receiver.url("/other"), pool_id="partner-2")
    await new_user(hooks)
    await hooks.drain()
    assert receiver.requests == [] and await hooks.deliveries() == []


async def test_an_endpoint_added_later_gets_only_later_events(
    hooks: Hooks, receiver: Receiver, harness: Harness
) -> None:
    await hooks.endpoint(receiver.url("/first"))
    await new_user(hooks, "before@example.com")
    await hooks.drain()
    await hooks.endpoint(receiver.url("/second"))
    await new_user(hooks, "after@example.com")
    await hooks.drain()
    assert len(receiver.at("/first")) == 2
    [only] = receiver.at("/second")
    assert only.json["data"]["user"]["payload"]["email"] == "after@example.com"


async def test_the_apps_background_worker_delivers_by_itself(
    harness: Harness, operator: AdminClient, receiver: Receiver
) -> None:
    """No test driving it: the worker the app starts finds the event and sends it."""
    made = await manage.create_endpoint(
        harness.web.services,
        operator.actor,
        manage.NewEndpoint(url=receiver.url(), pool_id="partner-1"),
    )
    await users.create_user(
        harness.web.services, operator.actor, "partner-1", NewUser(email="bg@example.com")
    )
    [request] = await receiver.wait_for("/hook")
    assert request.verify(made.secret)["type"] == "user.registered"
