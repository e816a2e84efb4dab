"""The risk-log consumer: findings events from Kafka into the risk log.

Delivery: at-least-once, as in the pipeline. The subscriber uses ``AckPolicy.MANUAL`` and
commits an event's offset only after its flags are committed to the database. Writing is
idempotent (``processed_events`` in the same transaction), so a redelivered event inserts
nothing.

Failures: a database error is retried with exponential backoff (``max_attempts``,
``retry_backoff_ms``); if the write still fails the event is not committed (``nack``: the
consumer seeks back and it comes again), so nothing is acknowledged unwritten. A malformed
event (not JSON, or missing fields) cannot be fixed by retrying: it is logged as an error, with
ids and the field at fault only, and committed so it does not block its partition.

Logs carry ids only (event id, message id, trust ODS, rule ids, topic, partition, offset),
never NHS numbers or medicine names.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from tcam_bridge.adapters.kafka_config import broker_options
from tcam_bridge.risklog.store import MalformedEvent, RiskLog, parse_event
from tcam_bridge.settings import Settings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    """Decode in the handler, so a body that is not JSON is logged and skipped, not retried."""
    return msg.body


def build_risklog(
    settings: Settings, risklog: RiskLog, *, logger: Any, clock: Clock = utc_now
) -> KafkaBroker:
    broker = KafkaBroker(
        **broker_options(settings),
        ack_policy=AckPolicy.MANUAL,
        logger=logger,
        description="TCAM Bridge risk log: safety findings into the medicines-safety log.",
    )

    @broker.subscriber(
        settings.topic_findings,
        group_id=settings.risklog_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        title="safety-findings",
        description="One event per accepted discharge (contracts/findings-event.md).",
    )
    async def on_findings(body: bytes, msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)  # a single-message subscriber, not a batch
        log = logger.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        try:
            event = json.loads(body)
            parse_event(event)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and MalformedEvent
            reason = str(exc) if isinstance(exc, MalformedEvent) else "the value is not JSON"
            log.error("findings_event_malformed", reason=reason, **_ids(body, event=None))
            await msg.ack()  # retrying cannot fix it; do not block the partition
            return
        ids = _ids(body, event)
        log = log.bind(**ids)
        delay = settings.retry_backoff_ms / 1000
        for attempt in range(1, settings.max_attempts + 1):
            try:
                inserted = await risklog.record(event, clock())
                break
            except MalformedEvent as exc:  # parse_event passed, so this is unexpected
                log.error("findings_event_malformed", reason=str(exc))
                await msg.ack()
                return
            except Exception as exc:
                log.warning("risklog_write_failed", attempt=attempt, error=type(exc).__name__)
                if attempt < settings.max_attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
        else:
            log.error("risklog_write_gave_up", attempts=settings.max_attempts)
            await asyncio.sleep(settings.retry_backoff_ms / 1000)
            await msg.nack()  # not committed: the same event comes back
            return
        await msg.ack()
        log.info(
            "findings_recorded",
            inserted=inserted,
            redelivery=inserted == 0 and bool(event.get("findings")),
            rules=[f.get("rule_id") for f in event.get("findings", [])],
        )

    del on_findings
    return broker


def _ids(body: bytes, event: Any) -> dict[str, Any]:
    """The ids of an event for the logs, whatever state it is in; never patient data."""
    if event is None:
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            return {}
    if not isinstance(event, dict):
        return {}
    return {
        k: v
        for k in ("event_id", "message_id", "trust_ods")
        if isinstance(v := event.get(k), str) and len(v) <= 200
    }
