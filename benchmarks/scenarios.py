"""The measurements that go through Kafka (the embedded broker).

* ``drain``: pre-load N discharges, start one consumer process (a ceiling or ``tcam run``) and
  time it draining them: from the creation time of the W-th completion record (the ceiling's
  republished message, or the pipeline's ack) to the moment the driver reads the N-th one.
  Throughput is (N - W) / that time, so it excludes process start-up, the group join and the
  cold first messages. The consumers take messages in batches, so W is the end of a batch (the
  first batch end at or after ``drain_warmup(N)``, from the process's logs): the window then
  holds whole batches, their work included, and no record whose work was done before it. CPU
  time of the consumer, the broker and the driver is measured over the same window.
* ``latency_and_memory``: one ``tcam run`` process under a fixed offered load (publish time to
  the time the referral is read back), then a long run of many messages with a bounded backlog,
  sampling the process's VmRSS and VmHWM from /proc.
* ``scale_out``: one or more ``tcam run`` processes in one consumer group over a discharge topic
  with several partitions, started and warmed up until every process is working, then timed
  draining a burst of messages, from the start of its publication to the last ack read.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from benchmarks.harness import (
    FHIR_JSON,
    ConsumerSettings,
    CpuMeter,
    MemorySampler,
    Reader,
    Service,
    create_topics,
    header,
    new_topics,
    producer,
    publish_all,
    stall_report,
    wait_until,
)
from benchmarks.workload import Message, discharge

Kind = Literal["passthrough", "validate", "check", "pipeline"]
Quantiles = tuple[float, float, float, float]  # p50, p95, p99, max
KIND_NAMES: dict[Kind, str] = {
    "passthrough": "1. pass-through ceiling (decode, republish, commit)",
    "validate": "2. validation ceiling (1 + R4B Bundle.model_validate)",
    "check": "2b. compiled-check ceiling (1 + compiled structure check, models if it defers)",
    "pipeline": "3. full pipeline (tcam run: every check, referral, findings, ack, commit)",
}


@dataclass(frozen=True, slots=True)
class Drain:
    kind: Kind
    messages: int
    warmup: int  # completions before the timing started (the end of a batch when aligned)
    seconds: float
    peak_rss_mb: float
    hwm_mb: float
    outputs: dict[str, int]  # records read per output kind (pipeline only)
    cpu_ms: dict[str, float]  # CPU ms per timed message: consumer, broker, driver
    batches: tuple[int, ...] = ()  # sizes of the timed batches (from the process's logs)
    aligned: bool = True  # False: no batch ended in range, timed from completion W anyway

    @property
    def name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def per_second(self) -> float:
        timed = self.messages - self.warmup
        return timed / self.seconds if self.seconds > 0 else 0.0

    @property
    def mean_batch(self) -> float:
        return sum(self.batches) / len(self.batches) if self.batches else 0.0


@dataclass
class _Completions:
    """Completion records seen by the reader, in the order they were written: each one's
    creation time, the read time of the last, and CPU snapshots from the meter (at each of
    the ``span`` completions from the ``skip``-th on, and at the last)."""

    target: int
    skip: int = 0  # completions before the timing may start (the consumer's warm-up)
    span: int = 0  # further completions at which a CPU snapshot is kept (one batch)
    meter: CpuMeter | None = None
    count: int = 0
    created: list[float] = field(default_factory=list)  # seconds since the epoch
    snapshots: dict[int, dict[str, float]] = field(default_factory=dict)  # by completion count
    last_read: float = 0.0
    by_kind: Counter[str] = field(default_factory=Counter)

    def note(self, created_ms: int, read_at: float) -> None:
        self.count += 1
        self.created.append(created_ms / 1000)
        if self.meter is not None and (
            self.skip <= self.count <= self.skip + self.span or self.count == self.target
        ):
            self.snapshots[self.count] = self.meter.snapshot()
        if self.count == self.target:
            self.last_read = read_at

    @property
    def done(self) -> bool:
        return self.count >= self.target

    def seconds_after(self, start: int) -> float:
        """From the creation of completion ``start`` (1-based) to the read of the last."""
        return self.last_read - self.created[start - 1]

    def cpu_ms_after(self, start: int) -> dict[str, float]:
        """CPU ms per completion after ``start``, by party, between their snapshots."""
        end = self.snapshots.get(self.target)
        return _per_message(self.snapshots.get(start), end, self.target - start)


def _per_message(
    begin: dict[str, float] | None, end: dict[str, float] | None, count: int
) -> dict[str, float]:
    """CPU ms per message by party between two ``CpuMeter.snapshot()``s."""
    if begin is None or end is None or count <= 0:
        return {}
    return {k: (end[k] - v) * 1000 / count for k, v in begin.items() if k in end}


def drain_warmup(messages: int) -> int:
    """Completions not timed at the start of a drain: a fresh process's first messages pay for
    lazy imports and model builds (1/10 of the backlog, at most 50, at least 1). The timing
    starts at the first batch end at or after this many."""
    return max(1, min(50, messages // 10))


def batch_end(sizes: list[int], at_least: int, below: int) -> int | None:
    """The first end of a batch (a running total of ``sizes``) in ``[at_least, below)``."""
    total = 0
    for size in sizes:
        total += size
        if total >= below:
            return None
        if total >= at_least:
            return total
    return None


async def drain(
    bootstrap: str,
    broker_pid: int,
    kind: Kind,
    messages: list[Message],
    partitions: int,
    consumer: ConsumerSettings,
    log_dir: Path,
) -> Drain:
    topics = new_topics(kind)
    await create_topics(bootstrap, topics, partitions)
    await publish_all(bootstrap, topics.discharge, messages)
    done = _Completions(
        len(messages), skip=drain_warmup(len(messages)), span=consumer.batch_max_records
    )
    pipeline = kind == "pipeline"
    kinds = {
        topics.ack: "ack",
        topics.findings: "findings",
        topics.dlq: "dead letter",
        **dict.fromkeys(topics.referrals, "referral"),
    }

    def on_record(record: ConsumerRecord[bytes, bytes], read_at: float) -> None:
        if pipeline:
            done.by_kind[kinds[record.topic]] += 1
            if record.topic != topics.ack:
                return
        done.note(record.timestamp, read_at)

    names = list(kinds) if pipeline else [topics.ceiling_out]
    reader = Reader(bootstrap, [tp for n in names for tp in topics.partitions(n)], on_record)
    await reader.start()
    if pipeline:
        service = Service.pipeline(topics, bootstrap, consumer, log_dir, f"drain-{kind}")
    else:
        service = Service.ceiling(kind, topics, bootstrap, consumer, log_dir, f"drain-{kind}")
    service.start()
    done.meter = CpuMeter({"consumer": service.pid, "broker": broker_pid})
    sampler = MemorySampler(service)
    sampler.start()
    try:
        await wait_until(lambda: done.done, 120 + len(messages) / 10, f"{kind} to drain", [service])
        if pipeline:  # the last ack is written after its referral and findings: let them land
            expected = len(messages)
            await wait_until(
                lambda: (
                    done.by_kind["referral"] >= expected and done.by_kind["findings"] >= expected
                ),
                30,
                "the last referrals and findings",
            )
    finally:
        await sampler.stop()
        service.stop()
        await reader.stop()
    sizes = service.batch_sizes()
    start = batch_end(sizes, done.skip, len(messages))
    aligned = start is not None
    if start is None:
        start = done.skip
    timed, total = [], 0
    for size in sizes:
        total += size
        if total > start:
            timed.append(size)
    return Drain(
        kind,
        len(messages),
        start,
        done.seconds_after(start),
        sampler.peak_rss,
        sampler.hwm,
        dict(done.by_kind) if pipeline else {},
        done.cpu_ms_after(start),
        tuple(timed),
        aligned,
    )


@dataclass(frozen=True, slots=True)
class Latency:
    rate: float  # offered, messages per second
    seconds: float  # planned duration
    sent: int
    send_seconds: float  # how long sending actually took
    received: int  # referrals read back
    read_ms: Quantiles  # publish -> referral read by the driver (the figure of the target)
    created_ms: Quantiles  # publish -> referral record created by the pipeline's producer
    waiting_ms: Quantiles  # publish -> the pipeline starts handling it (broker, fetch, queue)
    handling_ms: Quantiles  # the pipeline starts handling it -> referral record created

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.send_seconds if self.send_seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    messages: int  # processed by the pipeline process so far (acks read)
    rss_mb: float


@dataclass(frozen=True, slots=True)
class MemoryRun:
    messages: int
    window: int  # most messages published but not yet acknowledged
    seconds: float
    start_rss_mb: float  # after the warm-up, before the offered load
    points: tuple[MemoryPoint, ...]
    end_rss_mb: float
    hwm_mb: float  # VmHWM: the process's peak RSS over its whole life
    peak_sampled_mb: float
    planned: int = 0  # messages the run was to feed; more than ``messages`` after a stall
    stall: str | None = None  # why it ended early: no progress for STALL_SECONDS

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def growth_mb(self) -> float:
        """RSS at the end minus RSS at the first checkpoint (after a tenth of the messages)."""
        return self.end_rss_mb - self.points[0].rss_mb if self.points else 0.0


def percentiles(values: list[float]) -> Quantiles:
    """p50, p95, p99 and max."""
    if not values:
        return (0.0, 0.0, 0.0, 0.0)
    if len(values) == 1:
        return (values[0], values[0], values[0], values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (cuts[49], cuts[94], cuts[98], max(values))


class _Flow:
    """What the latency and memory runs read back: referral and ack times by message id."""

    def __init__(self, referral_topics: set[str], ack_topic: str) -> None:
        self.referral_topics = referral_topics
        self.ack_topic = ack_topic
        self.referral_read: dict[str, float] = {}
        self.referral_created: dict[str, float] = {}
        self.acked: set[str] = set()

    def all_acked(self, ids: set[str]) -> Callable[[], bool]:
        return lambda: ids <= self.acked

    def on_record(self, record: ConsumerRecord[bytes, bytes], read_at: float) -> None:
        message_id = header(record, "tcam-message-id")
        if message_id is None:
            return
        if record.topic == self.ack_topic:
            self.acked.add(message_id)
        elif record.topic in self.referral_topics:
            self.referral_read.setdefault(message_id, read_at)
            self.referral_created.setdefault(message_id, record.timestamp / 1000)


async def _warm_up(bootstrap: str, topic: str, messages: list[Message], flow: _Flow) -> None:
    await publish_all(bootstrap, topic, messages)
    ids = {m.message_id for m in messages}
    await wait_until(lambda: ids <= flow.acked, 120, "warm-up acks")


async def latency_and_memory(
    bootstrap: str,
    seed: int,
    *,
    rates: list[float],
    seconds: float,
    memory_messages: int,
    partitions: int,
    consumer: ConsumerSettings,
    log_dir: Path,
    window: int = 200,
) -> tuple[list[Latency], MemoryRun]:
    """Latency under each offered load in ``rates`` (one after the other, the pipeline idle
    before each), then the memory run, all in one ``tcam run`` process."""
    expected = 50 + sum(int(rate * seconds) for rate in rates) + memory_messages
    topics = new_topics("latency", wide=max(1, math.ceil(expected / PER_PARTITION)))
    await create_topics(bootstrap, topics, partitions)
    flow = _Flow(set(topics.referrals), topics.ack)
    watched = [tp for name in (topics.ack, *topics.referrals) for tp in topics.partitions(name)]
    reader = Reader(bootstrap, watched, flow.on_record)
    await reader.start()
    service = Service.pipeline(topics, bootstrap, consumer, log_dir, "latency-memory")
    service.start()
    sampler = MemorySampler(service)
    sampler.start()
    next_index = 0

    def take(count: int) -> list[Message]:
        nonlocal next_index
        batch = [discharge(seed, i) for i in range(next_index, next_index + count)]
        next_index += count
        return batch

    try:
        await _warm_up(bootstrap, topics.discharge, take(50), flow)
        start_memory = sampler.sample()
        latencies = []
        for rate in rates:
            load = take(max(1, int(rate * seconds)))
            latencies.append(
                await _offered_load(bootstrap, topics.discharge, load, rate, flow, service)
            )
        run = await _memory_run(
            bootstrap, topics.discharge, seed, next_index, memory_messages, window, flow, sampler
        )
        stall = None
        if run.processed < memory_messages:
            where = await stall_report(bootstrap, topics, partitions, len(flow.acked))
            stall = (
                f"no ack for {STALL_SECONDS} s after {run.processed:,} of {memory_messages:,}"
                f" messages; {where}"
            )
        end = sampler.sample()
        memory = MemoryRun(
            messages=run.processed,
            window=window,
            seconds=run.seconds,
            start_rss_mb=start_memory.rss_mb if start_memory else 0.0,
            points=run.points,
            end_rss_mb=end.rss_mb if end else 0.0,
            hwm_mb=sampler.hwm,
            peak_sampled_mb=sampler.peak_rss,
            planned=memory_messages,
            stall=stall,
        )
    finally:
        await sampler.stop()
        service.stop()
        await reader.stop()
    return latencies, memory


async def _offered_load(
    bootstrap: str,
    topic: str,
    messages: list[Message],
    rate: float,
    flow: _Flow,
    service: Service,
) -> Latency:
    """Publish at ``rate`` messages per second on a fixed schedule (not waiting for the
    broker's acknowledgements), then wait for every referral."""
    published: dict[str, float] = {}
    epr = producer(bootstrap)
    await epr.start()
    pending: list[asyncio.Future[object]] = []
    try:
        start = time.monotonic()
        for i, m in enumerate(messages):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            published[m.message_id] = time.time()
            pending.append(await epr.send(topic, m.value, key=m.key, headers=FHIR_JSON))
        send_seconds = time.monotonic() - start
        await asyncio.gather(*pending)
    finally:
        await epr.stop()
    ids = set(published)
    await wait_until(
        lambda: ids <= flow.referral_read.keys(), 60 + len(ids) / 10, "referrals under load"
    )
    read = [(flow.referral_read[i] - t) * 1000 for i, t in published.items()]
    created = [(flow.referral_created[i] - t) * 1000 for i, t in published.items()]
    await wait_until(flow.all_acked(ids), 60, "the offered load's acks", [service])
    received = service.received_times()
    started = {i: received[i] for i in ids if i in received}
    waiting = [(started[i] - published[i]) * 1000 for i in started]
    handling = [(flow.referral_created[i] - started[i]) * 1000 for i in started]
    return Latency(
        rate=rate,
        seconds=len(messages) / rate,
        sent=len(messages),
        send_seconds=send_seconds,
        received=len(ids & flow.referral_read.keys()),
        read_ms=percentiles(read),
        created_ms=percentiles(created),
        waiting_ms=percentiles(waiting),
        handling_ms=percentiles(handling),
    )


STALL_SECONDS = 120
PER_PARTITION = 8000  # most single-record batches per output partition (see harness.Topics)
REFILL = 20  # the memory run publishes in chunks of this many, so batches hold several


@dataclass(frozen=True, slots=True)
class _Fed:
    processed: int
    seconds: float
    points: tuple[MemoryPoint, ...]


async def _memory_run(
    bootstrap: str,
    topic: str,
    seed: int,
    start_index: int,
    count: int,
    window: int,
    flow: _Flow,
    sampler: MemorySampler,
) -> _Fed:
    """Feed ``count`` messages, at most ``window`` unacknowledged at a time, recording RSS each
    time another tenth has been processed. Messages are generated as they are sent. Stops early,
    without raising, when no ack comes for ``STALL_SECONDS``."""
    base = len(flow.acked)  # every earlier message is acknowledged by now

    def done() -> int:
        return len(flow.acked) - base

    points: list[MemoryPoint] = []

    async def checkpoints() -> None:
        step = max(1, count // 10)
        for target in range(step, count + 1, step):
            if points and points[-1].messages >= target:
                continue  # a batch's acks came together: this tenth is already recorded
            await wait_until(partial(_reached, done, target), 10**6, "a checkpoint")
            memory = sampler.sample()
            points.append(MemoryPoint(done(), memory.rss_mb if memory else 0.0))

    recorder = asyncio.create_task(checkpoints())
    epr = producer(bootstrap)
    await epr.start()
    pending: list[asyncio.Future[object]] = []
    start = time.monotonic()
    try:
        for sent, m in enumerate(_messages(seed, start_index, count)):
            if sent - done() >= window:  # full: wait for room for a whole chunk
                await wait_until(
                    partial(_below, sent, done, window - REFILL), STALL_SECONDS, "acks"
                )
            pending.append(await epr.send(topic, m.value, key=m.key, headers=FHIR_JSON))
            if len(pending) >= REFILL:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await wait_until(partial(_reached, done, count), STALL_SECONDS, "the last acks")
        await asyncio.wait_for(recorder, 30)
    except TimeoutError:
        pass  # a stall: reported by the caller with a diagnosis
    finally:
        recorder.cancel()
        await epr.stop()
    seconds = time.monotonic() - start
    processed = done()
    memory = sampler.sample()
    if not points or points[-1].messages != processed:
        points.append(MemoryPoint(processed, memory.rss_mb if memory else 0.0))
    return _Fed(processed, seconds, tuple(points))


def _reached(done: Callable[[], int], target: int) -> bool:
    return done() >= target


def _below(sent: int, done: Callable[[], int], window: int) -> bool:
    return sent - done() < window


def _messages(seed: int, start: int, count: int) -> Iterator[Message]:
    for index in range(start, start + count):
        yield discharge(seed, index)


@dataclass(frozen=True, slots=True)
class ScaleOut:
    processes: int
    partitions: int
    messages: int
    seconds: float  # from the start of the burst's publication to the last ack read
    warmup_seconds: float  # start to every process working (group joins and rebalances)
    per_process: tuple[int, ...]  # measured messages each process handled
    partitions_by_process: tuple[tuple[int, ...], ...]
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per message, by party
    assignments: tuple[int, ...] = ()  # partition assignments each process received in all
    error: str | None = None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


async def scale_out(
    bootstrap: str,
    broker_pid: int,
    processes: int,
    messages: list[Message],
    warmup: list[Message],
    partitions: int,
    consumer: ConsumerSettings,
    log_dir: Path,
) -> ScaleOut:
    topics = new_topics(f"scale{processes}")
    await create_topics(bootstrap, topics, partitions)
    measured = {m.message_id for m in messages}
    done = _Completions(len(messages))
    acked: set[str] = set()

    def on_record(record: ConsumerRecord[bytes, bytes], read_at: float) -> None:
        message_id = header(record, "tcam-message-id")
        if message_id is None:
            return
        acked.add(message_id)
        if message_id in measured:
            done.note(record.timestamp, read_at)

    reader = Reader(bootstrap, topics.partitions(topics.ack), on_record)
    await reader.start()
    services = [
        Service.pipeline(topics, bootstrap, consumer, log_dir, f"scale{processes}-p{n + 1}")
        for n in range(processes)
    ]
    started = time.monotonic()
    for s in services:
        s.start()
    try:
        # Warm up in small batches until every process has handled a message, so the group has
        # settled (joins and rebalances done) before the timed burst.
        sent_warmup: set[str] = set()
        deadline = time.monotonic() + 120
        while not all(s.processed_by_partition() for s in services):
            if time.monotonic() > deadline:
                idle = ", ".join(s.name for s in services if not s.processed_by_partition())
                waited = time.monotonic() - started
                error = f"no work reached {idle} within 120 s"
                return ScaleOut(
                    processes, partitions, len(messages), 0.0, waited, (), (), error=error
                )
            batch = warmup[len(sent_warmup) : len(sent_warmup) + 8]
            if batch:
                await publish_all(bootstrap, topics.discharge, batch)
                sent_warmup |= {m.message_id for m in batch}
            await asyncio.sleep(0.5)
        await wait_until(lambda: sent_warmup <= acked, 120, "scale-out warm-up acks", services)
        warmup_seconds = time.monotonic() - started
        before = [s.processed_by_partition() for s in services]
        pids = {f"pipeline {n + 1}": s.pid for n, s in enumerate(services)}
        # Timed from the start of the burst, not from its first ack: a batched consumer creates
        # a batch's acks together, after the batch's work.
        done.meter = CpuMeter({**pids, "broker": broker_pid})
        cpu_start = done.meter.snapshot()
        burst_start = time.time()
        await publish_all(bootstrap, topics.discharge, messages)
        await wait_until(lambda: done.done, 120 + len(messages) / 10, "scale-out burst", services)
    finally:
        for s in services:
            s.stop()
        await reader.stop()
    after = [s.processed_by_partition() for s in services]
    per_process = tuple(sum((a - b).values()) for a, b in zip(after, before, strict=True))
    by_partition = tuple(tuple(sorted(+(a - b))) for a, b in zip(after, before, strict=True))
    return ScaleOut(
        processes,
        partitions,
        len(messages),
        done.last_read - burst_start,
        warmup_seconds,
        per_process,
        by_partition,
        _per_message(cpu_start, done.snapshots.get(done.target), len(messages)),
        tuple(s.assignments() for s in services),
    )


@dataclass(frozen=True, slots=True)
class FetchProbe:
    fetch_max_wait_ms: int
    latency_ms: Quantiles  # publish -> consumed, one record at a time


async def fetch_probe(bootstrap: str, waits: tuple[int, ...] = (500, 10)) -> list[FetchProbe]:
    """How long the broker holds a consumer's fetch when a record arrives during it: publish
    one small record every 37 ms and time each until a plain aiokafka consumer (no group) gets
    it, with each ``fetch_max_wait_ms`` of ``waits`` (the run gives the service's default and
    the one its service processes use)."""
    probes = []
    for wait in waits:
        topics = new_topics(f"fetch{wait}")
        await create_topics(bootstrap, topics, 1)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, fetch_max_wait_ms=wait, enable_auto_commit=False
        )
        await consumer.start()
        consumer.assign([TopicPartition(topics.discharge, 0)])
        epr = producer(bootstrap)
        await epr.start()
        latencies: list[float] = []

        async def consume(c: AIOKafkaConsumer = consumer, out: list[float] = latencies) -> None:
            while len(out) < 40:
                batches = await c.getmany(timeout_ms=1000)
                now = time.time()
                out.extend((now - float(r.value)) * 1000 for rs in batches.values() for r in rs)

        task = asyncio.create_task(consume())
        try:
            await asyncio.sleep(0.5)
            for _ in range(40):
                await epr.send_and_wait(topics.discharge, str(time.time()).encode())
                await asyncio.sleep(0.037)
            await asyncio.wait_for(task, 30)
        finally:
            await epr.stop()
            await consumer.stop()
        probes.append(FetchProbe(wait, percentiles(latencies)))
    return probes
