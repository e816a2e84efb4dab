"""The pipeline service: consume discharges, publish referral, findings and ack, then commit.

Delivery: at-least-once. The subscriber uses ``AckPolicy.MANUAL`` (FastStream's Kafka default,
ACK_FIRST, auto-commits before processing, which could lose a discharge). The offset is committed
only after every output record has been acknowledged by the broker. Records carry ids derived
from the input message id, so a redelivery re-publishes the same referral and ack, never a
second, different one.

Failures: a message the core rejects gets a ``fatal-error`` ack and a dead-letter record (the
original bytes untouched, with headers saying why). A publish failure is retried with
exponential backoff ``max_attempts`` times; if the broker still cannot take the outputs the
offset is not committed and the message is redelivered (nothing is acked unwritten). A bug in
the core does not stop the partition: the message is dead-lettered with a ``transient-error``
ack so it can be replayed after a fix.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.specification import AsyncAPI

from tcam_bridge import __version__
from tcam_bridge.adapters.kafka_config import broker_options, producer_config
from tcam_bridge.core import fhir_out
from tcam_bridge.core.fhir_in import identify
from tcam_bridge.core.issue import Issue, Severity
from tcam_bridge.core.process import (
    CoreConfig,
    DeadLetter,
    Outcome,
    Record,
    dumps,
    process,
)
from tcam_bridge.core.process import headers as output_headers
from tcam_bridge.pipeline import schemas
from tcam_bridge.settings import Settings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    """Hand the handler the bytes as received: validation is the core's job, not FastStream's."""
    return msg.body


async def _tolerant_parser(
    record: ConsumerRecord[bytes, bytes], original: Callable[[Any], Awaitable[Any]]
) -> Any:
    """FastStream's parser fails on a header value that is not UTF-8, before any handler runs,
    and the record would be skipped by the next commit. Parse a copy with readable headers and
    keep the original record (for the dead letter and the commit)."""
    try:
        return await original(record)
    except UnicodeDecodeError:
        readable = [(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers]
        message = await original(dataclasses.replace(record, headers=readable))
        message.raw_message = record
        return message


class Pipeline:
    """The running service: a FastStream subscriber and the producer its outputs go through."""

    def __init__(self, broker: KafkaBroker, producer_options: dict[str, Any]) -> None:
        self.broker = broker
        self._producer_options = producer_options
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            msg = "the pipeline's producer is not started"
            raise RuntimeError(msg)
        return self._producer

    async def start_producer(self) -> None:
        # Created here, not in __init__: aiokafka clients need a running event loop.
        self._producer = AIOKafkaProducer(**self._producer_options)
        await self._producer.start()

    async def stop_producer(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def start(self) -> None:
        await self.start_producer()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.stop_producer()

    async def publish(self, raw: bytes, topic: str, **kwargs: Any) -> Any:
        """Send a message as an EPR would (the demo and tests use this)."""
        return await self.broker.publish(raw, topic, **kwargs)


def build_pipeline(
    settings: Settings,
    core: CoreConfig,
    *,
    logger: Any,
    clock: Clock = utc_now,
) -> Pipeline:
    broker = KafkaBroker(
        **broker_options(settings),
        ack_policy=AckPolicy.MANUAL,
        logger=logger,
        description="TCAM Bridge: discharge medicines to community pharmacy referrals.",
    )
    outputs = _declare_publishers(broker, settings)
    pipeline = Pipeline(broker, producer_config(settings))

    @broker.subscriber(
        settings.topic_discharge,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        parser=_tolerant_parser,
        # Generous fetch sizes: a message over the limit must still be read, to be rejected.
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
        title="discharge",
        description=(
            "FHIR R4 message Bundles (event discharge-medications) from hospital EPRs, keyed by "
            "NHS number. Contract: contracts/discharge-message.md."
        ),
    )
    async def on_discharge(body: bytes, msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)  # a single-message subscriber, not a batch
        source = _Source(record.topic, record.partition, record.offset, record.key, record.headers)
        log = logger.bind(topic=source.topic, partition=source.partition, offset=source.offset)
        try:
            outcome = process(body, key=source.key, config=core, now=clock())
        except Exception as exc:
            log.error("core_failed", error=type(exc).__name__, where=_where(exc))
            outcome = _transient_failure(
                body, source, core, clock(), error_class="processing-error", why=_INTERNAL_ERROR
            )
        if outcome.evaluation is not None:
            for failure in outcome.evaluation.failures:
                log.error(
                    "rule_failed",
                    rule_id=failure.rule_id,
                    error=failure.error,
                    message_id=outcome.message_id,
                )
        records = [_with_source(r, source) if r.kind == "ack" else r for r in outcome.records]
        dlq = _dead_letter(outcome, record.value, source, settings) if outcome.dead_letter else None
        delivered = await _deliver(pipeline.producer, records, dlq, settings, log)
        if not delivered:
            # Bounded retry: dead-letter the message so it cannot block its partition. If even
            # that fails (the broker is down), leave it uncommitted: it comes back.
            outcome = _transient_failure(
                body,
                source,
                core,
                clock(),
                error_class="delivery-failed",
                why=_DELIVERY_FAILED,
                attempts=settings.max_attempts,
            )
            records = [_with_source(r, source) for r in outcome.records]
            dlq = _dead_letter(outcome, record.value, source, settings)
            if not await _deliver(pipeline.producer, records, dlq, settings, log):
                await asyncio.sleep(settings.retry_backoff_ms / 1000)
                await msg.nack()  # not committed: the same message comes back
                return
            log.error("dead_lettered_after_retries", attempts=settings.max_attempts)
        await msg.ack()
        log.info(
            "discharge_processed",
            message_id=outcome.message_id,
            correlation_id=outcome.correlation_id,
            response=outcome.response,
            referral_id=outcome.referral_id,
            referral=outcome.decision.status.value if outcome.decision else None,
            pharmacy_ods=outcome.decision.pharmacy_ods if outcome.decision else None,
            rules=[f.rule_id for f in outcome.evaluation.findings] if outcome.evaluation else [],
            issues=[i.reason for i in outcome.issues if i.severity is not Severity.INFORMATION],
            dead_lettered=dlq is not None,
        )

    del on_discharge, outputs
    return pipeline


def build_app(settings: Settings, core: CoreConfig, *, logger: Any) -> FastStream:
    pipeline = build_pipeline(settings, core, logger=logger)
    return FastStream(
        pipeline.broker,
        logger=logger,
        on_startup=[pipeline.start_producer],
        after_shutdown=[pipeline.stop_producer],
        specification=AsyncAPI(
            title="TCAM Bridge pipeline",
            version=__version__,
            description=(
                "Validates FHIR R4 discharge-medication messages, reconciles medicines, runs "
                "safety rules and routes Discharge Medicines Service referrals to community "
                "pharmacy queues."
            ),
        ),
    )


def asyncapi_app() -> FastStream:
    """Factory for ``faststream docs gen``: default settings, no environment, no I/O."""
    from datetime import date

    from tcam_bridge.adapters.logs import get_logger
    from tcam_bridge.pipeline.config import core_config

    settings = Settings.model_construct()
    return build_app(settings, core_config(settings, date(2026, 1, 1)), logger=get_logger())


def _declare_publishers(broker: KafkaBroker, settings: Settings) -> tuple[object, ...]:
    """Publishers declared for the AsyncAPI contract; records are sent with ``broker.publish``."""
    return (
        broker.publisher(
            settings.topic_ack,
            title="ack",
            description="FHIR response message per input: MessageHeader.response.code ok | "
            "transient-error | fatal-error, identifier = the request's MessageHeader.id, with an "
            "OperationOutcome. Keyed like the input.",
            schema=schemas.AckMessage,
        ),
        broker.publisher(
            settings.topic_pharmacy_template,
            title="pharmacy-referrals",
            description="One topic per community pharmacy ODS code. BaRS-style referral "
            "message (ServiceRequest, Task with the Stage 1 deadline, Patient, medicines with "
            "change status, DetectedIssue per finding). Keyed by NHS number.",
            schema=schemas.ReferralMessage,
        ),
        broker.publisher(
            settings.topic_unrouted,
            title="unrouted-referrals",
            description="Referrals the hospital team must resolve (consent not recorded, no, "
            "invalid or unknown pharmacy). Same shape as a pharmacy referral, status draft.",
            schema=schemas.ReferralMessage,
        ),
        broker.publisher(
            settings.topic_findings,
            title="safety-findings",
            description="One event per accepted discharge with its safety findings.",
            schema=schemas.FindingsEvent,
        ),
        broker.publisher(
            settings.topic_dlq,
            title="dead-letter",
            description="Inputs that could not be processed: original bytes and headers "
            "untouched, plus tcam-error-class, tcam-error-reason, tcam-attempts and "
            "tcam-source-topic/partition/offset headers.",
            schema=bytes,
        ),
    )


class _Source:
    __slots__ = ("headers", "key", "offset", "partition", "topic")

    def __init__(
        self, topic: str, partition: int, offset: int, key: bytes | None, headers: Any
    ) -> None:
        self.topic, self.partition, self.offset, self.key = topic, partition, offset, key
        self.headers: list[tuple[str, bytes]] = list(headers or ())  # as received, repeats kept


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"


_INTERNAL_ERROR = (
    "internal-error",
    "TCAM Bridge could not process this message because of an internal error. It is kept in "
    "the dead-letter queue and will be replayed after a fix; resend it if no ok "
    "acknowledgement follows.",
)
_DELIVERY_FAILED = (
    "delivery-failed",
    "TCAM Bridge could not publish the referral, findings or acknowledgement for this message "
    "after repeated attempts. It is kept in the dead-letter queue and will be replayed; resend "
    "it if no ok acknowledgement follows.",
)


def _transient_failure(
    body: bytes,
    source: _Source,
    core: CoreConfig,
    now: datetime,
    *,
    error_class: str,
    why: tuple[str, str],
    attempts: int = 1,
) -> Outcome:
    """A transient-error ack and a dead letter for a message we could not finish handling."""
    digest = hashlib.sha256(body).hexdigest()
    known = identify(body)
    correlation = known.header_id or f"sha256-{digest[:56]}"
    reason, text = why
    issue = Issue(Severity.ERROR, "transient", reason, text, "Bundle")
    ack = fhir_out.ack(
        ids=fhir_out.Ids(core.canonical, f"sha256:{digest}|{reason}"),
        canonical=core.canonical,
        now=now,
        answers=correlation,
        code="transient-error",
        issues=[issue],
        destination=known.source_endpoint,
    )
    return Outcome(
        response="transient-error",
        correlation_id=correlation,
        message_id=known.message_id,
        issues=(issue,),
        records=(
            Record(
                core.ack_topic,
                source.key,
                dumps(ack),
                output_headers("ack", f"sha256:{digest}", correlation),
                "ack",
            ),
        ),
        dead_letter=DeadLetter(error_class, reason, attempts),
    )


def _source_headers(source: _Source) -> list[tuple[str, bytes]]:
    return [
        ("tcam-source-topic", source.topic.encode()),
        ("tcam-source-partition", str(source.partition).encode()),
        ("tcam-source-offset", str(source.offset).encode()),
    ]


def _with_source(record: Record, source: _Source) -> Record:
    """Acks name the Kafka position of the input they answer, for senders that track it."""
    return Record(
        record.topic,
        record.key,
        record.value,
        (*record.headers, *_source_headers(source)),
        record.kind,
    )


def _dead_letter(
    outcome: Outcome, value: bytes | None, source: _Source, settings: Settings
) -> Record:
    """The input as received (a tombstone stays null), with headers saying why."""
    assert outcome.dead_letter is not None
    extra = [
        ("tcam-error-class", outcome.dead_letter.error_class.encode()),
        ("tcam-error-reason", outcome.dead_letter.reason.encode()),
        ("tcam-attempts", str(outcome.dead_letter.attempts).encode()),
        *_source_headers(source),
        ("tcam-correlation-id", outcome.correlation_id.encode()),
    ]
    return Record(settings.topic_dlq, source.key, value, (*source.headers, *extra), "dead-letter")


async def _deliver(
    producer: AIOKafkaProducer,
    records: Sequence[Record],
    dlq: Record | None,
    settings: Settings,
    log: Any,
) -> bool:
    """Publish the records, the ack last; True once the broker has acknowledged all of them."""
    acks = [r for r in records if r.kind == "ack"]
    first = [r for r in records if r.kind != "ack"] + ([dlq] if dlq else [])
    for batch in (first, acks):
        if batch and not await _with_retry(_publisher(producer, batch), settings, log):
            return False
    return True


def _publisher(
    producer: AIOKafkaProducer, batch: Sequence[Record]
) -> Callable[[], Awaitable[object]]:
    def send() -> Awaitable[object]:
        return asyncio.gather(*(_publish(producer, r) for r in batch))

    return send


async def _publish(producer: AIOKafkaProducer, record: Record) -> None:
    """Send one record and wait for the broker's acknowledgement (acks=all)."""
    try:
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
    except MessageSizeTooLargeError:
        if record.kind != "dead-letter":
            raise
        # The input is larger than the broker takes back: dead-letter a pointer to it instead.
        # The original stays at its source topic, partition and offset.
        await producer.send_and_wait(
            record.topic,
            b"",
            key=record.key,
            headers=[*_own_headers(record), ("tcam-value-omitted", b"too-large")],
        )


def _own_headers(record: Record) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in record.headers if k.startswith("tcam-")]


async def _with_retry(send: Callable[[], Awaitable[object]], settings: Settings, log: Any) -> bool:
    delay = settings.retry_backoff_ms / 1000
    for attempt in range(1, settings.max_attempts + 1):
        try:
            await send()
            return True
        except Exception as exc:
            log.warning("publish_failed", attempt=attempt, error=type(exc).__name__)
            if attempt < settings.max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
    return False
