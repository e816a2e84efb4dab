"""Alembic environment of the risk log (async).

``tcam_bridge.risklog.db.upgrade`` passes an open connection in ``config.attributes``; run from
the ``alembic`` command line instead, the URL comes from ``-x url=...`` or ``TCAM_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from tcam_bridge.risklog.db import VERSION_TABLE, make_engine
from tcam_bridge.risklog.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_with)
    finally:
        await engine.dispose()


def run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        run_with(shared)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "TCAM_DATABASE_URL", "sqlite+aiosqlite:///./tcam-bridge.db"
    )
    if context.is_offline_mode():
        run_offline(url)
    else:
        asyncio.run(run_async(url))


main()
