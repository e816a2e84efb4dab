"""Kafka plumbing for the benchmarks: topics, publishing, reading outputs, service processes.

Everything runs against one embedded broker (tansu, ``start_broker()``). Each measurement gets
its own topics (a unique prefix) and consumer group, so measurements cannot see each other's
records. The services under test run as separate processes (``python -m tcam_bridge run`` or
``python -m benchmarks.ceiling``), configured through ``TCAM_*`` variables like a deployment,
so their memory is their own and the driver's work (publishing, reading outputs) does not run on
their event loop. Every one of them gets the same ``ConsumerSettings`` (batch size, fetch wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.workload import PHARMACIES, Message
from tcam_bridge.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
FHIR_JSON = [("content-type", b"application/fhir+json")]


@dataclass(frozen=True, slots=True)
class Topics:
    """One measurement's topics, all under a unique prefix.

    The ack and findings topics get ``wide`` partitions (the others one): a pipeline consuming
    one message at a time wrote each output record as its own batch, and tansu 0.6.0's memory
    storage was seen to stop serving fetches of a partition, even from offset 0, once a tailing
    consumer had read some 13,000 to 19,000 single-record batches of it. Batched consumption
    packs records into fewer batches, but a lightly loaded pipeline still gets batches of one or
    two messages: long runs keep every partition well below that count of batches.
    """

    prefix: str
    wide: int = 1

    @property
    def discharge(self) -> str:
        return f"{self.prefix}.discharge.v1"

    @property
    def ack(self) -> str:
        return f"{self.prefix}.discharge.ack.v1"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.discharge.dlq.v1"

    @property
    def unrouted(self) -> str:
        return f"{self.prefix}.referrals.unrouted.v1"

    @property
    def findings(self) -> str:
        return f"{self.prefix}.safety.findings.v1"

    @property
    def ceiling_out(self) -> str:
        return f"{self.prefix}.ceiling.out.v1"

    @property
    def pharmacy_template(self) -> str:
        return f"{self.prefix}.pharmacy.{{ods}}.referrals.v1"

    @property
    def referrals(self) -> list[str]:
        return [self.pharmacy_template.format(ods=ods) for ods in PHARMACIES] + [self.unrouted]

    @property
    def outputs(self) -> list[str]:
        return [self.ack, self.dlq, self.findings, self.ceiling_out, *self.referrals]

    def partitions(self, name: str) -> list[TopicPartition]:
        count = self.wide if name in (self.ack, self.findings) else 1
        return [TopicPartition(name, p) for p in range(count)]

    def env(self, bootstrap: str) -> dict[str, str]:
        """The ``TCAM_*`` settings a service process needs for these topics."""
        return {
            "TCAM_BOOTSTRAP_SERVERS": bootstrap,
            "TCAM_ENABLE_IDEMPOTENCE": "false",  # tansu rejects aiokafka's idempotent producer
            "TCAM_CONSUMER_GROUP": f"{self.prefix}-group",
            "TCAM_TOPIC_DISCHARGE": self.discharge,
            "TCAM_TOPIC_ACK": self.ack,
            "TCAM_TOPIC_DLQ": self.dlq,
            "TCAM_TOPIC_PHARMACY_TEMPLATE": self.pharmacy_template,
            "TCAM_TOPIC_UNROUTED": self.unrouted,
            "TCAM_TOPIC_FINDINGS": self.findings,
            "TCAM_LOG_LEVEL": "INFO",  # the default: 2 FastStream lines a batch, 1 line a discharge
            "TCAM_LOG_FORMAT": "json",
        }


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """How every service process under test consumes (``tcam run`` and the ceilings alike)."""

    batch_max_records: int  # TCAM_BATCH_MAX_RECORDS: most discharges per batch
    fetch_max_wait_ms: int  # TCAM_FETCH_MAX_WAIT_MS: longest the broker may hold a fetch

    def env(self) -> dict[str, str]:
        return {
            "TCAM_BATCH_MAX_RECORDS": str(self.batch_max_records),
            "TCAM_FETCH_MAX_WAIT_MS": str(self.fetch_max_wait_ms),
        }


# What a deployment gets when it sets neither (the settings' defaults).
SERVICE_DEFAULTS = ConsumerSettings(
    int(Settings.model_fields["batch_max_records"].default),
    int(Settings.model_fields["fetch_max_wait_ms"].default),
)
LINGER_MS = int(Settings.model_fields["linger_ms"].default)  # every service process keeps it


def new_topics(label: str, wide: int = 1) -> Topics:
    return Topics(f"bench-{label}-{uuid.uuid4().hex[:8]}", wide)


async def create_topics(bootstrap: str, topics: Topics, partitions: int) -> None:
    """The discharge topic with ``partitions`` partitions, the outputs as ``Topics`` says."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        wanted = [NewTopic(topics.discharge, partitions, 1)]
        wanted += [NewTopic(name, len(topics.partitions(name)), 1) for name in topics.outputs]
        response = await admin.create_topics(wanted)
        errors = [(t, code) for t, code, *_ in response.topic_errors if code != 0]
        if errors:
            msg = f"CreateTopics failed: {errors}"
            raise RuntimeError(msg)
    finally:
        await admin.close()


