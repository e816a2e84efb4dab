"""Helpers for the crash and fault tests: synthetic discharges, `tcam run` as a process, and a
reader that keeps every output record (duplicates included, unlike ``demo.Outputs``)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tcam_bridge.core.identifiers import nhs_number_check_digit
from tcam_bridge.core.terminology import NHS_NUMBER
from tcam_bridge.demo import output_pattern
from tcam_bridge.settings import Settings
from tests.integration.conftest import EXAMPLES

TCAM = [sys.executable, "-m", "tcam_bridge"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
NAMESPACE = uuid.UUID("6f1c2a52-55c4-4d0e-9a59-3f0c1d7b8e21")  # fixed: ids are reproducible

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# synthetic discharge messages


def nhs_numbers(start: int = 0) -> Iterator[str]:
    """Valid (Modulus 11) NHS numbers in the 999 test range, in order, from ``999{start:06}``."""
    for n in range(start, 1_000_000):
        first_nine = f"999{n:06d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            yield f"{first_nine}{check}"


def example(name: str) -> JSON:
    data: JSON = json.loads((EXAMPLES / name).read_bytes())
    return data


def to_bytes(bundle: JSON) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Discharge:
    """One published input: its bytes, its ids and what the pipeline should make of it."""

    raw: bytes
    message_id: str
    header_id: str
    nhs_number: str
    template: str


def variant(template: JSON, label: str, nhs_number: str, *, name: str = "") -> Discharge:
    """``template`` with a new message id, MessageHeader.id and NHS number (ids from ``label``)."""
    bundle = copy.deepcopy(template)
    message_id = str(uuid.uuid5(NAMESPACE, f"{label}|message"))
    header_id = str(uuid.uuid5(NAMESPACE, f"{label}|header"))
    bundle["identifier"]["value"] = message_id
    header = bundle["entry"][0]
    assert header["resource"]["resourceType"] == "MessageHeader"
    header["resource"]["id"] = header_id
    header["fullUrl"] = f"urn:uuid:{header_id}"
    set_nhs_number(bundle, nhs_number)
    return Discharge(to_bytes(bundle), message_id, header_id, nhs_number, name)


def set_nhs_number(bundle: JSON, nhs_number: str) -> None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            for ident in resource["identifier"]:
                if ident.get("system") == NHS_NUMBER:
                    ident["value"] = nhs_number
                    return
    msg = "no NHS number in the template"
    raise AssertionError(msg)


def set_nominated_pharmacy(bundle: JSON, code: str) -> None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            for ext in resource.get("extension", []):
                if ext["url"].endswith("Extension-UKCore-NominatedPharmacy"):
                    ext["valueReference"]["identifier"]["value"] = code
                    return
    msg = "no nominated pharmacy in the template"
    raise AssertionError(msg)


# ---------------------------------------------------------------------------------------------
# `tcam run` as a process


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `tcam run` process pointed at ``settings``' broker and topics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCAM_")}
    for name in (
        "bootstrap_servers",
        "consumer_group",
        "topic_discharge",
        "topic_ack",
        "topic_dlq",
        "topic_pharmacy_template",
        "topic_unrouted",
        "topic_findings",
        "retry_backoff_ms",
        "fetch_max_wait_ms",
    ):
        env[f"TCAM_{name.upper()}"] = str(getattr(settings, name))
    env["TCAM_ENABLE_IDEMPOTENCE"] = "false"
    env["TCAM_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


class Service:
    """`tcam run` in a child process; every start appends to one log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        assert self.process is None or self.process.poll() is not None
        self._log = self._log or self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*TCAM, "run"], env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self.process

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (then SIGKILL if it hangs); the exit code, or None if it had to be killed."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            return None

    def close(self) -> None:
        self.terminate()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def rss_kib(self) -> int:
        """Resident set size of the running process (VmRSS from /proc), in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
        assert match, status
        return int(match.group(1))


@contextlib.contextmanager
def frozen(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """SIGSTOP ``process`` (a broker) for the duration of the block; SIGCONT it always."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


# ---------------------------------------------------------------------------------------------
# producing and reading


async def start_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        **options,
    )
    await producer.start()
    return producer


