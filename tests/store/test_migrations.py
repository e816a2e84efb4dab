"""Migrations run on an empty database (both engines) and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

import tcam_bridge.inbox.models  # noqa: F401  (its tables share the metadata and migrations)
from tcam_bridge.risklog.db import VERSION_TABLE, make_engine, upgrade
from tcam_bridge.risklog.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_run_on_an_empty_database(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade(empty_url)
        await upgrade(empty_url)  # again: nothing to do, no error
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {
                "flags",
                "flag_reviews",
                "processed_events",
                "users",
                "inbox_referrals",
                "inbox_events",
                "inbox_outbox",
                VERSION_TABLE,
            }
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
