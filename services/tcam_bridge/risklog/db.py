"""Engine, sessions and migrations of the risk log (SQLite by default, or PostgreSQL).

Migrations are Alembic scripts packaged in ``tcam_bridge/risklog/migrations``; :func:`upgrade`
runs them programmatically, so no ``alembic.ini`` is needed. The version table is
``risklog_alembic_version``, so other stores may keep their own migrations in the same database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "risklog_alembic_version"
SQLITE_BUSY_SECONDS = 30.0


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite:///FILE`` or ``postgresql+asyncpg://...``.

    SQLite connections get foreign keys on, WAL journaling (readers do not block the writer)
    and a busy timeout, so concurrent writers wait for the lock instead of failing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    finally:
        cursor.close()


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


async def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the latest migration (safe to run on every start)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Two services starting together must not both create the tables.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7305221001)")
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
