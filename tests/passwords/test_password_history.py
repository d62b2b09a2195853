"""Password history: the policy states the rule (help only), ``reused`` checks it against
stored hashes through the hashing pool, ``remember``/``recent_hashes`` keep the newest N
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from widget_server.clock import ManualClock
from widget_server.db import Database
from widget_server.models import Base, IdentitySchema, PasswordHistory, Pool, Tenant, User
from widget_server.passwords.hashing import Argon2Hasher, HashingPool
from widget_server.passwords.history import recent_hashes, remember, reused
from widget_server.passwords.policy import (
    MAX_HISTORY,
    NoReuse,
    PolicyConfig,
    build_policy,
    policy_from_config,
)

STRONG = "violet-harbour-77-lantern"


class CountingHasher(Argon2Hasher):
    """Real (cheap) argon2 that counts verifies, to see where ``reused`` stops."""

    def __init__(self) -> None:
        fast = Argon2Hasher.fast_for_tests()
        super().__init__(fast.time_cost, fast.memory_kib, fast.parallelism)
        self.verifies = 0

    def verify(self, hash: str, password: str) -> bool:
        self.verifies += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def hashing(hasher: CountingHasher) -> HashingPool:
    return HashingPool(hasher, slots=1)


# The policy states the rule -------------------------------------------------------------


def test_no_history_rule_by_default() -> None:
    policy = build_policy(PolicyConfig())
    assert policy.history == 0
    assert "password.help.history" not in [m.id for m in policy.help()]


def test_history_rule_is_listed_with_its_count() -> None:
    policy = policy_from_config({"history": 5})
    assert policy.history == 5
    [rule] = [m for m in policy.help() if m.id == "password.help.history"]
    assert rule.params == {"count": 5}
    assert rule.level == "info"


def test_history_rule_never_fails_validation_and_is_not_judged_live() -> None:
    policy = policy_from_config({"history": 3})
    assert policy.validate(STRONG) == []
    [result] = [r for r in policy.check(STRONG) if r.rule == "history"]
    assert result.live is False
    assert all(r.live for r in policy.check(STRONG) if r.rule != "history")


def test_reuse_error_names_the_count() -> None:
    message = NoReuse(4).reused()
    assert (message.id, message.params) == ("password.history", {"count": 4})


@pytest.mark.parametrize("history", [-1, MAX_HISTORY + 1, "5", True])
def test_history_out_of_range_is_refused(history: object) -> None:
    with pytest.raises(ValueError, match="history"):
        policy_from_config({"history": history})


def test_history_up_to_the_cap_is_accepted() -> None:
    assert policy_from_config({"history": MAX_HISTORY}).history == MAX_HISTORY


# reused ---------------------------------------------------------------------------------


async def test_reused_finds_a_match_and_stops_there(
    hasher: CountingHasher, hashing: HashingPool
) -> None:
    hashes = [hasher.hash(p) for p in ("first-password-1", STRONG, "third-password-3")]
    hasher.verifies = 0
    assert await reused(hashing, STRONG, hashes) is True
    assert hasher.verifies == 2


async def test_a_new_password_is_not_reused(hasher: CountingHasher, hashing: HashingPool) -> None:
    hashes = [hasher.hash(p) for p in ("first-password-1", "second-password-2")]
    hasher.verifies = 0
    assert await reused(hashing, STRONG, hashes) is False
    assert hasher.verifies == 2


async def test_no_history_means_no_work(hasher: CountingHasher, hashing: HashingPool) -> None:
    assert await reused(hashing, STRONG, []) is False
    assert hasher.verifies == 0


async def test_corrupt_or_foreign_hashes_count_as_no_match(
    hasher: CountingHasher, hashing: HashingPool
) -> None:
    good = hasher.hash(STRONG)
    assert await reused(hashing, STRONG, ["not-a-hash", "$argon2id$v=19$broken", good]) is True
    assert await reused(hashing, "other-password-9", ["not-a-hash", good]) is False


async def test_a_password_over_the_cap_is_never_hashed(
    hasher: CountingHasher, hashing: HashingPool
) -> None:
    hashes = [hasher.hash(STRONG)]
    hasher.verifies = 0
    assert await reused(hashing, "x" * 5000, hashes) is False
    assert hasher.verifies == 0


# remember / recent_hashes (SQLite and PostgreSQL) ----------------------------------------


@pytest.fixture
async def db(database_url: str, clock: ManualClock) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    now = clock.now()
    async with database.write() as session:
        session.add(Tenant(id="t", name="T", theme={}, created_at=now))
        session.add(
            IdentitySchema(
                id="s",
                tenant_id=None,
                name="S",
                kind="payload",
                body={},
                builtin=True,
                created_at=now,
            )
        )
        await session.flush()
        session.add(
            Pool(
                id="p",
                tenant_id="t",
                name="P",
                payload_schema_id="s",
                metadata_schema_id=None,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        for user_id in ("u1", "u2"):
            session.add(
                User(
                    id=user_id,
                    pool_id="p",
                    status="active",
                    created_at=now,
                    updated_at=now,
                    activated_at=now,
                    created_by=None,
                    deleted_at=None,
                )
            )
    try:
        yield database
    finally:
        await database.dispose()


async def _remember(
    db: Database, user_id: str, secret_hash: str, keep: int, clock: ManualClock
) -> None:
    async with db.write() as session:
        await remember(session, user_id, secret_hash, keep, clock.now())


async def _recent(db: Database, user_id: str, keep: int) -> list[str]:
    async with db.read() as session:
        return await recent_hashes(session, user_id, keep)


async def _stored(db: Database, user_id: str) -> set[str]:
    async with db.read() as session:
        rows = await session.execute(
            select(PasswordHistory.secret_hash).where(PasswordHistory.user_id == user_id)
        )
        return set(rows.scalars())


async def test_remember_keeps_the_newest_n(db: Database, clock: ManualClock) -> None:
    for n in range(1, 6):
        await _remember(db, "u1", f"hash-{n}", 3, clock)
        clock.advance(60)
    assert await _recent(db, "u1", 3) == ["hash-5", "hash-4", "hash-3"]
    assert await _stored(db, "u1") == {"hash-5", "hash-4", "hash-3"}


async def test_recent_hashes_are_newest_first_and_limited(db: Database, clock: ManualClock) -> None:
    for n in range(1, 5):
        await _remember(db, "u1", f"hash-{n}", 10, clock)
        clock.advance(1)
    assert await _recent(db, "u1", 2) == ["hash-4", "hash-3"]
    assert await _recent(db, "u1", 10) == ["hash-4", "hash-3", "hash-2", "hash-1"]
    assert await _recent(db, "u1", 0) == []


async def test_a_smaller_keep_prunes_on_the_next_change(db: Database, clock: ManualClock) -> None:
    for n in range(1, 6):
        await _remember(db, "u1", f"hash-{n}", 5, clock)
        clock.advance(1)
    await _remember(db, "u1", "hash-6", 2, clock)
    assert await _stored(db, "u1") == {"hash-6", "hash-5"}


async def test_keep_zero_deletes_all_and_stores_nothing(db: Database, clock: ManualClock) -> None:
    for n in range(1, 4):
        await _remember(db, "u1", f"hash-{n}", 5, clock)
    await _remember(db, "u1", "hash-4", 0, clock)
    assert await _stored(db, "u1") == set()


async def test_the_new_entry_survives_a_timestamp_tie(db: Database, clock: ManualClock) -> None:
    # The clock does not move: every entry has the same created_at.
    for n in range(1, 8):
        await _remember(db, "u1", f"hash-{n}", 2, clock)
        stored = await _stored(db, "u1")
        assert f"hash-{n}" in stored
        assert len(stored) == min(n, 2)


async def test_users_histories_are_separate(db: Database, clock: ManualClock) -> None:
    await _remember(db, "u1", "hash-a", 1, clock)
    await _remember(db, "u2", "hash-b", 1, clock)
    await _remember(db, "u2", "hash-c", 1, clock)
    assert await _stored(db, "u1") == {"hash-a"}
    assert await _stored(db, "u2") == {"hash-c"}


async def test_history_refuses_the_last_n_and_allows_older(
    db: Database, clock: ManualClock, hasher: CountingHasher, hashing: HashingPool
) -> None:
    policy = policy_from_config({"history": 3})
    passwords = [f"passphrase-number-{n}" for n in range(1, 6)]
    for password in passwords:
        await _remember(db, "u1", hasher.hash(password), policy.history, clock)
        clock.advance(30 * 86400)
    recent = await _recent(db, "u1", policy.history)
    assert await reused(hashing, passwords[-1], recent)  # the current one
    assert await reused(hashing, passwords[-3], recent)
    assert not await reused(hashing, passwords[-4], recent)  # four changes ago: allowed again
    assert not await reused(hashing, STRONG, recent)
