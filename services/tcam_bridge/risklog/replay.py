"""Replay: run the current rules over archived discharge messages (``tcam replay``).

Each message goes through :func:`tcam_bridge.core.process.process`, exactly as in the pipeline,
but nothing is published. The findings are counted per rule and, when asked, written to the
risk log as a separate replay: ``source = "replay:<label>"``. Replay rows never mix with the
live log (queries read ``source = "live"`` unless told otherwise), and recording the same replay
label twice inserts nothing the second time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from tcam_bridge.adapters.kafka_config import producer_config
from tcam_bridge.core.process import CoreConfig, Outcome, process
from tcam_bridge.risklog.store import RiskLog
from tcam_bridge.settings import Settings


@dataclass
class ReplayTally:
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0  # the core raised: a bug, counted rather than stopping the replay
    findings: Counter[str] = field(default_factory=Counter)
    recorded: int = 0


def findings_event(outcome: Outcome) -> dict[str, Any] | None:
    for record in outcome.records:
        if record.kind == "findings" and record.value is not None:
            event = json.loads(record.value)
            assert isinstance(event, dict)
            return event
    return None


class Replay:
    """Feed messages one by one; each is processed and (optionally) recorded."""

    def __init__(
        self,
        config: CoreConfig,
        *,
        now: Callable[[], datetime],
        risklog: RiskLog | None = None,
        label: str = "",
    ) -> None:
        self.config = config
        self.now = now
        self.risklog = risklog
        self.source = f"replay:{label}"
        self.tally = ReplayTally()

    async def feed(self, raw: bytes, key: bytes | None = None) -> Outcome | None:
        self.tally.messages += 1
        try:
            outcome = process(raw, key=key, config=self.config, now=self.now())
        except Exception:
            self.tally.failed += 1
            return None
        if not outcome.accepted:
            self.tally.rejected += 1
            return outcome
        self.tally.accepted += 1
        event = findings_event(outcome)
        if event is not None:
            self.tally.findings.update(f["rule_id"] for f in event["findings"])
            if self.risklog is not None:
                self.tally.recorded += await self.risklog.record(
                    event, self.now(), source=self.source
                )
        return outcome


def consumer_config(settings: Settings) -> dict[str, Any]:
    """aiokafka consumer options (connection and security) from the settings."""
    config = producer_config(settings)
    for producer_only in ("acks", "enable_idempotence", "max_request_size"):
        config.pop(producer_only, None)
    config["client_id"] = f"{settings.client_id}-replay"
    return config


async def topic_range(
    settings: Settings, topic: str, partition: int, first: int, last: int
) -> AsyncIterator[tuple[int, bytes | None, bytes]]:
    """Records ``first``..``last`` (inclusive) of one partition, without a consumer group:
    (offset, key, value). Stops early at the end of the partition."""
    consumer = AIOKafkaConsumer(
        **consumer_config(settings),
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]  # the next offset to be written
        last = min(last, end - 1)
        if first > last:
            return
        consumer.seek(tp, first)
        while True:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            for record in batches.get(tp, []):
                if record.offset > last:
                    return
                yield record.offset, record.key, record.value or b""
                if record.offset == last:
                    return
            if await consumer.position(tp) > last:  # gaps (compaction, markers) end early
                return
    finally:
        await consumer.stop()