def producer(bootstrap: str) -> AIOKafkaProducer:
    """The driver's producer, standing in for the hospitals' EPRs."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="tcam-bench-epr",
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=1 * MIB,
        max_request_size=8 * MIB,
    )


async def publish_all(bootstrap: str, topic: str, messages: Iterable[Message]) -> int:
    """Publish as fast as the broker takes them; return how many were sent."""
    sent = 0
    epr = producer(bootstrap)
    await epr.start()
    try:
        pending: list[asyncio.Future[object]] = []
        for m in messages:
            pending.append(await epr.send(topic, m.value, key=m.key, headers=FHIR_JSON))
            sent += 1
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await epr.stop()
    return sent


OnRecord = Callable[[ConsumerRecord[bytes, bytes], float], None]


class Reader:
    """Reads output topics from the start, with no consumer group; calls ``on_record`` with
    each record and the wall-clock time its batch was read."""

    def __init__(
        self, bootstrap: str, partitions: Iterable[TopicPartition], on_record: OnRecord
    ) -> None:
        self._bootstrap = bootstrap
        self._partitions = list(partitions)
        self._on_record = on_record
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id="tcam-bench-reader",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
            max_partition_fetch_bytes=8 * MIB,
        )
        await consumer.start()
        consumer.assign(self._partitions)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    self._on_record(record, now)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        if self._consumer is not None:
            await self._consumer.stop()


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident memory in MB (10^6 bytes; /proc reports kB = 1024 bytes)."""

    rss_mb: float  # VmRSS: resident now
    hwm_mb: float  # VmHWM: peak resident since the process started


class Service:
    """A service process under test, with its output (JSON logs, ids only) in ``log_path``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def pipeline(
        cls,
        topics: Topics,
        bootstrap: str,
        consumer: ConsumerSettings,
        log_dir: Path,
        name: str,
    ) -> Service:
        argv = [sys.executable, "-m", "tcam_bridge", "run"]
        return cls.under_test(argv, topics, bootstrap, consumer, log_dir, name)

    @classmethod
    def ceiling(
        cls,
        mode: str,
        topics: Topics,
        bootstrap: str,
        consumer: ConsumerSettings,
        log_dir: Path,
        name: str,
    ) -> Service:
        argv = [sys.executable, "-m", "benchmarks.ceiling", mode, topics.ceiling_out]
        return cls.under_test(argv, topics, bootstrap, consumer, log_dir, name)

    @classmethod
    def under_test(
        cls,
        argv: list[str],
        topics: Topics,
        bootstrap: str,
        consumer: ConsumerSettings,
        log_dir: Path,
        name: str,
    ) -> Service:
        """A consumer process on ``topics`` with the run's consumer settings, logging to
        ``log_dir/<name>.log``."""
        env = {**topics.env(bootstrap), **consumer.env()}
        return cls(name, argv, env, log_dir / f"{name}.log")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def memory(self) -> Memory | None:
        """VmRSS and VmHWM from /proc (Linux), or None once the process has gone."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            rss = int(fields["VmRSS"].split()[0]) * 1024 / 1e6
            hwm = int(fields["VmHWM"].split()[0]) * 1024 / 1e6
        except (KeyError, ValueError, IndexError):
            return None
        return Memory(rss, hwm)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM this process (by its pid) and wait; SIGKILL it if it does not exit."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def processed_by_partition(self) -> Counter[int]:
        """Discharges this pipeline process finished, per partition (from its JSON logs)."""
        counts: Counter[int] = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"discharge_processed"' not in line:
                continue
            try:
                counts[int(json.loads(line)["partition"])] += 1
            except (ValueError, KeyError, TypeError):
                continue
        return counts

    def assignments(self) -> int:
        """Partition assignments this consumer received (FastStream logs each): more than one
        means the group rebalanced while it ran."""
        return self.log_path.read_text(errors="replace").count("assigned to partitions")

    def received_times(self) -> dict[str, float]:
        """When this pipeline process took up each discharge, by Bundle id: the
        ``received_at`` of its ``discharge_processed`` log line."""
        out: dict[str, float] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"discharge_processed"' in line:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    event = json.loads(line)
                    at = datetime.fromisoformat(str(event["received_at"]).replace("Z", "+00:00"))
                    out[str(event["message_id"])] = at.timestamp()
        return out

    def batch_sizes(self) -> list[int]:
        """Messages in each batch this process handled, in order of their commits (from its
        logs): the ``records`` of the pipeline's ``batch_committed`` lines, or of the
        ceiling's ``ceiling_batch`` lines."""
        sizes: list[int] = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"batch_committed"' in line or '"ceiling_batch"' in line:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    sizes.append(int(json.loads(line)["records"]))
        return [n for n in sizes if n]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class MemorySampler:
    """Samples a service's VmRSS every ``interval`` seconds while running."""

    service: Service
    interval: float = 0.25
    samples: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, RSS MB)
    last: Memory | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def sample(self) -> Memory | None:
        memory = self.service.memory()
        if memory is not None:
            self.last = memory
            self.samples.append((time.monotonic(), memory.rss_mb))
        return memory

    async def stop(self) -> None:
        self.sample()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def peak_rss(self) -> float:
        return max((rss for _, rss in self.samples), default=0.0)

    @property
    def hwm(self) -> float:
        return self.last.hwm_mb if self.last else 0.0


