"""Store fixtures: every store test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL runs when ``TCAM_TEST_POSTGRES_URL`` is set (e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). The tests never touch that database's
tables: a fresh database is created per test session (and one more per migration test) and
dropped at the end; tables are truncated between tests. Without the URL the PostgreSQL cases are
skipped, unless ``TCAM_TEST_POSTGRES_REQUIRED=1``: then a missing or unreachable server fails.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.store import RiskLog
from tcam_bridge.risklog.users import Users

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ROOT / "schemas" / "examples" / "outputs"
EXAMPLE_01 = json.loads(
    (OUTPUTS / "01-warfarin-stopped-dabigatran-started.findings.json").read_text()
)
EXAMPLE_05 = json.loads((OUTPUTS / "05-consent-not-recorded.findings.json").read_text())
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
TABLES = ("flag_reviews", "flags", "processed_events", "users")


def _postgres_url() -> str:
    url = os.environ.get("TCAM_TEST_POSTGRES_URL")
    if not url:
        _unavailable("TCAM_TEST_POSTGRES_URL is not set")
    assert url is not None
    return url


def _unavailable(why: str) -> None:
    if os.environ.get("TCAM_TEST_POSTGRES_REQUIRED") == "1":
        pytest.fail(f"PostgreSQL is required (TCAM_TEST_POSTGRES_REQUIRED=1): {why}")
    pytest.skip(f"PostgreSQL tests skipped: {why}")


class PostgresServer:
    """Creates and drops throwaway databases on the server named by the test URL."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.created: list[str] = []

    async def _admin(self) -> AsyncEngine:
        return make_engine(self.url.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT"
        )

    async def create(self) -> str:
        name = f"tcam_store_{uuid.uuid4().hex[:12]}"
        engine = await self._admin()
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        engine = await self._admin()
        try:
            async with engine.connect() as conn:
                for name in self.created:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PostgresServer]:
    server = PostgresServer(_postgres_url())
    try:
        engine = await server._admin()
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
    except Exception as exc:
        _unavailable(f"cannot connect ({type(exc).__name__})")
    yield server
    await server.drop_all()


@pytest.fixture(scope="session")
async def postgres_db(postgres: PostgresServer) -> str:
    """One migrated database for the session's PostgreSQL store tests."""
    url = await postgres.create()
    await upgrade(url)
    return url


# Parametrized fixtures are sync: they pick the backend (pulling the session's PostgreSQL
# fixtures with getfixturevalue, which cannot be done from inside a running event loop); the
# async fixtures below then use it.


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | PostgresServer:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server


@pytest.fixture
async def empty_url(empty_target: str | PostgresServer) -> str:
    """The URL of a database with no tables at all."""
    if isinstance(empty_target, str):
        return empty_target
    return await empty_target.create()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'risklog.db'}"
    url: str = request.getfixturevalue("postgres_db")
    return url


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    risklog: RiskLog
    users: Users

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


@pytest.fixture
async def db(backend_url: str) -> AsyncIterator[Db]:
    """A migrated, empty risk log on each backend."""
    engine = make_engine(backend_url)
    if engine.dialect.name == "sqlite":
        await upgrade(backend_url)
    else:  # the session's database, migrated once: empty it
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    maker = sessions(engine)
    try:
        yield Db(backend_url, engine, maker, RiskLog(maker), Users(maker))
    finally:
        await engine.dispose()


def make_event(
    *,
    trust: str = "RR8",
    message_id: str | None = None,
    discharge: date = date(2026, 11, 18),
    pharmacy: str | None = "FA5T2",
    nhs_number: str = "9994027611",
    findings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A findings event like example 01, with the given identity and findings."""
    event: dict[str, Any] = copy.deepcopy(EXAMPLE_01)
    message_id = message_id or str(uuid.uuid4())
    event.update(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{trust}|{message_id}")),
        message_id=message_id,
        trust_ods=trust,
        pharmacy_ods=pharmacy,
        nhs_number=nhs_number,
        discharge_date=discharge.isoformat(),
    )
    if findings is not None:
        event["findings"] = findings
    return event


def finding(
    rule_id: str = "TCAM_DUP_ANTICOAG", severity: str = "high", **extra: Any
) -> dict[str, Any]:
    base: dict[str, Any] = copy.deepcopy(EXAMPLE_01["findings"][0])
    base.update(rule_id=rule_id, severity=severity, **extra)
    return base
