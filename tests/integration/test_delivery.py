"""At-least-once delivery: offsets are committed only after every output is on the broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.demo import message_id
from tcam_bridge.pipeline import app as pipeline_app
from tests.integration.conftest import EXAMPLES, settings_for, start_flow

pytestmark = pytest.mark.integration

RAW = (EXAMPLES / "03-ramipril-dose-increased.json").read_bytes()


async def test_nothing_is_committed_while_outputs_cannot_be_published(
    embedded: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(embedded, max_attempts=2, retry_backoff_ms=20)
    attempts = 0

    async def broker_refuses(broker: Any, record: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("broker unavailable")

    monkeypatch.setattr(pipeline_app, "_publish", broker_refuses)
    first, stop, reader = await start_flow(settings)
    position = await first.send(RAW)
    await first.wait_for(lambda: attempts >= 4)  # retried, nacked, redelivered, retried again
    await first.pipeline.stop()
    stop.set()
    await reader
    assert position not in first.outputs.acks

    monkeypatch.undo()
    second, stop, reader = await start_flow(settings)  # same group: resumes uncommitted input
    try:
        await second.wait_for(lambda: position in second.outputs.acks)
        await second.wait_for(lambda: message_id(RAW) in second.outputs.referrals)
        await asyncio.sleep(1)
        assert len(second.outputs.acks) == 1
    finally:
        await second.pipeline.stop()
        stop.set()
        await reader


async def test_a_transient_publish_failure_is_retried_and_delivered_once(
    embedded: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(embedded, max_attempts=3, retry_backoff_ms=20)
    real_publish = pipeline_app._publish
    failures = 0

    async def flaky(broker: Any, record: Any) -> None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise TimeoutError("request timed out")
        await real_publish(broker, record)

    monkeypatch.setattr(pipeline_app, "_publish", flaky)
    flow, stop, reader = await start_flow(settings)
    try:
        position = await flow.send(RAW)
        await flow.wait_for(lambda: position in flow.outputs.acks)
        await flow.wait_for(lambda: message_id(RAW) in flow.outputs.findings)
        await asyncio.sleep(1)
        assert failures == 2
        assert len(flow.outputs.acks) == 1
        assert flow.outputs.acks[position]["entry"][0]["resource"]["response"]["code"] == "ok"
    finally:
        await flow.pipeline.stop()
        stop.set()
        await reader


async def test_committed_messages_are_not_processed_again_after_a_restart(
    embedded: EmbeddedBroker,
) -> None:
    settings = settings_for(embedded)
    first, stop, reader = await start_flow(settings)
    one = await first.send(RAW)
    await first.wait_for(lambda: one in first.outputs.acks)
    await first.pipeline.stop()
    stop.set()
    await reader

    second, stop, reader = await start_flow(settings)
    try:
        two = await second.send((EXAMPLES / "11-no-changes-not-referred.json").read_bytes())
        await second.wait_for(lambda: two in second.outputs.acks)
        await asyncio.sleep(1)
        assert set(second.outputs.acks) == {one, two}  # the first was not answered twice
    finally:
        await second.pipeline.stop()
        stop.set()
        await reader


async def test_a_message_whose_outputs_keep_failing_is_dead_lettered_and_does_not_block(
    embedded: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(embedded, max_attempts=3, retry_backoff_ms=10)
    real_publish = pipeline_app._publish
    blocked = settings.pharmacy_topic("FHM73")  # example 03's pharmacy: its topic refuses

    async def pharmacy_topic_refuses(producer: Any, record: Any) -> None:
        if record.topic == blocked:
            raise PermissionError("topic authorization failed")
        await real_publish(producer, record)

    monkeypatch.setattr(pipeline_app, "_publish", pharmacy_topic_refuses)
    flow, stop, reader = await start_flow(settings)
    try:
        stuck = await flow.send(RAW)
        behind = await flow.send((EXAMPLES / "11-no-changes-not-referred.json").read_bytes())
        await flow.wait_for(lambda: stuck in flow.outputs.dead_letters)
        await flow.wait_for(lambda: behind in flow.outputs.acks)  # the partition moved on
        letter = flow.outputs.dead_letters[stuck]
        assert letter["tcam-error-class"] == "delivery-failed"
        assert letter["tcam-attempts"] == "3"
        assert flow.outputs.ack_code(stuck) == "transient-error"
        assert flow.outputs.ack_code(behind) == "ok"
        [issue] = flow.outputs.acks[stuck]["entry"][1]["resource"]["issue"]
        assert issue["code"] == "transient"
        assert issue["details"]["coding"][0]["code"] == "delivery-failed"
    finally:
        stop.set()
        await reader
        await flow.pipeline.stop()