async def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, services: Iterable[Service] = ()
) -> None:
    """Poll ``predicate``; fail with the services' last log lines after ``timeout`` seconds."""
    watched = list(services)
    deadline = time.monotonic() + timeout
    while not predicate():
        for service in watched:
            if not service.alive():
                msg = f"{service.name} exited while waiting for {what}:\n{service.log_tail()}"
                raise RuntimeError(msg)
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in watched)
            msg = f"timed out after {timeout:.0f}s waiting for {what}\n{tails}"
            raise TimeoutError(msg)
        await asyncio.sleep(0.05)


def cpu_seconds(pid: int) -> float | None:
    """CPU time of a process so far, its threads included, from /proc: the sum of its
    live threads' run time in nanoseconds (``task/*/schedstat``; the services' threads live as
    long as they do), else user plus system time in clock ticks (``stat``), whose 10 ms steps
    can read a short window as no CPU at all."""
    try:
        running = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            running += int((task / "schedstat").read_text().split()[0])
        if running > 0:
            return running / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """CPU time used by each party: the process(es) under test, the broker and this driver
    (publisher and reader). A timed window is the difference of two snapshots."""

    pids: dict[str, int]  # name -> pid; the driver is always measured

    def snapshot(self) -> dict[str, float]:
        """CPU seconds used so far by each party."""
        now = {"driver": time.process_time()}
        for name, pid in self.pids.items():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                now[name] = seconds
        return now


async def stall_report(bootstrap: str, topics: Topics, partitions: int, acks_read: int) -> str:
    """Where a stalled flow stopped: discharges published vs committed by the pipeline's group,
    acks written vs read by the driver. Counts only."""
    discharge = [TopicPartition(topics.discharge, p) for p in range(partitions)]
    acks = topics.partitions(topics.ack)
    # A consumer in the pipeline's group that never subscribes: it only asks for the group's
    # committed offsets, it does not join the group.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"{topics.prefix}-group",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        ends = await consumer.end_offsets([*discharge, *acks])
        committed = [await consumer.committed(tp) or 0 for tp in discharge]
    except Exception as exc:  # a diagnosis must not hide the stall it describes
        return f"no diagnosis ({type(exc).__name__})"
    finally:
        await consumer.stop()
    published, done = sum(ends[tp] for tp in discharge), sum(committed)
    return (
        f"discharge topic: {published:,} published, {done:,} committed by the pipeline's group"
        f" (lag {published - done:,}); ack topic: {sum(ends[tp] for tp in acks):,} written,"
        f" {acks_read:,} read by the driver (end offsets as the broker reports them)"
    )