@dataclass(frozen=True)
class Out:
    """One output record, as read back."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int = 0  # the producer's CreateTime

    def json(self) -> JSON:
        assert self.value is not None
        data: JSON = json.loads(self.value)
        return data

    @property
    def correlation_id(self) -> str:
        return self.headers.get("tcam-correlation-id", "?")

    @property
    def source(self) -> tuple[int, int]:
        return int(self.headers.get("tcam-source-partition", -1)), int(
            self.headers.get("tcam-source-offset", -1)
        )


def _out(record: Any) -> Out:
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
    return Out(record.topic, record.key, record.value, headers, record.timestamp)


@dataclass
class Collected:
    """Every output record, by kind, in the order read."""

    settings: Settings
    records: list[Out] = field(default_factory=list)

    def add(self, out: Out) -> None:
        self.records.append(out)

    def of(self, *topics: str) -> list[Out]:
        return [r for r in self.records if r.topic in topics]

    @property
    def acks(self) -> list[Out]:
        return self.of(self.settings.topic_ack)

    @property
    def dead_letters(self) -> list[Out]:
        return self.of(self.settings.topic_dlq)

    @property
    def findings(self) -> list[Out]:
        return self.of(self.settings.topic_findings)

    @property
    def referrals(self) -> list[Out]:
        fixed = {self.settings.topic_ack, self.settings.topic_dlq, self.settings.topic_findings}
        return [r for r in self.records if r.topic not in fixed]

    def acks_by_correlation(self) -> dict[str, list[Out]]:
        out: dict[str, list[Out]] = {}
        for r in self.acks:
            out.setdefault(r.correlation_id, []).append(r)
        return out

    def acks_by_source(self) -> dict[tuple[int, int], list[Out]]:
        out: dict[tuple[int, int], list[Out]] = {}
        for r in self.acks:
            out.setdefault(r.source, []).append(r)
        return out

    def dead_letters_by_source(self) -> dict[tuple[int, int], list[Out]]:
        out: dict[tuple[int, int], list[Out]] = {}
        for r in self.dead_letters:
            out.setdefault(r.source, []).append(r)
        return out

    def by_message_id(self, records: list[Out]) -> dict[str, list[Out]]:
        out: dict[str, list[Out]] = {}
        for r in records:
            out.setdefault(r.headers.get("tcam-message-id", "?"), []).append(r)
        return out


def ack_id(ack: Out) -> str:
    return str(ack.json()["id"])


def ack_code(ack: Out) -> str:
    return str(ack.json()["entry"][0]["resource"]["response"]["code"])


def ack_issues(ack: Out) -> list[JSON]:
    entries = ack.json()["entry"]
    return [i for e in entries[1:] for i in e["resource"].get("issue", [])]


def ack_reasons(ack: Out, *severities: str) -> set[str]:
    """The machine-readable reasons (issue.details.coding.code) of an ack's issues."""
    wanted = severities or ("fatal", "error", "warning", "information")
    return {
        c["code"]
        for i in ack_issues(ack)
        if i["severity"] in wanted
        for c in i.get("details", {}).get("coding", [])
    }


class LiveReader:
    """Reads every output topic from the start (no consumer group) in the background."""

    def __init__(self, settings: Settings) -> None:
        self.collected = Collected(settings)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveReader:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        settings = self.collected.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=500,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=32 * 1024 * 1024,
        )
        await consumer.start()
        consumer.subscribe(pattern=output_pattern(settings))
        try:
            while not self._stop.is_set():
                try:
                    batches = await asyncio.wait_for(consumer.getmany(timeout_ms=200), 1.0)
                except TimeoutError:
                    continue
                for records in batches.values():
                    for r in records:
                        self.collected.add(_out(r))
        finally:
            await consumer.stop()

    async def wait_for(
        self,
        predicate: Callable[[Collected], bool],
        timeout: float,
        what: str,
        alive: Callable[[], bool] | None = None,
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.collected):
            assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
            if alive is not None:
                assert alive(), f"the service died while waiting for {what}"
            await asyncio.sleep(0.1)


async def read_all(settings: Settings, timeout: float = 60.0) -> Collected:
    """Every record on every output topic, read from the start to the current end offsets."""
    collected = Collected(settings)
    pattern = re.compile(output_pattern(settings))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if pattern.match(t))
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if not partitions:
            return collected
        ends = await end_offsets(settings.bootstrap_servers, partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "timed out reading the output topics"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    collected.add(_out(r))
    finally:
        await consumer.stop()
    return collected


def write_artifact(name: str, data: JSON) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


async def end_offsets(
    bootstrap_servers: str, partitions: list[TopicPartition], timeout: float = 30.0
) -> dict[TopicPartition, int]:
    """The end offset of each partition: the high watermark of a fetch response.

    Not ListOffsets (``AIOKafkaConsumer.end_offsets``) alone: tansu answers it with the base
    offset of the partition's last record batch plus one, short of the end when a producer
    packed several records into that batch (as the pipeline's output producer does). The
    fetch from that offset gets the right high watermark."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        listed = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, max(listed[tp] - 1, 0))
        deadline = time.monotonic() + timeout
        while any(consumer.highwater(tp) is None for tp in partitions):
            assert time.monotonic() < deadline, "timed out fetching high watermarks"
            await consumer.getmany(timeout_ms=100)
        return {tp: max(consumer.highwater(tp), listed[tp]) for tp in partitions}
    finally:
        await consumer.stop()


async def group_offsets(settings: Settings, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """The pipeline group's committed offset and the end offset of each partition of ``topic``.

    Uses the group's id without joining it (an OffsetFetch, no subscription).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        committed = {tp.partition: (await consumer.committed(tp)) or 0 for tp in partitions}
        ends = await end_offsets(settings.bootstrap_servers, partitions)
        return committed, {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()
