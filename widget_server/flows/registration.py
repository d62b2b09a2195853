"""Registration: the spine of the product.

::

    form(step 1) ─next→ form(step 2) … ─complete→ code ─verify→ done
         ↑  └────────────back────────────┘           │ ↺ resend
         └──────────── (expired: a new flow) ────────┘

``form``: collecting the schema's steps (``Flow.step`` says which).
``code``: user (``new``) and code exist; waiting for the 6 digits.
``done``: user ``active``, address ``verified``; every further POST is refused.

Every public function takes the pool snapshot and a decoded submission, runs one
transaction, and returns the flow in its new state or raises a domain error
(``widget_server.errors``). Nothing here knows about HTTP.

Unsaved flows: opening the form writes nothing. The flow travels as a signed ticket
(pool, parent origin, issue time) in the form until its first valid POST inserts the
row, so anonymous GETs cannot fill the database, and a one-step registration costs one
transaction.

Enumeration safety: completing the form for an address that already has an account
takes the same path (hash, one transaction, one outbox message, ``code`` state) as a
new one; the owner gets a notice instead of a code, and no code can ever succeed.

Activation by email or phone: the code goes to the first of the pool's
``activation_methods`` (its order is the pool's preference) for which the schema has a
field the user filled — an email field (``format: email``) or a phone field
(``format: tel``), the identifier first — else to the identifier. The banking template
(phone, email; the phone required) texts its code; a pool preferring phone whose phone
field is optional texts it when a number was given and mails it otherwise. That address
becomes the account's address row (``email`` or ``phone``) and, verified, its login.
A text carries the same 6-digit code, under the same rules, as an email; a number that
already has an account gets a notice text instead, exactly as an email address would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Literal, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.auth import codes
from widget_server.canonical import account_key
from widget_server.db import Database
from widget_server.errors import (
    CodeExpired,
    FlowStateError,
    InvalidInput,
    RegistrationClosed,
    ResendTooSoon,
)
from widget_server.flows.base import FlowKind, is_saved
from widget_server.flows.base import csrf_token as csrf_token  # callers import it from here
from widget_server.flows.completion import Completion, complete_registration
from widget_server.flows.completion_pg import complete_registration_pg
from widget_server.flows.inputs import StepSubmit
from widget_server.flows.tickets import TicketFormat
from widget_server.forms import identifier_field, merge_step, read_step, steps_of
from widget_server.forms.schema import (
    KeyedSchema,
    is_phone,
    properties,
    schema_key,
    steps_by_key,
)
from widget_server.mail.outbox import enqueue_email
from widget_server.mail.senders import Envelope
from widget_server.messages import Msg, msg
from widget_server.models import Address, Code, Flow, User
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.sms import compose as sms_compose
from widget_server.upsert import insert_ignoring_conflict
from widget_server.webhooks import emit
from widget_server.webhooks.events import USER_ACTIVATED

PURPOSE = "activation"
_EMAIL_FORMATS = ("email", "idn-email")
# Mapped classes type ``__table__`` as a FromClause; this one is a Table.
_CODES: Table = cast(Table, Code.__table__)

State = Literal["form", "code", "done"]
Action = Literal["next", "back", "complete", "verify", "resend"]


def _first_step(pool: PoolView) -> str:
    return steps_of(pool.schema)[0].id


FLOW: FlowKind[State, Action] = FlowKind(
    "registration",
    start="form",
    transitions={
        ("form", "next"): "form",
        ("form", "back"): "form",
        ("form", "complete"): "code",
        ("code", "verify"): "done",
        ("code", "resend"): "code",
    },
    done_message="flow.completed",
    # The app is the last fact, left out without one: the tickets of flows without an
    # app are as they were before apps existed.
    ticket=TicketFormat("ticket", ("pool", "origin", "issued", "app")),
    first_step=_first_step,
)
transition = FLOW.transition


def credential_step(pool: PoolView) -> str:
    return _credential_step(schema_key(pool.schema))


@lru_cache(maxsize=256)
def _credential_step(key: str) -> str:
    identifier = identifier_field(KeyedSchema(json.loads(key)))
    return next(s.id for s in steps_by_key(key) if identifier in s.fields)


async def start(
    services: Services, pool: PoolView, parent_origin: str | None, app_id: str | None = None
) -> Flow:
    """A new, unsaved flow (``FlowKind.new``). ``app_id``: the app (client id, already
    checked to use this pool) the person signs up through: its theme layer and events."""
    if not pool.self_registration:
        raise RegistrationClosed()
    origin = parent_origin if pool.allows_origin(parent_origin) else None
    return FLOW.new(services, pool, origin, app_id)


async def get(services: Services, pool: PoolView, flow_id: str) -> Flow:
    """Load a saved flow for display."""
    return await FLOW.get(services, pool, flow_id)


async def load(
    services: Services, pool: PoolView, flow_id: str, token: str, ticket: str | None = None
) -> Flow:
    """Load a flow for a POST: the CSRF token must match, and the flow must be saved or
    carry a valid ticket, belong to the pool, and be fresh."""
    return await FLOW.load(services, pool, flow_id, token, ticket)


async def submit_step(
    services: Services, pool: PoolView, flow: Flow, submission: StepSubmit
) -> Flow:
    if flow.state != "form":
        transition(flow.state, "next")
    if submission.step is not None and submission.step != flow.step:
        raise FlowStateError()  # a replayed POST of a step the flow has left
    steps = [s.id for s in steps_of(pool.schema)]
    position = steps.index(flow.step)
    last = position + 1 == len(steps)
    # On the last step the whole payload is checked (one pass), before anything is hashed.
    values, password = _read_and_check(pool, flow, submission, last)
    data = merge_step(flow.data, values)
    if last:
        return await _complete(services, pool, flow, data, password)
    password_hash = flow.password_hash
    if password is not None:
        password_hash = await services.hashing.hash(password)
    return await _advance(services, flow, data, password_hash, steps[position + 1])


async def back(services: Services, pool: PoolView, flow: Flow, step: str | None = None) -> Flow:
    target = transition(flow.state, "back")
    if step is not None and step != flow.step:
        raise FlowStateError()
    steps = [s.id for s in steps_of(pool.schema)]
    position = steps.index(flow.step)
    if position == 0:
        return flow
    previous = steps[position - 1]
    await _update_flow(services, flow, {"step": previous, "state": target})
    flow.step = previous
    return flow


async def verify_code(services: Services, pool: PoolView, flow: Flow, code: str) -> Flow:
    transition(flow.state, "verify")
    # isascii: str.isdigit() also accepts "١٢٣٤٥٦" and "²", which must not cost an attempt.
    if not (len(code) == secrets_.CODE_DIGITS and code.isascii() and code.isdigit()):
        raise InvalidInput({"code": [msg("code.format")]})
    # Decide inside the transaction, raise after it: a wrong guess must be counted
    # (committed) even though the caller receives an error.
    async with services.db.write() as session:
        outcome = await _check_code(services, session, pool, flow, code)
    if isinstance(outcome, Exception):
        raise outcome
    flow.state = "done"
    return flow


async def resend_code(services: Services, pool: PoolView, flow: Flow) -> Flow:
    transition(flow.state, "resend")
    now = services.clock.now()
    cooldown = timedelta(seconds=services.settings.code_resend_cooldown_seconds)
    async with services.db.write() as session:
        current = await codes.current(session, PURPOSE, flow.id)
        outcome: ResendTooSoon | None = None
        if current is not None and not await codes.retire(session, current, now - cooldown, now):
            wait = int((current.sent_at + cooldown - now).total_seconds()) + 1
            outcome = ResendTooSoon(max(wait, 1))
        else:
            await _issue_code(services, session, pool, flow, flow.user_id, flow.address or "")
    if outcome is not None:
        raise outcome
    services.notify_outbox()
    return flow


# --- the steps -------------------------------------------------------------------------


def _read_and_check(
    pool: PoolView, flow: Flow, submission: StepSubmit, last: bool
) -> tuple[dict[str, Any], str | None]:
    """The step's values, and the password to hash if one was chosen on this step."""
    errors: dict[str, list[Msg]] = {}
    values: dict[str, Any] = {}
    try:
        values = read_step(
            pool.schema,
            flow.step,
            submission.fields,
            phone_regions=pool.phone_regions,
            earlier=flow.data if last else None,
        )
    except InvalidInput as exc:
        errors.update({k: list(v) for k, v in exc.messages.items()})
    credential = flow.step == credential_step(pool)
    if credential:
        problems = _password_problems(pool, flow, submission, values)
        if problems:
            errors["password"] = problems
    if errors:
        raise InvalidInput(errors)
    return values, submission.password if credential and submission.password else None


