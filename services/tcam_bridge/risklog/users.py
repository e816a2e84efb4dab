"""Local accounts for the embedded default (production may authenticate with OIDC instead).

Passwords are hashed with Argon2id (argon2-cffi). Verifying an unknown user costs the same hash
as a known one, so the time taken does not reveal which user names exist. Hashing runs in a
worker thread, so the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tcam_bridge.risklog.models import UserAccount
from tcam_bridge.risklog.store import Scope

ROLES = ("safety-lead", "admin", "pharmacist", "hospital-pharmacy")


@dataclass(frozen=True)
class User:
    username: str
    role: str  # "safety-lead" | "admin" | "pharmacist" | "hospital-pharmacy"
    trusts: frozenset[str]
    pharmacy_ods: str | None

    @property
    def scope(self) -> Scope:
        """What this user may see of the risk log: an admin every trust, others their own."""
        return Scope(None) if self.role == "admin" else Scope(self.trusts)


class UserExists(ValueError):
    pass


class Users:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], hasher: PasswordHasher | None = None
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    async def add(
        self,
        username: str,
        password: str,
        role: str,
        trusts: Iterable[str] = frozenset(),
        pharmacy_ods: str | None = None,
    ) -> User:
        """Create an account. Raises ValueError for a bad role or scope, UserExists if taken."""
        name = _normal(username)
        if not name:
            msg = "the user name is empty"
            raise ValueError(msg)
        if role not in ROLES:
            msg = f"role must be one of {', '.join(ROLES)}"
            raise ValueError(msg)
        if not password:
            msg = "the password is empty"
            raise ValueError(msg)
        codes = frozenset(t.strip().upper() for t in trusts if t.strip())
        pharmacy = pharmacy_ods.strip().upper() if pharmacy_ods else None
        if role in ("safety-lead", "hospital-pharmacy") and not codes:
            msg = f"a {role} account needs at least one trust ODS code"
            raise ValueError(msg)
        if role == "pharmacist" and not pharmacy:
            msg = "a pharmacist account needs its pharmacy ODS code"
            raise ValueError(msg)
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        try:
            async with self._sessions() as session, session.begin():
                session.add(
                    UserAccount(
                        username=name,
                        password_hash=hashed,
                        role=role,
                        trusts=sorted(codes),
                        pharmacy_ods=pharmacy,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise UserExists(f"user {name} already exists") from None
        return User(name, role, codes, pharmacy)

    async def get(self, username: str) -> User | None:
        async with self._sessions() as session:
            row = await session.get(UserAccount, _normal(username))
            return _user(row) if row else None

    async def verify(self, username: str, password: str) -> User | None:
        """The user, if the password is theirs; None otherwise (unknown user included)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(UserAccount).where(UserAccount.username == _normal(username))
                )
            ).scalar_one_or_none()
        if row is None:
            await self._check(await self._dummy(), password)  # same cost as a real check
            return None
        if not await self._check(row.password_hash, password):
            return None
        if self._hasher.check_needs_rehash(row.password_hash):
            rehashed = await asyncio.to_thread(self._hasher.hash, password)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(UserAccount)
                    .where(UserAccount.username == row.username)
                    .values(password_hash=rehashed)
                )
        return _user(row)

    async def _check(self, hashed: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(16))
        return self._dummy_hash


def _normal(username: str) -> str:
    return username.strip().lower()


def _user(row: UserAccount) -> User:
    return User(row.username, row.role, frozenset(row.trusts), row.pharmacy_ods)
