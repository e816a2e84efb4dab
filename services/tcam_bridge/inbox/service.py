"""The pharmacy gateway: referrals from the per-pharmacy topics into the inbox, and the inbox's
FHIR Task updates back to the hospital on the status topic.

Consumer: subscribes by pattern to every pharmacy queue (the regex made from
``topic_pharmacy_template``), or to the listed queues when ``gateway_pharmacies`` is set, in
group ``gateway_group``. Delivery is at-least-once with ``AckPolicy.MANUAL``: an offset is
committed only after :meth:`Inbox.record` has committed, and recording is idempotent by
referral id, so a redelivered referral changes nothing. A database error is retried with
backoff (``max_attempts``, ``retry_backoff_ms``), then the record is nacked (it comes again).
A malformed referral is logged (ids only) and committed so it does not block its partition.

New pharmacy topics: a pattern subscription finds topics created after it started only when
the client refreshes its metadata. The gateway's broker sets ``metadata_max_age_ms`` to
:data:`METADATA_MAX_AGE_MS` (5 s), so a new pharmacy's first referral is read within seconds.

Relay (transactional outbox): a loop reads unsent Task updates from ``inbox_outbox`` in id
order, publishes each to ``topic_status`` (key = referral id, ``content-type:
application/fhir+json``) with ``acks=all``, and marks them sent only after the broker
acknowledged. A crash in between publishes a row twice, never loses it (consumers de-duplicate
by Task id and ``lastModified``).

Logs carry ids only (referral id, topic, partition, offset), never patient data.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from tcam_bridge.adapters.kafka_config import broker_options, producer_config
from tcam_bridge.inbox.store import Inbox, MalformedReferral, parse_referral
from tcam_bridge.settings import Settings

METADATA_MAX_AGE_MS = 5000
RELAY_IDLE_SECONDS = 0.5
Clock = Callable[[], datetime]
Relay = Callable[[], Coroutine[Any, Any, None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def pharmacy_pattern(template: str) -> str:
    """The regex matching every topic made from the template (``{ods}`` = an ODS code)."""
    head, _, tail = template.partition("{ods}")
    return f"^{re.escape(head)}[A-Za-z0-9]+{re.escape(tail)}$"


def gateway_topics(settings: Settings) -> list[str]:
    """The explicit topics to read when ``gateway_pharmacies`` is set; empty for the pattern."""
    codes = [c.strip().upper() for c in (settings.gateway_pharmacies or "").split(",")]
    return [settings.pharmacy_topic(c) for c in codes if c]


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    return msg.body


def build_gateway(
    settings: Settings, inbox: Inbox, *, logger: Any, clock: Clock = utc_now
) -> tuple[KafkaBroker, Relay]:
    broker = KafkaBroker(
        **broker_options(settings),
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        ack_policy=AckPolicy.MANUAL,
        logger=logger,
        description="TCAM Bridge pharmacy gateway: referrals into the pharmacy inbox.",
    )
    topics = gateway_topics(settings)
    pattern = None if topics else pharmacy_pattern(settings.topic_pharmacy_template)

    @broker.subscriber(
        *topics,
        pattern=pattern,
        group_id=settings.gateway_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        title="pharmacy-referrals",
        description="DMS referrals, one topic per pharmacy (contracts/referral-message.md).",
    )
    async def on_referral(body: bytes, msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)  # a single-message subscriber, not a batch
        log = logger.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        try:
            bundle = json.loads(body)
            parsed = parse_referral(bundle)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and MalformedReferral
            reason = str(exc) if isinstance(exc, MalformedReferral) else "the value is not JSON"
            log.error("referral_malformed", reason=reason)
            await msg.ack()  # retrying cannot fix it; do not block the partition
            return
        log = log.bind(referral_id=parsed.referral_id, pharmacy_ods=parsed.pharmacy_ods)
        delay = settings.retry_backoff_ms / 1000
        for attempt in range(1, settings.max_attempts + 1):
            try:
                stored = await inbox.record(bundle, clock())
                break
            except Exception as exc:
                log.warning("inbox_write_failed", attempt=attempt, error=type(exc).__name__)
                if attempt < settings.max_attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
        else:
            log.error("inbox_write_gave_up", attempts=settings.max_attempts)
            await asyncio.sleep(settings.retry_backoff_ms / 1000)
            await msg.nack()  # not committed: the same referral comes back
            return
        await msg.ack()
        log.info("referral_received", repeat=not stored)

    del on_referral

    async def relay() -> None:
        """Publish the outbox to the status topic until cancelled."""
        producer = AIOKafkaProducer(**producer_config(settings))
        await producer.start()
        try:
            while True:
                sent = await relay_once(inbox, producer, settings.topic_status, logger)
                if not sent:
                    await asyncio.sleep(RELAY_IDLE_SECONDS)
        finally:
            await producer.stop()

    return broker, relay


async def relay_once(inbox: Inbox, producer: AIOKafkaProducer, topic: str, logger: Any) -> int:
    """Publish one batch of pending Task updates; mark each sent once acknowledged.

    Stops at the first failure (so a referral's updates keep their order) and returns how many
    were sent.
    """
    sent: list[int] = []
    try:
        for outbox_id, key, payload in await inbox.pending_status_updates():
            await producer.send_and_wait(
                topic,
                payload,
                key=key.encode(),
                headers=[("content-type", b"application/fhir+json")],
            )
            sent.append(outbox_id)
    except Exception as exc:
        logger.warning("status_publish_failed", error=type(exc).__name__)
        await asyncio.sleep(RELAY_IDLE_SECONDS)
    finally:
        if sent:
            await inbox.mark_sent(sent)
    return len(sent)
