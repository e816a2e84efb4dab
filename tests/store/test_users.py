"""Local accounts: Argon2 hashes, verification, scope."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher

from tcam_bridge.risklog.store import Scope
from tcam_bridge.risklog.users import User, UserExists, Users
from tests.store.conftest import Db

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


async def test_add_and_verify(db: Db) -> None:
    users = Users(db.sessions, FAST)
    lead = await users.add("Alice", "correct horse battery", "safety-lead", {"rr8", "RX1"})
    assert lead == User("alice", "safety-lead", frozenset({"RR8", "RX1"}), None)
    assert await users.verify("alice", "correct horse battery") == lead
    assert await users.verify(" ALICE ", "correct horse battery") == lead
    assert await users.get("alice") == lead
    assert lead.scope == Scope(frozenset({"RR8", "RX1"}))
    (stored,) = await db.rows("SELECT password_hash FROM users")
    assert str(stored[0]).startswith("$argon2id$") and "horse" not in str(stored[0])


class SpyHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checked: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.checked.append(str(hash))
        return super().verify(hash, password)


async def test_wrong_password_and_unknown_user(db: Db) -> None:
    hasher = SpyHasher()
    users = Users(db.sessions, hasher)
    await users.add("bob", "s3cret-passphrase", "admin")
    assert await users.verify("bob", "wrong") is None
    assert await users.verify("bob", "") is None
    hasher.checked.clear()
    assert await users.verify("nobody", "s3cret-passphrase") is None
    assert await users.get("nobody") is None
    # An unknown user costs a hash check too, so timing does not reveal who exists.
    assert len(hasher.checked) == 1 and hasher.checked[0].startswith("$argon2")


async def test_roles_and_scopes_are_checked(db: Db) -> None:
    users = Users(db.sessions, FAST)
    admin = await users.add("root", "pw-admin-123", "admin")
    assert admin.scope == Scope(None)
    pharmacist = await users.add("pat", "pw-pharm-123", "pharmacist", pharmacy_ods="fa5t2")
    assert pharmacist.pharmacy_ods == "FA5T2"
    with pytest.raises(ValueError, match="role"):
        await users.add("eve", "pw", "superuser")
    with pytest.raises(ValueError, match="trust"):
        await users.add("eve", "pw", "safety-lead")
    with pytest.raises(ValueError, match="pharmacy"):
        await users.add("eve", "pw", "pharmacist")
    with pytest.raises(UserExists):
        await users.add("ROOT", "another", "admin")


async def test_an_outdated_hash_is_upgraded_on_login(db: Db) -> None:
    await Users(db.sessions, FAST).add("carol", "pw-carol-123", "admin")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    users = Users(db.sessions, stronger)
    assert await users.verify("carol", "pw-carol-123") is not None
    (stored,) = await db.rows("SELECT password_hash FROM users")
    assert not stronger.check_needs_rehash(str(stored[0]))
