"""Inbox fixtures: every test runs on SQLite (a temp file) and, when ``TCAM_TEST_POSTGRES_URL``
is set, on PostgreSQL too (a throwaway database, as in ``tests/store``)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tcam_bridge.inbox.store import Inbox
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tests.store.conftest import PostgresServer, _postgres_url, _unavailable

ROOT = Path(__file__).resolve().parents[2]
REFERRAL_01 = json.loads(
    (
        ROOT / "schemas" / "examples" / "outputs" / "01-warfarin-stopped-dabigatran-started"
        ".referral.json"
    ).read_text()
)
REFERRAL_ID_01 = "43c66449-19d2-5b59-8609-fc03d11ce8fd"
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
TABLES = ("inbox_events", "inbox_outbox", "inbox_referrals")


@pytest.fixture(scope="session")
async def inbox_postgres() -> AsyncIterator[str]:
    server = PostgresServer(_postgres_url())
    try:
        url = await server.create()
    except Exception as exc:
        _unavailable(f"cannot connect ({type(exc).__name__})")
    await upgrade(url)
    yield url
    await server.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def inbox_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
    url: str = request.getfixturevalue("inbox_postgres")
    return url


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    inbox: Inbox

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


@pytest.fixture
async def db(inbox_url: str) -> AsyncIterator[Db]:
    """A migrated database with an empty inbox, on each backend."""
    engine = make_engine(inbox_url)
    if engine.dialect.name == "sqlite":
        await upgrade(inbox_url)
    else:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    try:
        yield Db(inbox_url, engine, Inbox(sessions(engine)))
    finally:
        await engine.dispose()


def make_referral(
    referral_id: str = REFERRAL_ID_01,
    *,
    pharmacy: str = "FA5T2",
    trust: str = "RR8",
    due: datetime | None = None,
) -> dict[str, Any]:
    """Example 01's referral with the given id, pharmacy, trust and Stage 1 deadline."""
    bundle: dict[str, Any] = copy.deepcopy(REFERRAL_01)
    due = due or NOW + timedelta(hours=72)
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] == "MessageHeader":
            r["sender"]["identifier"]["value"] = trust
            r["focus"] = [{"reference": f"urn:uuid:{referral_id}"}]
        elif r["resourceType"] == "ServiceRequest" and r["id"] == REFERRAL_ID_01:
            entry["fullUrl"] = f"urn:uuid:{referral_id}"
            r["id"] = referral_id
            r["identifier"][0]["value"] = referral_id
            r["performer"] = [
                {"identifier": {**r["performer"][0]["identifier"], "value": pharmacy}}
            ]
        elif r["resourceType"] == "Task":
            r["identifier"][0]["value"] = referral_id
            r["owner"]["identifier"]["value"] = pharmacy
            r["restriction"]["period"]["end"] = due.isoformat()
    return bundle
