"""A database outage under the risk-log consumer: events wait (or are retried and nacked), their
offsets are not committed while the database refuses writes, and once it is back every event's
flags are in the risk log exactly once.

The outage is real from the consumer's side: another connection holds the write lock (SQLite
``BEGIN EXCLUSIVE``; PostgreSQL ``LOCK TABLE flags IN ACCESS EXCLUSIVE MODE``), so the
consumer's transaction cannot commit. Nothing in the service is patched.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr
from sqlalchemy import make_url, text

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.service import build_risklog
from tcam_bridge.risklog.store import RiskLog
from tests.integration.conftest import EXAMPLES, Flow, settings_for, start_flow
from tests.integration.faults import end_offsets as fault_end_offsets
from tests.integration.faults import write_artifact

pytestmark = pytest.mark.integration

Rows = Counter[tuple[str, str]]  # (message_id, rule_id) -> number of flags
PG_URL = os.environ.get("TCAM_TEST_POSTGRES_URL")


def fresh(name: str) -> bytes:
    """An example under a new message id, so it is a new message with its own findings event."""
    raw = (EXAMPLES / name).read_bytes()
    old = json.loads(raw)["identifier"]["value"]
    return raw.replace(old.encode(), str(uuid.uuid4()).encode())


def expected(findings: dict[str, dict[str, Any]], message_ids: set[str]) -> Rows:
    return Counter(
        (mid, f["rule_id"])
        for mid, event in findings.items()
        if mid in message_ids
        for f in event.get("findings", [])
    )


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s")
        await asyncio.sleep(0.1)


class Outage(Protocol):
    async def start(self) -> None: ...
    async def rows(self) -> Rows: ...  # readable while the outage lasts
    async def disrupt(self) -> None: ...  # break the consumer's connections, if possible
    async def end(self) -> None: ...


class SqliteLock:
    """A second connection holding SQLite's write lock: writers get 'database is locked'."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)

    async def start(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")

    async def rows(self) -> Rows:
        return Counter(
            (m, r) for m, r in self.conn.execute("SELECT message_id, rule_id FROM flags")
        )

    async def disrupt(self) -> None:
        """SQLite has no server connections to break: writers keep waiting for the lock."""

    async def end(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class PostgresLock:
    """A second connection holding ACCESS EXCLUSIVE on ``flags``: the consumer's insert waits."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None

    async def start(self) -> None:
        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.execute("BEGIN; LOCK TABLE flags IN ACCESS EXCLUSIVE MODE")

    async def rows(self) -> Rows:
        records = await self.conn.fetch("SELECT message_id, rule_id FROM flags")
        return Counter((r["message_id"], r["rule_id"]) for r in records)

    async def disrupt(self) -> None:
        """Kill every other backend on the database: the waiting writes fail and are retried."""
        await self.conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    async def end(self) -> None:
        await self.conn.execute("ROLLBACK")
        await self.conn.close()


@dataclass
class Sink:
    url: str
    outage: Callable[[], Outage]
    kind: str


@pytest.fixture(params=["sqlite", "postgres"])
async def sink(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sink]:
    if request.param == "sqlite":
        path = tmp_path / "risklog.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        yield Sink(url, lambda: SqliteLock(path), "sqlite")
        return
    if not PG_URL:
        pytest.skip("TCAM_TEST_POSTGRES_URL is not set")
    base = make_url(PG_URL)
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"tcam_outage_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        dsn = base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        await upgrade(url)
        yield Sink(url, lambda: PostgresLock(dsn), "postgres")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets, read without joining the group (no rebalance)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = await consumer._client._wait_on_metadata(topic)
        done = {p: await consumer.committed(TopicPartition(topic, p)) for p in parts}
    finally:
        await consumer.stop()
    return {p: offset for p, offset in done.items() if offset is not None}


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            parts = await consumer._client._wait_on_metadata(topic)
        # High watermarks, not ListOffsets: see faults.end_offsets (a tansu quirk with batches).
        ends = await fault_end_offsets(bootstrap, [TopicPartition(topic, p) for p in parts])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items() if offset > 0}


async def test_a_database_outage_delays_the_risk_log_but_loses_and_repeats_nothing(
    embedded: EmbeddedBroker, sink: Sink
) -> None:
    group = f"risklog-{uuid.uuid4().hex[:8]}"
    settings = settings_for(
        embedded,
        database_url=SecretStr(sink.url),
        risklog_group=group,
        max_attempts=2,
        retry_backoff_ms=50,
    )
    bootstrap, topic = settings.bootstrap_servers, settings.topic_findings
    engine = make_engine(sink.url)
    flow: Flow | None = None
    consumer = None
    stop = asyncio.Event()
    reader: asyncio.Task[None] | None = None
    outage: Outage | None = None
    try:
        flow, stop, reader = await start_flow(settings)
        logs.configure("WARNING", "json")
        consumer = build_risklog(
            settings, RiskLog(sessions(engine)), logger=logs.get_logger("test.risklog")
        )
        await consumer.start()
        out = flow.outputs

        async def rows() -> Rows:
            async with engine.connect() as conn:
                result = await conn.execute(text("SELECT message_id, rule_id FROM flags"))
                return Counter((m, r) for m, r in result.all())

        async def send(names: list[str]) -> set[str]:
            ids = set()
            for name in names:
                raw = fresh(name)
                await flow.send(raw)
                ids.add(json.loads(raw)["identifier"]["value"])

            async def published() -> bool:
                return ids <= out.findings.keys()

            await wait_until(published)
            return ids

        async def all_committed() -> bool:
            ends = await end_offsets(bootstrap, topic)
            done = await committed(bootstrap, group, topic)
            return all(done.get(p, -1) == end for p, end in ends.items())

        # Before: the database works; events are written and committed.
        before = await send(
            ["01-warfarin-stopped-dabigatran-started.json", "05-consent-not-recorded.json"]
        )
        want_before = expected(out.findings, before)
        assert sum(want_before.values()) > 0

        async def before_written() -> bool:
            return await rows() == want_before

        await wait_until(before_written)
        await wait_until(all_committed)
        committed_before = await committed(bootstrap, group, topic)

        # Outage: writes cannot commit while another connection holds the lock.
        outage = sink.outage()
        await outage.start()
        during = await send(
            [
                "10-two-anticoagulants-on-discharge.json",
                "01-warfarin-stopped-dabigatran-started.json",
                "03-ramipril-dose-increased.json",
            ]
        )
        want_during = expected(out.findings, during)
        assert sum(want_during.values()) > 0
        await asyncio.sleep(2)  # the consumer has them by now, and waits on the lock
        for _ in range(3):  # PostgreSQL: failed writes, retried with backoff, then nacked
            await outage.disrupt()
            await asyncio.sleep(0.7)
        assert await outage.rows() == want_before  # none of theirs written
        assert await committed(bootstrap, group, topic) == committed_before  # none acked
        ends = await end_offsets(bootstrap, topic)
        assert any(committed_before.get(p, 0) < end for p, end in ends.items())
        await outage.end()
        outage = None

        # After: every event written exactly once, offsets committed, the consumer still serves.
        async def all_written() -> bool:
            return await rows() == want_before + want_during

        await wait_until(all_written)
        await wait_until(all_committed)
        after = await send(["10-two-anticoagulants-on-discharge.json"])
        want_after = expected(out.findings, after)

        async def still_running() -> bool:
            return await rows() == want_before + want_during + want_after

        await wait_until(still_running)
        await asyncio.sleep(1)
        final = await rows()
        write_artifact(
            f"sink-outage-{sink.kind}.json",
            {
                "sink": sink.kind,
                "findings_events": len(before) + len(during) + len(after),
                "flag_rows_expected": sum((want_before + want_during + want_after).values()),
                "flag_rows_written": sum(final.values()),
                "flag_rows_sent_during_outage": sum(want_during.values()),
                "rows_repeated": sum(n - 1 for n in final.values() if n > 1),
            },
        )
        assert final == want_before + want_during + want_after  # no row lost or repeated
    finally:
        if outage is not None:
            await outage.end()
        if consumer is not None:
            await consumer.stop()
        if flow is not None:
            await flow.pipeline.stop()
        stop.set()
        if reader is not None:
            await reader
        await engine.dispose()