def _password_problems(
    pool: PoolView, flow: Flow, submission: StepSubmit, values: dict[str, Any]
) -> list[Msg]:
    password = submission.password or ""
    if not password:
        # Coming back to the first step, the user may keep the password already chosen.
        return [] if flow.password_hash else [msg("form.required")]
    identifier_name = identifier_field(pool.schema)
    raw_identifier = submission.fields.get(identifier_name, ("",))
    identifier = str(values.get(identifier_name) or (raw_identifier[0] if raw_identifier else ""))
    others = tuple(
        str(v)
        for k, v in (flow.data | values).items()
        if isinstance(v, str) and k != identifier_name
    )
    context = PasswordContext(identifier=identifier or None, attributes=others)
    return list(pool.policy.validate(password, context))


async def _advance(
    services: Services, flow: Flow, data: dict[str, Any], password_hash: str | None, step: str
) -> Flow:
    changes = {"data": data, "password_hash": password_hash, "step": step}
    if is_saved(flow):
        await _update_flow(services, flow, changes, expect_step=flow.step)
    else:
        async with services.db.write() as session:
            await _insert_flow(services, session, flow, changes)
    flow.data, flow.password_hash, flow.step = data, password_hash, step
    return flow


async def _update_flow(
    services: Services, flow: Flow, changes: Mapping[str, Any], expect_step: str | None = None
) -> None:
    """Conditional update: a replayed or concurrent POST for a step the flow has already
    left matches no row and is refused instead of overwriting newer data."""
    conditions = [Flow.id == flow.id, Flow.state == flow.state]
    if expect_step is not None:
        conditions.append(Flow.step == expect_step)
    async with services.db.write() as session:
        result = await session.execute(
            update(Flow).where(*conditions).values(updated_at=services.clock.now(), **changes)
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise FlowStateError()


def _flow_row(services: Services, flow: Flow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "kind": flow.kind,
        "pool_id": flow.pool_id,
        "state": flow.state,
        "step": flow.step,
        "data": flow.data,
        "password_hash": None,
        "parent_origin": flow.parent_origin,
        "app_id": flow.app_id,
        "user_id": None,
        "address": None,
        "expires_at": flow.expires_at,
        "created_at": flow.created_at,
        "updated_at": services.clock.now(),
    }


async def _insert_flow(
    services: Services, session: AsyncSession, flow: Flow, changes: Mapping[str, Any]
) -> None:
    """Save an unsaved flow; a second POST of the same ticket finds the row taken."""
    values = _flow_row(services, flow) | dict(changes)
    if not await insert_ignoring_conflict(session, Flow, values, conflict_columns=("id",)):
        raise FlowStateError()
    # From now on the object stands for a stored row: pages stop carrying its ticket.
    make_transient_to_detached(flow)


async def _complete(
    services: Services, pool: PoolView, flow: Flow, data: dict[str, Any], password: str | None
) -> Flow:
    """``data`` was checked against the whole schema by ``read_step`` on the last step.
    ``password``: chosen on this step (to hash), or None for the one hashed earlier."""
    if password is None and flow.password_hash is None:
        raise FlowStateError()
    target = transition(flow.state, "complete")
    plan = _completion_plan(services, pool, flow, target, data, flow.password_hash)
    created = await _store(services, plan, password)
    services.notify_outbox()
    if not is_saved(flow):
        make_transient_to_detached(flow)
    flow.state, flow.data, flow.password_hash = target, data, None
    flow.user_id = plan.user["id"] if created else None
    flow.address = plan.address["value"]
    return flow


async def _store(services: Services, plan: Completion, password: str | None) -> bool:
    """Run the completion, hashing ``password`` into it first if given. On SQLite a
    hashing thread writes it as it hands the hash back (``HashingPool.hash_then``,
    ``Database.write_here``): the loop wakes once for the whole POST instead of once
    after the hash and once after the transaction. On PostgreSQL it is one function
    call (``completion_pg``)."""
    db = services.db
    if not db.is_sqlite:
        # PostgreSQL: the completion is one call of a database function, one round trip.
        if password is not None:
            plan = plan.with_secret(await services.hashing.hash(password))
        return await complete_registration_pg(db, plan)
    if password is None:
        return await db.run_write(partial(complete_registration, plan=plan))
    if db.writes_in_threads:
        return await services.hashing.hash_then(password, partial(_write_hashed, db, plan))
    hashed = await services.hashing.hash(password)
    return await db.run_write(partial(complete_registration, plan=plan.with_secret(hashed)))


def _write_hashed(db: Database, plan: Completion, hashed: str) -> bool:
    return db.write_here(partial(complete_registration, plan=plan.with_secret(hashed)))


def _completion_plan(
    services: Services,
    pool: PoolView,
    flow: Flow,
    target: str,
    data: dict[str, Any],
    password_hash: str | None,
) -> Completion:
    now = services.clock.now()
    kind, identifier = activation_address(pool, data)
    user_id, code = secrets_.new_id(), secrets_.new_code()
    user = {
        "id": user_id,
        "pool_id": pool.id,
        "status": "new",
        "payload": data,
        "metadata": {},
        "created_at": now,
        "updated_at": now,
        "activated_at": None,
    }
    return Completion(
        now=now,
        new_flow=None if is_saved(flow) else _flow_row(services, flow),
        flow_id=flow.id,
        flow_step=flow.step,
        flow_changes={
            "state": target,
            "data": data,
            "password_hash": None,
            "address": identifier,
            "user_id": user_id,
            "updated_at": now,
        },
        user=user,
        address={
            "id": secrets_.new_id(),
            "user_id": user_id,
            "pool_id": pool.id,
            "kind": kind,
            "value": identifier,
            "status": "unverified",
            "verified_at": None,
            "created_at": now,
        },
        credential={
            "id": secrets_.new_id(),
            "user_id": user_id,
            "kind": "password",
            "secret_hash": password_hash,
            "created_at": now,
            "updated_at": now,
        },
        code=_code_row(services, flow, user_id, code),
        abandoned_before=now - timedelta(seconds=services.settings.code_ttl_seconds),
        mail_per_hour=services.settings.mail_per_address_per_hour,
        compose=partial(_compose, services, pool, identifier, code),
        channel=channel_of(identifier),
        event=emit.registered_row(pool, user, flow.app_id),
        released_event=emit.released_row(pool, now),
    )


def activation_address(pool: PoolView, data: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, value) of the address the activation code goes to; see the module doc."""
    candidates = _activation_fields(schema_key(pool.schema), pool.activation_methods)
    for kind, name in candidates:
        value = data.get(name)
        if isinstance(value, str) and value:
            return _address(kind, value)
    kind, name = candidates[-1]
    return _address(kind, str(data[name]))


@lru_cache(maxsize=256)
def _activation_fields(key: str, methods: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(kind, field) in the order a code would try them, the identifier as the last
    resort. Cached by schema: on the completion path this ran at 6-36 us per call."""
    schema = json.loads(key)
    identifier = identifier_field(schema)
    props = properties(schema)
    found = []
    for method in methods:
        for name in (identifier, *props):
            prop = props[name]
            fits = is_phone(prop) if method == "phone" else prop.get("format") in _EMAIL_FORMATS
            if fits:
                found.append((method, name))
    found.append(("phone" if is_phone(props[identifier]) else "email", identifier))
    return tuple(found)


def _address(kind: str, value: str) -> tuple[str, str]:
    # Emails compare case-insensitively (canonical.py, rule 4); phone values are E.164
    # already (forms/reading.py).
    return kind, value if kind == "phone" else account_key(value)


def channel_of(address: str) -> str:
    """An E.164 number never holds an "@", an email address always does."""
    return "email" if "@" in address else "sms"


def _compose(services: Services, pool: PoolView, address: str, code: str, taken: bool) -> Envelope:
    minutes = services.settings.code_ttl_seconds // 60
    if channel_of(address) == "sms":
        if taken:
            return sms_compose.already_registered(address, pool.name)
        return sms_compose.activation_code(address, code, pool.name, minutes)
    if taken:
        return services.composer.already_registered(address, pool)
    return services.composer.activation_code(address, code, pool, minutes)


def _code_row(services: Services, flow: Flow, user_id: str | None, code: str) -> dict[str, Any]:
    settings, now = services.settings, services.clock.now()
    return {
        "id": secrets_.new_id(),
        "flow_id": flow.id,
        "user_id": user_id,
        "purpose": PURPOSE,
        "code_hash": secrets_.keyed_hash(settings.secret_key, PURPOSE, flow.id, code),
        "expires_at": now + timedelta(seconds=settings.code_ttl_seconds),
        "attempts": 0,
        "max_attempts": settings.code_max_attempts,
        "sent_at": now,
        "used_at": None,
    }


async def _issue_code(
    services: Services,
    session: AsyncSession,
    pool: PoolView,
    flow: Flow,
    user_id: str | None,
    address: str,
) -> None:
    code = secrets_.new_code()
    await session.execute(insert(_CODES).values(**_code_row(services, flow, user_id, code)))
    envelope = _compose(services, pool, address, code, taken=user_id is None)
    await enqueue_email(
        session,
        services.clock,
        envelope,
        services.settings.mail_per_address_per_hour,
        channel=channel_of(address),
    )


async def _check_code(
    services: Services, session: AsyncSession, pool: PoolView, flow: Flow, code: str
) -> Exception | None:
    found = await codes.check_in_flow(
        services, session, PURPOSE, flow.id, code, done_message="flow.completed"
    )
    if isinstance(found, Exception):
        return found
    return await _activate(session, pool, flow, found, services.clock.now())


async def _activate(
    session: AsyncSession, pool: PoolView, flow: Flow, code: Code, now: datetime
) -> Exception | None:
    # The code is used already (``codes.check``, conditional: one request wins).
    activated = await session.execute(
        update(User)
        .where(User.id == code.user_id, User.status == "new")
        .values(status="active", activated_at=now, updated_at=now)
    )
    if activated.rowcount != 1:  # type: ignore[attr-defined]
        # The pending user is gone (its address was given up, see completion.py).
        return CodeExpired()
    await session.execute(
        update(Address)
        .where(Address.user_id == code.user_id, Address.value == flow.address)
        .values(status="verified", verified_at=now)
    )
    await session.execute(
        update(Flow).where(Flow.id == flow.id).values(state="done", updated_at=now)
    )
    assert code.user_id is not None  # the update above found the user
    await emit.user_event(
        session, pool, USER_ACTIVATED, code.user_id, now, source="registration", app_id=flow.app_id
    )
    # In the audit log once the account exists for real: an unverified registration is
    # no account yet (it expires and gives its address up), so "registered" is written
    # here, dated when the person registered.
    registered_at = await session.scalar(select(User.created_at).where(User.id == code.user_id))
    for action, when in (("user.registered", registered_at or now), ("user.activated", now)):
        await audit.record_user_event(
            session,
            pool.tenant_id,
            pool.id,
            code.user_id,
            action,
            when,
            details={"via": "registration"},
        )
    return None
