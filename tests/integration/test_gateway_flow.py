"""The pharmacy gateway on the real broker: pipeline -> pharmacy topic -> gateway -> inbox
(SQLite), then a pharmacist's action -> outbox -> relay -> status topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.inbox.service import build_gateway, pharmacy_pattern
from tcam_bridge.inbox.store import Action, ActionInput, Inbox, Scope, TaskStatus
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tests.integration.conftest import EXAMPLES, settings_for, start_flow

pytestmark = pytest.mark.integration

EXAMPLE_01 = (EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes()


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s")
        await asyncio.sleep(0.1)


def test_the_pattern_matches_pharmacy_topics_only() -> None:
    import re

    pattern = re.compile(pharmacy_pattern("tcam.pharmacy.{ods}.referrals.v1"))
    assert pattern.match("tcam.pharmacy.FA5T2.referrals.v1")
    assert not pattern.match("tcam.pharmacy.FA5T2.referrals.v2")
    assert not pattern.match("tcam.referrals.unrouted.v1")
    assert not pattern.match("tcamXpharmacy.FA5T2.referrals.v1")


async def test_a_referral_reaches_the_inbox_and_its_acceptance_the_status_topic(
    embedded: EmbeddedBroker, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
    await upgrade(url)
    engine = make_engine(url)
    inbox = Inbox(sessions(engine))
    run = uuid.uuid4().hex[:8]
    settings = settings_for(
        embedded,
        database_url=SecretStr(url),
        gateway_group=f"gateway-{run}",
        topic_status=f"t{run}.referral.status.v1",
    )
    flow, stop, reader = await start_flow(settings)
    broker, relay = build_gateway(settings, inbox, logger=logs.get_logger("test.gateway"))
    await broker.start()
    relaying = asyncio.create_task(relay())
    try:
        await flow.send(EXAMPLE_01)

        async def received() -> bool:
            return len(await inbox.list(Scope(pharmacy_ods="FA5T2"))) == 1

        await wait_until(received)
        [summary] = await inbox.list(Scope(pharmacy_ods="FA5T2"))
        assert summary.status == TaskStatus.RECEIVED and summary.trust_ods == "RR8"
        assert await inbox.list(Scope(pharmacy_ods="FHM73")) == ()
        referral_id = summary.referral_id

        detail = await inbox.act(
            referral_id,
            ActionInput(Action.ACCEPT),
            "pharmacist-fa5t2",
            summary.received_at,
            Scope(pharmacy_ods="FA5T2"),
        )
        assert detail.summary.status == TaskStatus.ACCEPTED

        async def relayed() -> bool:
            return await inbox.pending_status_updates() == []

        await wait_until(relayed)

        consumer = AIOKafkaConsumer(
            settings.topic_status,
            bootstrap_servers=settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        updates: list[tuple[bytes | None, dict[str, object], dict[str, bytes]]] = []
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while len(updates) < 2 and asyncio.get_running_loop().time() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    updates += [(r.key, json.loads(r.value), dict(r.headers)) for r in records]
        finally:
            await consumer.stop()
        assert [task["status"] for _, task, _ in updates] == ["received", "accepted"]
        key, accepted, headers = updates[-1]
        assert key == referral_id.encode()
        assert headers["content-type"] == b"application/fhir+json"
        assert accepted["statusReason"]["coding"][0]["code"] == "30016"  # type: ignore[index]
    finally:
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)
        await broker.stop()
        await flow.pipeline.stop()
        stop.set()
        await reader
        await engine.dispose()
