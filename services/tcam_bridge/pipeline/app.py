"""The pipeline service: consume discharges in batches, publish referral, findings and ack, then
commit.

Batches: the subscriber reads up to ``batch_max_records`` discharges at a time (FastStream's
batch mode). Each is processed on its own, exactly as if it came alone, and its outputs are sent
as soon as it is processed, while the next one is: first its referral, findings event and dead
letter, then, once the broker has acknowledged those, its ack. Sends in flight together are
packed by the producer into few produce requests. Once every message of the batch is answered,
one commit for the batch. An ack is never sent before the referral, findings and dead letter of
its own message are on the broker. A batch's last answers and its commit finish while the next
batch is processed: the next batch's handler waits for them only once its own messages are
processed, so commits stay in order and at most two batches are in flight.

Delivery: at-least-once. The subscriber uses ``AckPolicy.MANUAL`` (FastStream's Kafka default,
ACK_FIRST, auto-commits before processing, which could lose a discharge). An offset is committed
only after every output record of that message, and of every message before it on its
partition, has been acknowledged by the broker. Records carry ids derived from the input message
id, so a redelivery re-publishes the same referral and ack, never a second, different one.

Failures: a message the core rejects gets a ``fatal-error`` ack and a dead-letter record (the
original bytes untouched, with headers saying why). A failed publish is retried, per message,
with exponential backoff, ``max_attempts`` tries in all; a message whose outputs still cannot be
published is dead-lettered (``delivery-failed``) with a ``transient-error`` ack, and the rest of
its batch goes on. If even that cannot be published (the broker is down), the batch is committed
only up to that message and its partition is rewound to it: it and everything after it come
back (nothing is acked unwritten). A bug in the core does not stop the partition: the message is
dead-lettered with a ``transient-error`` ack so it can be replayed after a fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError, MessageSizeTooLargeError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from faststream.specification import AsyncAPI
from pydantic import WithJsonSchema

from tcam_bridge import __version__
from tcam_bridge.adapters.kafka_config import broker_options, pipeline_producer_config
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
from tcam_bridge.core.structure import structure_check
from tcam_bridge.pipeline import schemas
from tcam_bridge.settings import Settings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


Batch = tuple[ConsumerRecord[bytes, bytes], ...]

# The handler gets the bodies of a batch as a list; the AsyncAPI contract still describes one
# message on the channel: one binary FHIR Bundle.
Bodies = Annotated[list[bytes], WithJsonSchema({"type": "string", "format": "binary"})]

# How long one poll waits for a first record when the topic is idle. FastStream sleeps as long
# again after an empty poll, so this bounds the extra latency of a message arriving at rest
# (about 2 x 20 ms); an idle pipeline polls 25 times a second, which costs next to nothing.
BATCH_TIMEOUT_MS = 20


async def _raw_body(msg: StreamMessage[Any]) -> Any:
    """Hand the handler the bytes as received (a list of them, for a batch): validation is the
    core's job, not FastStream's."""
    return msg.body


async def _tolerant_parser(batch: Batch, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser fails on a header value that is not UTF-8, before any handler runs,
    and the batch would be skipped by the next commit. Parse copies with readable headers and
    keep the original records (for the dead letters and the commit)."""
    try:
        return await original(batch)
    except UnicodeDecodeError:
        message = await original(tuple(_readable(record) for record in batch))
        message.raw_message = batch
        return message


