"""The risk log on the real broker: pipeline -> findings topic -> risk-log consumer -> SQLite.

Offsets are committed only after the flags are in the database, and a redelivered event adds
no row.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.adapters.kafka_config import broker_options
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.replay import Replay, topic_range
from tcam_bridge.risklog.service import build_risklog
from tcam_bridge.risklog.store import FlagQuery, RiskLog, Scope
from tcam_bridge.settings import Settings
from tests.integration.conftest import EXAMPLES, settings_for, start_flow

pytestmark = pytest.mark.integration

ALL = Scope(None)
EXAMPLE_01 = (EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes()
EXAMPLE_10 = (EXAMPLES / "10-two-anticoagulants-on-discharge.json").read_bytes()
FINDINGS_01 = json.loads(
    (EXAMPLES / "outputs" / "01-warfarin-stopped-dabigatran-started.findings.json").read_text()
)


class Recording(RiskLog):
    """The real risk log, noting what each call to ``record`` returned (or raised)."""

    def __init__(self, *args: Any, fail: bool = False) -> None:
        super().__init__(*args)
        self.calls: list[int | str] = []
        self.fail = fail

    async def record(
        self, event: Mapping[str, Any], received_at: datetime, *, source: str = "live"
    ) -> int:
        if self.fail:
            self.calls.append("failed")
            raise ConnectionError("database unavailable")
        inserted = await super().record(event, received_at, source=source)
        self.calls.append(inserted)
        return inserted


@dataclass
class Store:
    url: str
    engine: AsyncEngine
    risklog: RiskLog

    def recording(self, *, fail: bool = False) -> Recording:
        return Recording(sessions(self.engine), fail=fail)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'risklog.db'}"
    await upgrade(url)
    engine = make_engine(url)
    yield Store(url, engine, RiskLog(sessions(engine)))
    await engine.dispose()


async def start_consumer(
    settings: Settings, risklog: RiskLog, log_stream: io.StringIO | None = None
) -> KafkaBroker:
    logs.configure("INFO" if log_stream else "WARNING", "json", log_stream)
    broker = build_risklog(settings, risklog, logger=logs.get_logger("test.risklog"))
    await broker.start()
    return broker


async def wait_until(predicate: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s")
        await asyncio.sleep(0.1)


async def test_findings_flow_into_the_risk_log_once(embedded: EmbeddedBroker, store: Store) -> None:
    settings = settings_for(
        embedded,
        database_url=SecretStr(store.url),
        risklog_group=f"risklog-{uuid.uuid4().hex[:8]}",
    )
    flow, stop, reader = await start_flow(settings)
    risklog = store.recording()
    consumer = await start_consumer(settings, risklog)
    try:

        async def total() -> int:
            return (await store.risklog.list_flags(FlagQuery(), ALL)).total

        await flow.send(EXAMPLE_01)
        await flow.send(EXAMPLE_10)

        async def three_rows() -> bool:
            return await total() == 3

        await wait_until(three_rows)
        page = await store.risklog.list_flags(FlagQuery(), ALL)
        assert sorted((f.trust_ods, f.rule_id) for f in page.items) == [
            ("RR8", "TCAM_DUP_ANTICOAG"),
            ("RR8", "TCAM_STOPPED_HIGH_RISK"),
            ("RTH", "TCAM_DUP_ANTICOAG"),
        ]
        assert all(f.nhs_number.isdigit() and f.status == "new" for f in page.items)

        await flow.send(EXAMPLE_01)  # re-sent: the pipeline repeats the same event_id

        async def third_event_seen() -> bool:
            return len(risklog.calls) >= 3

        await wait_until(third_event_seen)
        assert sorted(c for c in risklog.calls if isinstance(c, int)) == [0, 1, 2]
        assert risklog.calls[-1] == 0
        await asyncio.sleep(1)
        assert await total() == 3
    finally:
        await consumer.stop()
        await flow.pipeline.stop()
        stop.set()
        await reader


async def test_an_event_is_redelivered_until_it_is_written(
    embedded: EmbeddedBroker, store: Store
) -> None:
    settings = settings_for(
        embedded,
        database_url=SecretStr(store.url),
        risklog_group=f"risklog-{uuid.uuid4().hex[:8]}",
        max_attempts=2,
        retry_backoff_ms=20,
    )
    event_05 = json.loads(
        (EXAMPLES / "outputs" / "05-consent-not-recorded.findings.json").read_text()
    )
    risklog = store.recording()
    first = await start_consumer(settings, risklog)
    try:
        await first.publish(json.dumps(event_05).encode(), settings.topic_findings, key=b"m-05")

        async def first_event_written() -> bool:
            return risklog.calls == [0]

        await wait_until(first_event_written)  # written, so committed
        risklog.fail = True  # the database goes away
        await first.publish(json.dumps(FINDINGS_01).encode(), settings.topic_findings, key=b"m-01")

        async def retried_and_redelivered() -> bool:
            return risklog.calls.count("failed") >= 4  # 2 attempts, nack, redelivered, 2 more

        await wait_until(retried_and_redelivered)
    finally:
        await first.stop()  # stopped before the write of event 01 succeeded
    assert (await store.risklog.list_flags(FlagQuery(), ALL)).total == 0

    working = store.recording()
    second = await start_consumer(settings, working)  # same group: resumes after event 05
    try:

        async def written() -> bool:
            return working.calls == [2]

        await wait_until(written)
        await asyncio.sleep(1)
        assert working.calls == [2]  # event 01 only: event 05 was committed, not redelivered
    finally:
        await second.stop()
    assert (await store.risklog.list_flags(FlagQuery(), ALL)).total == 2


async def test_a_malformed_event_is_skipped_not_retried(
    embedded: EmbeddedBroker, store: Store
) -> None:
    settings = settings_for(
        embedded,
        database_url=SecretStr(store.url),
        risklog_group=f"risklog-{uuid.uuid4().hex[:8]}",
    )
    third = store.recording()
    captured = io.StringIO()
    again = await start_consumer(settings, third, captured)
    try:
        # One key, so one partition: event 05 is read after the two malformed events.
        await again.publish(b"not json at all", settings.topic_findings, key=b"k")
        broken = dict(FINDINGS_01, event_id="another-event", discharge_date="18/11/2026")
        await again.publish(json.dumps(broken).encode(), settings.topic_findings, key=b"k")
        event_05 = json.loads(
            (EXAMPLES / "outputs" / "05-consent-not-recorded.findings.json").read_text()
        )
        await again.publish(json.dumps(event_05).encode(), settings.topic_findings, key=b"k")

        async def later_event_written() -> bool:
            return third.calls == [0]

        await wait_until(later_event_written)  # malformed events were skipped, not retried
        await asyncio.sleep(1)
        assert third.calls == [0]
    finally:
        await again.stop()
    assert (await store.risklog.list_flags(FlagQuery(), ALL)).total == 0
    records = [json.loads(line) for line in captured.getvalue().splitlines() if line]
    malformed = [r for r in records if r["event"] == "findings_event_malformed"]
    assert [(r["level"], r["reason"]) for r in malformed] == [
        ("error", "the value is not JSON"),
        ("error", "discharge_date is not a YYYY-MM-DD date"),
    ]
    assert malformed[1]["event_id"] == "another-event"
    text = captured.getvalue()
    assert "9994027611" not in text and "18/11/2026" not in text  # ids only, never patient data


async def test_replay_reads_a_topic_range(embedded: EmbeddedBroker, store: Store) -> None:
    settings = settings_for(embedded, database_url=SecretStr(store.url))
    broker = KafkaBroker(**broker_options(settings))
    async with broker:
        await broker.start()
        offsets = []
        for raw in (
            EXAMPLE_01,
            (EXAMPLES / "03-ramipril-dose-increased.json").read_bytes(),
            EXAMPLE_10,
        ):
            meta = await broker.publish(raw, settings.topic_discharge, key=b"one-partition")
            offsets.append((meta.partition, meta.offset))
    (partition,) = {p for p, _ in offsets}
    first, last = offsets[0][1], offsets[-1][1]
    config = core_config(settings, datetime.now(UTC).date())

    run = Replay(config, now=lambda: datetime.now(UTC), risklog=store.risklog, label="range")
    async for _offset, key, value in topic_range(
        settings,
        settings.topic_discharge,
        partition,
        first,
        last + 100,  # past the end: stops
    ):
        assert key == b"one-partition"
        await run.feed(value, key)
    assert (run.tally.messages, run.tally.accepted) == (3, 3)
    assert run.tally.findings == {"TCAM_DUP_ANTICOAG": 2, "TCAM_STOPPED_HIGH_RISK": 1}
    assert run.tally.recorded == 3
    replayed = await store.risklog.list_flags(FlagQuery(source="replay:range"), ALL)
    assert replayed.total == 3
    assert (await store.risklog.list_flags(FlagQuery(), ALL)).total == 0  # live log untouched

    middle = [
        o
        async for o, _, _ in topic_range(
            settings, settings.topic_discharge, partition, first + 1, first + 1
        )
    ]
    assert middle == [first + 1]
