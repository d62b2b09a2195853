"""Login throttling: progressive delays per identifier (or per identifier and IP) and per
IP, with atomic counters. One implementation for end users and for the portal's people
(``LoginThrottle``, configured per use by ``LoginLimits``), on one store.

Every login attempt is counted *before* its password is hashed, in one atomic step that
also checks the delay: parallel requests cannot all slip through between a check and an
increment, so 50 simultaneous guesses reach the hasher at most ``free`` times. A success
clears its identifier's counter and gives back its own count on the IP counter, so the
IP counter ends up counting failures: a busy office behind one address is not slowed by
its users' successful logins.

Per counter (a key and its number of free attempts)::

    attempt n ≤ free - 1     passes
    attempt n ≥ free         passes, then the next one must wait 2^(n - free) s (≤ cap)
    during a wait            refused with the remaining seconds (not counted)
    idle for forget + cap    the counter starts again at zero

There is no permanent lockout an attacker could trigger: the longest wait is ``cap``
(15 minutes by default), after which one more attempt passes. Unknown accounts are
counted exactly like real ones, so the answer never tells whether an account exists.

Two stores: ``MemoryStore`` (one process; exact because one step runs without an await)
and ``RedisStore`` (several processes; one Lua script, atomic in Redis). ``redis_url``
in the settings chooses (empty: in-process). Times come from the injected clock, so
tests move them; Redis expiry only reclaims memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import redis.asyncio as aioredis

from widget_server import secrets_


class Limit(msgspec.Struct, frozen=True):
    """One counter: its key and how many attempts pass before delays start."""

    key: str
    free: int


class ThrottleStore(Protocol):
    async def acquire(self, limits: Sequence[Limit], now: float) -> float:
        """Atomically: if any counter is waiting, return the seconds left (nothing counted);
        else count one attempt on every counter and return 0."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the counter (a success on an account)."""
        ...

    async def give_back(self, key: str) -> None:
        """Undo one counted attempt (a success, on the IP counter)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Delays:
    #: Longest wait, in seconds: the worst a lockout can get, whoever causes it.
    cap: float = 900.0
    #: A counter left alone this long after its longest wait starts again from zero.
    forget: float = 3600.0


def _delay(count: int, free: int, delays: Delays) -> float:
    if count < free:
        return 0.0
    return float(min(2.0 ** min(count - free, 30), delays.cap))


class _Counter:
    __slots__ = ("count", "last", "until")

    def __init__(self) -> None:
        self.count, self.last, self.until = 0, 0.0, 0.0


class MemoryStore:
    """Counters in this process. ``acquire`` has no await inside, so on one event loop it
    is atomic; memory is bounded by dropping counters idle longer than ``forget``."""

    def __init__(self, delays: Delays | None = None, max_keys: int = 100_000) -> None:
        self.delays = delays or Delays()
        self.max_keys = max_keys
        self._counters: dict[str, _Counter] = {}

    async def acquire(self, limits: Sequence[Limit], now: float) -> float:
        counters = [self._fresh(limit.key, now) for limit in limits]
        wait = max((c.until - now for c in counters), default=0.0)
        if wait > 0:
            return wait
        for limit, counter in zip(limits, counters, strict=True):
            counter.count += 1
            counter.last = now
            counter.until = now + _delay(counter.count, limit.free, self.delays)
        if len(self._counters) > self.max_keys:
            self._sweep(now)
        return 0.0

    def _fresh(self, key: str, now: float) -> _Counter:
        counter = self._counters.get(key)
        if counter is None or now - counter.last > self.delays.forget + self.delays.cap:
            counter = self._counters[key] = _Counter()
        return counter

    async def reset(self, key: str) -> None:
        self._counters.pop(key, None)

    async def give_back(self, key: str) -> None:
        counter = self._counters.get(key)
        if counter is not None and counter.count > 0:
            counter.count -= 1

    async def close(self) -> None:
        self._counters.clear()

    def _sweep(self, now: float) -> None:
        horizon = self.delays.forget + self.delays.cap
        for key in [k for k, c in self._counters.items() if now - c.last > horizon]:
            del self._counters[key]


# KEYS: the counters. ARGV: now (ms), forget (ms), cap (ms), then each key's free attempts.
# Each counter is a hash {c: count, l: last attempt, u: wait until}. Integers only: Redis
# turns Lua numbers into integers on the way out.
_ACQUIRE = """
local now, forget, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
local state = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'c', 'l', 'u')
  local c, l, u = tonumber(v[1] or '0'), tonumber(v[2] or '0'), tonumber(v[3] or '0')
  if now - l > forget + cap then c, u = 0, 0 end
  if u - now > wait then wait = u - now end
  state[i] = c
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local c, free = state[i] + 1, tonumber(ARGV[3 + i])
  local u = 0
  if c >= free then u = now + math.min(2 ^ math.min(c - free, 30) * 1000, cap) end
  redis.call('HSET', key, 'c', c, 'l', now, 'u', u)
  redis.call('PEXPIRE', key, forget + cap + 60000)