def _readable(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    readable = [(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers]
    return dataclasses.replace(record, headers=readable)


def settle_heap() -> None:
    """Build the compiled structure check now, not at the first message, then move everything
    made so far (the FHIR models, code lists, the check) out of the garbage collector's way:
    a full collection over that heap paused the pipeline for 40 to 90 ms, and those pauses
    were the tail of the referral latency. For a service's entry point, before it consumes."""
    structure_check()
    gc.collect()
    gc.freeze()


class Settling:
    """The batch whose outputs and commit are finishing while the next batch is processed.

    At most one: the handler of a batch waits for the previous batch's finish once its own
    messages are processed, so commits stay in order and at most two batches are in flight.
    ``held``: partitions rewound to an undelivered message (see ``commit_batch``)."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self.held: dict[TopicPartition, int] = {}

    def start(self, finish: Coroutine[Any, Any, None]) -> None:
        self.task = asyncio.create_task(finish)

    async def wait(self) -> None:
        task = self.task
        if task is not None:
            await asyncio.shield(task)  # a cancelled handler must not cancel the commit
            if self.task is task:
                self.task = None

    async def finish(self) -> None:
        """From now on each batch finishes before its handler returns; wait for the last."""
        self.closing = True
        await self.wait()


class Pipeline:
    """The running service: a FastStream subscriber and the producer its outputs go through."""

    def __init__(self, broker: KafkaBroker, producer_options: dict[str, Any]) -> None:
        self.broker = broker
        self._producer_options = producer_options
        self._producer: AIOKafkaProducer | None = None
        self.settling = Settling()

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

    async def finish_batches(self) -> None:
        """Let the last batch's outputs and commit finish before the consumer stops."""
        await self.settling.finish()

    async def stop(self) -> None:
        await self.finish_batches()
        await self.broker.stop()
        await self.stop_producer()

    async def publish(self, raw: bytes, topic: str, **kwargs: Any) -> Any:
        """Send a message as an EPR would (the demo and tests use this)."""
        return await self.broker.publish(raw, topic, **kwargs)


def subscribe_discharges(
    broker: KafkaBroker,
    settings: Settings,
    *,
    title: str | None = None,
    description: str | None = None,
) -> BatchSubscriber:
    """The subscriber through which the pipeline reads the discharge topic: batches of up to
    ``batch_max_records``, its consumer group, manual commits, the raw bodies. One place, so the
    benchmark's ceilings read exactly as the pipeline does."""
    return broker.subscriber(
        settings.topic_discharge,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        parser=_tolerant_parser,
        # Generous fetch sizes: a message over the limit must still be read, to be rejected.
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        title=title,
        description=description,
    )


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
    pipeline = Pipeline(broker, pipeline_producer_config(settings))

    @subscribe_discharges(
        broker,
        settings,
        title="discharge",
        description=(
            "FHIR R4 message Bundles (event discharge-medications) from hospital EPRs, keyed by "
            "NHS number. Contract: contracts/discharge-message.md."
        ),
    )
    async def on_discharge(bodies: Bodies, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        batch: Batch = raw if isinstance(raw, tuple) else (raw,)
        settling = pipeline.settling
        deliveries: list[asyncio.Task[None]] = []
        messages: list[_Message] = []
        try:
            for record, body in zip(batch, bodies, strict=True):
                m = _handle(record, body, core, settings, clock, logger)
                messages.append(m)
                # Its outputs leave now, while the next message is processed (its ack once its
                # own referral and findings are on the broker): a message's latency is its own
                # work, not its batch's. The producer still packs concurrent sends together.
                deliveries.append(
                    asyncio.create_task(_deliver_batch(pipeline.producer, [m], settings))
                )
                await asyncio.sleep(0)  # let the consumer's heartbeat through between messages
        except BaseException:
            for task in deliveries:
                task.cancel()
            await msg.nack()  # nothing of this batch is committed: all of it comes back
            raise
        # The previous batch's outputs and commit were finishing while this one was processed;
        # commits stay in order. This batch's finish in turn overlaps the next batch.
        await settling.wait()
        settling.start(finish_batch(msg, messages, deliveries))
        if settling.closing:
            await settling.wait()

    async def finish_batch(
        msg: KafkaMessage, messages: list[_Message], deliveries: list[asyncio.Task[None]]
    ) -> None:
        """Wait for the batch's outputs, dead-letter what could not be delivered, commit."""
        try:
            await _finish(msg, messages, deliveries)
        except Exception as exc:  # a bug: the batch must come back, never be committed past
            logger.error("batch_finish_failed", error=type(exc).__name__, where=_where(exc))
            for m in messages:
                m.delivered = False
            await _commit(msg, messages, pipeline.settling.held, logger)
        except BaseException:
            for task in deliveries:
                task.cancel()
            raise

    async def _finish(
        msg: KafkaMessage, messages: list[_Message], deliveries: list[asyncio.Task[None]]
    ) -> None:
        await asyncio.gather(*deliveries)
        failed = [m for m in messages if not m.delivered]
        if failed:
            # Bounded retry: dead-letter each such message so it cannot block its partition.
            # If even that fails (the broker is down), leave it uncommitted: it comes back.
            for m in failed:
                m.delivery_failed(core, clock(), settings)
            await _deliver_batch(pipeline.producer, failed, settings)
            for m in failed:
                if m.delivered:
                    m.log.error("dead_lettered_after_retries", attempts=settings.max_attempts)
        committed = await _commit(msg, messages, pipeline.settling.held, logger)
        for m in committed:
            m.log_processed()
        logger.info("batch_committed", records=len(messages), committed=len(committed))
        if not all(m.delivered for m in messages):
            await asyncio.sleep(settings.retry_backoff_ms / 1000)  # not straight back at it

    del on_discharge, outputs
    return pipeline


def build_app(settings: Settings, core: CoreConfig, *, logger: Any) -> FastStream:
    pipeline = build_pipeline(settings, core, logger=logger)
    return FastStream(
        pipeline.broker,
        logger=logger,
        on_startup=[pipeline.start_producer],
        on_shutdown=[pipeline.finish_batches],
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


class _Message:
    """One discharge of a batch: where it came from, what the core made of it, what to publish."""

    __slots__ = ("body", "delivered", "dlq", "log", "outcome", "records", "source", "value")

    def __init__(
        self,
        source: _Source,
        value: bytes | None,
        outcome: Outcome,
        log: Any,
        settings: Settings,
    ) -> None:
        self.source = source
        self.value = value  # None for a tombstone: dead-lettered as such
        self.body = value or b""
        self.log = log
        self.delivered = False
        self._set(outcome, settings)

    def _set(self, outcome: Outcome, settings: Settings) -> None:
        self.outcome = outcome
        self.records = [
            _with_source(r, self.source) if r.kind == "ack" else r for r in outcome.records
        ]
        self.dlq = (
            _dead_letter(outcome, self.value, self.source, settings)
            if outcome.dead_letter
            else None
        )

    @property
    def first(self) -> list[Record]:
        """What must be on the broker before the ack: referral, findings, dead letter."""
        return [r for r in self.records if r.kind != "ack"] + ([self.dlq] if self.dlq else [])

    @property
    def acks(self) -> list[Record]:
        return [r for r in self.records if r.kind == "ack"]

    def delivery_failed(self, core: CoreConfig, now: datetime, settings: Settings) -> None:
        """Replace the outputs by a ``delivery-failed`` dead letter and a transient-error ack."""
        outcome = _transient_failure(
            self.body,
            self.source,
            core,
            now,
            error_class="delivery-failed",
            why=_DELIVERY_FAILED,
            attempts=settings.max_attempts,
        )
        self._set(outcome, settings)

    def log_processed(self) -> None:
        outcome = self.outcome
        self.log.info(
            "discharge_processed",
            message_id=outcome.message_id,
            correlation_id=outcome.correlation_id,
            response=outcome.response,
            referral_id=outcome.referral_id,
            referral=outcome.decision.status.value if outcome.decision else None,
            pharmacy_ods=outcome.decision.pharmacy_ods if outcome.decision else None,
            rules=[f.rule_id for f in outcome.evaluation.findings] if outcome.evaluation else [],
            issues=[i.reason for i in outcome.issues if i.severity is not Severity.INFORMATION],
            dead_lettered=self.dlq is not None,
        )


def _handle(
    record: ConsumerRecord[bytes, bytes],
    body: bytes,
    core: CoreConfig,
    settings: Settings,
    clock: Clock,
    logger: Any,
) -> _Message:
    """Run the core on one record of a batch, exactly as if it had come alone."""
    source = _Source(record.topic, record.partition, record.offset, record.key, record.headers)
    now = clock()
    log = logger.bind(
        topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        received_at=now.isoformat(),  # when the pipeline took it up: with the log line's own
        # timestamp, how long it waited in its batch and in the broker, and how long it took
    )
    try:
        outcome = process(body, key=source.key, config=core, now=now)
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
    return _Message(source, record.value, outcome, log, settings)


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


async def _deliver_batch(
    producer: AIOKafkaProducer, messages: Sequence[_Message], settings: Settings
) -> None:
    """Publish the outputs of every message at once: first all referrals, findings and dead
    letters, then the acks of the messages whose first records the broker has acknowledged.
    A message is ``delivered`` once the broker has acknowledged all of its records."""
    logs = [m.log for m in messages]
    first = await _publish_all(producer, [m.first for m in messages], logs, settings)
    acks = [m.acks if ok else [] for m, ok in zip(messages, first, strict=True)]
    answered = await _publish_all(producer, acks, logs, settings)
    for m, ok, acked in zip(messages, first, answered, strict=True):
        m.delivered = ok and acked


async def _publish_all(
    producer: AIOKafkaProducer,
    groups: Sequence[Sequence[Record]],
    logs: Sequence[Any],
    settings: Settings,
) -> list[bool]:
    """Send every record of every group concurrently (the producer batches them) and wait for
    the broker. A group's failed records are retried with exponential backoff, ``max_attempts``
    tries in all; True for each group whose records were all acknowledged."""
    pending = {i: list(group) for i, group in enumerate(groups) if group}
    delay = settings.retry_backoff_ms / 1000
    for attempt in range(1, settings.max_attempts + 1):
        sends = [(i, record) for i, records in pending.items() for record in records]
        results = await asyncio.gather(
            *(_publish(producer, record) for _, record in sends), return_exceptions=True
        )
        failed: dict[int, list[Record]] = {}
        errors: dict[int, BaseException] = {}
        for (i, record), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                failed.setdefault(i, []).append(record)
                errors.setdefault(i, result)
        for i, exc in errors.items():
            logs[i].warning("publish_failed", attempt=attempt, error=type(exc).__name__)
        pending = failed
        if not pending:
            break
        if attempt < settings.max_attempts:
            await asyncio.sleep(delay)
            delay *= 2
    return [i not in pending for i in range(len(groups))]


class _Consumer(Protocol):
    """What committing needs of the consumer (``AIOKafkaConsumer``)."""

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


async def _commit(
    msg: KafkaMessage, messages: Sequence[_Message], held: dict[TopicPartition, int], logger: Any
) -> list[_Message]:
    consumer = msg.consumer
    if not isinstance(consumer, AIOKafkaConsumer):  # pragma: no cover - a real broker's consumer
        await (msg.ack() if all(m.delivered for m in messages) else msg.nack())
        return list(messages)
    return await commit_batch(consumer, messages, held, logger)


async def commit_batch(
    consumer: _Consumer,
    messages: Sequence[_Message],
    held: dict[TopicPartition, int],
    logger: Any,
) -> list[_Message]:
    """Commit a batch, each of its partitions up to its end, or up to its first undelivered
    message, rewound to and held there: that message and whatever follows it comes back, and no
    later batch commits that partition until the message is back. Returns the messages
    committed; none if the commit fails (they come back, with the same ids)."""
    first: dict[TopicPartition, int] = {}
    end: dict[TopicPartition, int] = {}
    stuck: dict[TopicPartition, int] = {}
    for m in messages:
        tp, offset = TopicPartition(m.source.topic, m.source.partition), m.source.offset
        first[tp] = min(first.get(tp, offset), offset)
        end[tp] = max(end.get(tp, offset + 1), offset + 1)
        if not m.delivered:
            stuck[tp] = min(stuck.get(tp, offset), offset)
    for tp, offset in first.items():
        if tp in held and offset <= held[tp]:
            del held[tp]  # read again from the held message on: the hold has done its work
    for tp, offset in stuck.items():
        # Before the commit, which may fail: a partition left unrewound would be committed past
        # the message by the next batch. One no longer assigned goes back to its committed offset.
        with contextlib.suppress(IllegalStateError):
            consumer.seek(tp, offset)
        held[tp] = offset
    if stuck:
        logger.error(
            "batch_rewound",
            partitions={f"{tp.topic}:{tp.partition}": offset for tp, offset in stuck.items()},
        )
    # A partition held by an earlier batch's rewind is not committed: these records were read
    # before the rewind and come back after it.
    upto = {
        tp: stuck.get(tp, offset) for tp, offset in end.items() if tp in stuck or tp not in held
    }
    progress = {tp: offset for tp, offset in upto.items() if offset > first[tp]}
    if progress:
        try:
            await consumer.commit(progress)
        except KafkaError as exc:  # a rebalance took the partitions: their new owner reads them
            logger.warning(
                "commit_failed",
                error=type(exc).__name__,
                partitions={f"{tp.topic}:{tp.partition}": o for tp, o in progress.items()},
            )
            return []
    return [
        m
        for m in messages
        if m.source.offset < upto.get(TopicPartition(m.source.topic, m.source.partition), -1)
    ]


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
