"""What every self-service flow shares: its kind, the moves its states allow, how an
unsaved flow travels (a signed ticket) and how a page or a POST loads it. A flow module
declares one ``FlowKind`` and keeps only what is its own::

    FLOW = FlowKind(
        "recovery",
        start="identify",
        transitions={("identify", "request"): "code", ("code", "verify"): "password", ...},
        done_message="recovery.complete",
        ticket=TicketFormat("recovery-ticket", ("pool", "origin", "issued")),
    )

    FLOW.transition(state, action)      the table's target, else FlowStateError
    FLOW.new(services, pool, origin)    an unsaved flow in ``start``; nothing is written
    FLOW.ticket_for(services, flow)     what an unsaved flow's form carries; None once saved
    FLOW.get(services, pool, flow_id)   a saved flow of this kind and pool, not expired
    FLOW.load(services, pool, flow_id, csrf, ticket)
                                        the same for a POST: the CSRF token first, then
                                        the ticket (no read) or the saved row

Every flow ends in ``done``. A move the table does not allow is refused with
``done_message`` in a finished flow and ``flow.wrong_step`` otherwise. A flow past its
expiry is refused in ``expires_in`` (by default every state with a move out of it): the
page of a finished flow can still be shown.

The CSRF token of every flow is derived from its id (``csrf_token``), not stored: it
travels in the form (a cross-site iframe gets no cookies) and is compared in constant
time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar, cast

from sqlalchemy import inspect

from widget_server import secrets_
from widget_server.errors import CsrfMismatch, FlowExpired, FlowNotFound, FlowStateError
from widget_server.flows.tickets import TicketFormat
from widget_server.models import Flow, transient
from widget_server.pools import PoolView
from widget_server.services import Services

DONE = "done"
#: Longer ids are refused before any read (the column holds 64 characters).
MAX_FLOW_ID = 64

S = TypeVar("S", bound=str)
A = TypeVar("A", bound=str)


def csrf_token(services: Services, flow_id: str) -> str:
    """The flow's CSRF token, derived rather than stored: it travels in the form (no cookies
    inside a cross-site iframe) and is checked in constant time."""
    return secrets_.keyed_hash(services.settings.secret_key, "csrf", flow_id)[:43]


def is_saved(flow: Flow) -> bool:
    """Whether the flow has a row (an unsaved one travels as a ticket)."""
    return not inspect(flow).transient


@dataclass(frozen=True, slots=True)
class FlowKind(Generic[S, A]):
    """One kind of flow (``Flow.kind``): its transition table and how it is loaded."""

    name: str
    start: S
    transitions: Mapping[tuple[S, A], S]
    #: Why a move in a finished flow is refused (the page says the flow is complete).
    done_message: str
    #: How an unsaved flow of this kind travels; None: it is saved when it is created.
    ticket: TicketFormat | None = None
    #: Where a new flow stands in the pool's form (registration: the schema's first step).
    first_step: Callable[[PoolView], str] | None = None
    #: The states in which an expired flow is refused; None: every state a move leaves.
    expires_in: frozenset[str] | None = None
    _table: Mapping[tuple[str, str], S] = field(init=False, repr=False)
    _expiring: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Looked up with any (state, action) a request brings: keyed by plain strings.
        table = cast("Mapping[tuple[str, str], S]", self.transitions)
        expiring = self.expires_in
        if expiring is None:
            expiring = frozenset(state for state, _ in self.transitions)
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_expiring", expiring)

    def transition(self, state: str, action: A) -> S:
        """The state ``action`` leads to from ``state``; FlowStateError if it may not."""
        target = self._table.get((state, action))
        if target is None:
            raise FlowStateError(self.done_message if state == DONE else "flow.wrong_step")
        return target

    # --- unsaved flows ----------------------------------------------------------------

    def new(
        self, services: Services, pool: PoolView, origin: str | None, app_id: str | None = None
    ) -> Flow:
        """A flow in ``start`` that is not stored: it travels as a signed ticket until its
        first valid POST, so opening a form writes nothing. ``origin`` must be checked
        already (the kinds differ in whose origins they accept)."""
        now = services.clock.now().replace(microsecond=0)
        return self._unsaved(services, pool, secrets_.new_token(), origin, app_id, now)

    def ticket_for(self, services: Services, flow: Flow) -> str | None:
        """The ticket an unsaved flow's form carries; None for a saved flow."""
        if self.ticket is None or is_saved(flow):
            return None
        return self.ticket.encode(services, flow)

    def from_ticket(
        self, services: Services, pool: PoolView, flow_id: str, ticket: str
    ) -> Flow | None:
        """The unsaved flow a ticket of this kind and pool stands for, else None."""
        facts = self.ticket.decode(services, flow_id, ticket) if self.ticket else None
        if facts is None or facts.pool_id != pool.id:
            return None
        return self._unsaved(services, pool, flow_id, facts.origin, facts.app_id, facts.created)

    def _unsaved(
        self,
        services: Services,
        pool: PoolView,
        flow_id: str,
        origin: str | None,
        app_id: str | None,
        created: datetime,
    ) -> Flow:
        return transient(
            Flow,
            id=flow_id,
            kind=self.name,
            pool_id=pool.id,
            state=self.start,
            step=self.first_step(pool) if self.first_step is not None else "",
            data={},
            password_hash=None,
            parent_origin=origin,
            app_id=app_id,
            oauth={},
            user_id=None,
            address=None,
            expires_at=created + timedelta(seconds=services.settings.flow_ttl_seconds),
            created_at=created,
            updated_at=created,
        )

    # --- loading ------------------------------------------------------------------------

    async def get(self, services: Services, pool: PoolView, flow_id: str) -> Flow:
        """A saved flow of this kind in the pool, not expired. Anything else (too long an
        id, another pool's or another kind's flow, none at all) is the same
        ``FlowNotFound``."""
        if len(flow_id) > MAX_FLOW_ID:
            raise FlowNotFound()
        async with services.db.read() as session:
            flow = await session.get(Flow, flow_id)
        if flow is None or flow.pool_id != pool.id or flow.kind != self.name:
            raise FlowNotFound()
        self._check_fresh(services, flow)
        return flow

    async def load(
        self,
        services: Services,
        pool: PoolView,
        flow_id: str,
        token: str,
        ticket: str | None = None,
    ) -> Flow:
        """A flow for a POST: the CSRF token must match, then the flow must carry a valid
        ticket or be saved, belong to the pool, and be fresh."""
        if not secrets_.hmac_equal(csrf_token(services, flow_id), token):
            raise CsrfMismatch()
        flow = self.from_ticket(services, pool, flow_id, ticket) if ticket else None
        if flow is None:
            return await self.get(services, pool, flow_id)
        # No read: if the flow was saved meanwhile (a replayed first POST), saving it again
        # hits the primary key and the POST is refused as a replay.
        self._check_fresh(services, flow)
        return flow

    def _check_fresh(self, services: Services, flow: Flow) -> None:
        if flow.state in self._expiring and flow.expires_at <= services.clock.now():
            raise FlowExpired()