end
return 0
"""
_GIVE_BACK = """
local c = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
if c > 0 then redis.call('HINCRBY', KEYS[1], 'c', -1) end
return 0
"""


class RedisStore:
    """Counters in Redis, shared by every process; each step is one Lua script."""

    def __init__(self, client: Any, delays: Delays | None = None, prefix: str = "ws:th:") -> None:
        self.delays = delays or Delays()
        self.prefix = prefix
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._give_back = client.register_script(_GIVE_BACK)

    @classmethod
    def from_url(cls, url: str, delays: Delays | None = None, prefix: str = "ws:th:") -> RedisStore:
        return cls(aioredis.Redis.from_url(url), delays, prefix)

    async def acquire(self, limits: Sequence[Limit], now: float) -> float:
        ms = [
            int(now * 1000),
            int(self.delays.forget * 1000),
            int(self.delays.cap * 1000),
            *(limit.free for limit in limits),
        ]
        keys = [self.prefix + limit.key for limit in limits]
        waited = await self._acquire(keys=keys, args=ms)
        return int(waited) / 1000

    async def reset(self, key: str) -> None:
        await self._client.delete(self.prefix + key)

    async def give_back(self, key: str) -> None:
        await self._give_back(keys=[self.prefix + key])

    async def close(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, kw_only=True)
class LoginLimits:
    """How one use of ``LoginThrottle`` counts: end users (the defaults) or the portal's
    people (``admin/portal_auth.PORTAL_LIMITS``). Each use has its own ``prefix``, so
    their counters never meet on a shared store."""

    #: Starts every key of this use: the end users' are ``a:…`` and ``i:…``.
    prefix: str = ""
    #: Attempts on one identifier before delays start.
    per_identifier: int = 5
    #: Failed attempts from one IP (any identifiers) before delays start: higher, as many
    #: people may share an address.
    per_ip: int = 100
    #: True: an identifier is counted per (identifier, IP), so a stranger guessing from
    #: elsewhere cannot slow its owner down (end users: many accounts, each worth little
    #: to an attacker). False: per identifier from any IP, so guesses spread over many
    #: addresses still meet one brake (the portal: few people, each worth much).
    identifier_per_ip: bool = True


class LoginThrottle:
    """The two sign-in counters, per identifier and per IP, over a store: the one
    throttle of end users' logins (and of the password check before a change) and of
    the portal's sign-in, configured per use by ``LoginLimits``. Identifiers are
    keyed-hashed before they become keys, so Redis never holds an email address or
    phone number."""

    def __init__(
        self,
        store: ThrottleStore,
        secret_key: str,
        limits: LoginLimits | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.limits = limits or LoginLimits()
        self._key = secret_key
        self._now = now

    def _keys(self, realm: str, identifier: str, ip: str | None) -> tuple[str, str]:
        limits, where = self.limits, ip or "-"
        hashed = secrets_.keyed_hash(self._key, "throttle", limits.prefix, realm, identifier)
        account = f"{limits.prefix}a:{hashed[:40]}"
        if limits.identifier_per_ip:
            account = f"{account}:{where}"
        return account, f"{limits.prefix}i:{where}"

    async def attempt(self, realm: str, identifier: str, ip: str | None) -> int:
        """Count one attempt; return 0 if it may go on, else the seconds to wait (at
        least 1). ``realm``: where ``identifier`` names one person: the pool's id for end
        users, ``""`` for the portal, whose people are one realm."""
        account, address = self._keys(realm, identifier, ip)
        limits = [Limit(account, self.limits.per_identifier), Limit(address, self.limits.per_ip)]
        wait = await self.store.acquire(limits, float(self._now()))
        return max(1, math.ceil(wait)) if wait > 0 else 0

    async def succeeded(self, realm: str, identifier: str, ip: str | None) -> None:
        """A success clears the identifier's counter and gives its count on the IP's
        back, so only failures stay counted there."""
        account, address = self._keys(realm, identifier, ip)
        await self.store.reset(account)
        await self.store.give_back(address)

    async def close(self) -> None:
        await self.store.close()


def make_store(redis_url: str) -> ThrottleStore:
    """Redis when ``redis_url`` is set, else this process's memory."""
    return RedisStore.from_url(redis_url) if redis_url else MemoryStore()
