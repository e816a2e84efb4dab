"""The broker stops answering for ~20 s (SIGSTOP) while discharges keep arriving: the service
recovers by itself, and every message published before, during and after the pause is answered
once (one distinct ack id) with its outputs. Nothing is lost.

The broker is a dedicated one (not the session's), so freezing it cannot disturb other tests.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker, start_broker
from tcam_bridge.settings import Settings
from tests.integration.conftest import settings_for
from tests.integration.faults import (
    Collected,
    Discharge,
    LiveReader,
    Service,
    ack_code,
    ack_id,
    env_for,
    example,
    frozen,
    nhs_numbers,
    read_all,
    start_producer,
    variant,
    write_artifact,
)

pytestmark = pytest.mark.integration

PAUSE = float(os.environ.get("TCAM_PAUSE_SECONDS", "20"))
BEFORE = AFTER = 5.0  # seconds of publishing either side of the pause
INTERVAL = 0.1  # between two discharges
SEED = 20
PHASES = ("before", "during", "after")
TEMPLATE = "03-ramipril-dose-increased.json"  # routed to FHM73


@dataclass
class Epr:
    """Offers a numbered discharge every ``INTERVAL`` seconds until told to stop, whether or not
    the broker answers; each is re-sent until the broker has acknowledged it."""

    settings: Settings
    rng: random.Random
    phase: str = "before"
    sent: list[tuple[str, Discharge]] = field(default_factory=list)
    failed_attempts: dict[str, int] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        template = example(TEMPLATE)
        numbers = nhs_numbers(start=self.rng.randrange(0, 500_000))
        producer = await start_producer(self.settings, request_timeout_ms=5000)
        deliveries: list[asyncio.Task[None]] = []
        try:
            n = 0
            while not self.stop.is_set():
                d = variant(template, f"pause-{SEED}-{n}", next(numbers), name=TEMPLATE)
                deliveries.append(asyncio.create_task(self._deliver(producer, d, self.phase)))
                n += 1
                await asyncio.sleep(INTERVAL)
            await asyncio.wait_for(asyncio.gather(*deliveries), timeout=120)
        finally:
            for task in deliveries:
                task.cancel()
            await producer.stop()

    async def _deliver(self, producer: AIOKafkaProducer, d: Discharge, phase: str) -> None:
        while True:
            try:
                send = producer.send_and_wait(
                    self.settings.topic_discharge, d.raw, key=d.nhs_number.encode()
                )
                await asyncio.wait_for(send, timeout=8)
            except Exception:  # timed out or failed while the broker is frozen: send again
                # (if the first attempt lands too, the input is duplicated: same ids, one answer)
                self.failed_attempts[phase] = self.failed_attempts.get(phase, 0) + 1
                await asyncio.sleep(1)
            else:
                self.sent.append((phase, d))
                return


def unanswered(sent: list[tuple[str, Discharge]], got: Collected) -> list[str]:
    acks = got.acks_by_correlation()
    return [d.message_id for _, d in sent if d.header_id not in acks]


def check(sent: list[tuple[str, Discharge]], got: Collected, pharmacy_topic: str) -> list[str]:
    acks = got.acks_by_correlation()
    referrals = got.by_message_id(got.referrals)
    findings = got.by_message_id(got.findings)
    problems = []
    for phase, d in sent:
        answers = acks.get(d.header_id, [])
        if len({ack_id(a) for a in answers}) != 1:
            problems.append(f"{phase} {d.message_id}: {len(answers)} acks")
        elif {ack_code(a) for a in answers} != {"ok"}:
            problems.append(f"{phase} {d.message_id}: not ok")
        refs = referrals.get(d.message_id, [])
        topics = sorted({r.topic for r in refs})
        if topics != [pharmacy_topic]:
            problems.append(f"{phase} {d.message_id}: referrals on {topics}")
        if len({r.headers.get("tcam-referral-id") for r in refs}) > 1:
            problems.append(f"{phase} {d.message_id}: different referral ids")
        if len({f.json()["event_id"] for f in findings.get(d.message_id, [])}) != 1:
            problems.append(f"{phase} {d.message_id}: no findings event")
    known = {d.header_id for _, d in sent}
    problems += [f"ack for an unknown input {c}" for c in acks if c not in known]
    problems += [f"dead letter {r.headers.get('tcam-error-class')}" for r in got.dead_letters]
    return problems


async def test_service_recovers_by_itself_from_a_frozen_broker_and_loses_nothing(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    broker: EmbeddedBroker = start_broker()
    service: Service | None = None
    stats: dict[str, Any] = {}
    try:
        settings = settings_for(broker)
        service = Service(env_for(settings), tmp_path / "run.log")
        service.start()
        epr = Epr(settings, random.Random(SEED))
        async with LiveReader(settings) as reader:
            publishing = asyncio.create_task(epr.run())
            try:
                await reader.wait_for(
                    lambda c: len(c.acks) > 0, 90, "the service's first ack", service.alive
                )
                await asyncio.sleep(BEFORE)
                epr.phase = "during"
                paused = time.monotonic()
                with frozen(broker.process):
                    await asyncio.sleep(PAUSE)
                stats["pause_seconds"] = round(time.monotonic() - paused, 1)
                resumed_ms = int(time.time() * 1000)
                epr.phase = "after"
                await asyncio.sleep(AFTER)
            finally:
                epr.stop.set()
                await publishing
            resumed = time.monotonic()
            await reader.wait_for(
                lambda c: not unanswered(epr.sent, c),
                120,
                "every published discharge to be answered",
                service.alive,
            )
            stats["seconds_to_drain_after_publishing"] = round(time.monotonic() - resumed, 1)
        assert service.alive(), service.log_tail()
        got = await read_all(settings)
        problems = check(epr.sent, got, settings.pharmacy_topic("FHM73"))
        after = [a.timestamp_ms for a in got.acks if a.timestamp_ms >= resumed_ms]
        first_after = min(after, default=resumed_ms)
        stats.update(
            published={p: sum(1 for q, _ in epr.sent if q == p) for p in PHASES},
            failed_publish_attempts=epr.failed_attempts,
            ack_records=len(got.acks),
            distinct_ack_ids=len({ack_id(a) for a in got.acks}),
            referral_records=len(got.referrals),
            first_ack_after_resume_seconds=round((first_after - resumed_ms) / 1000, 1),
            problems=problems[:20],
            total_seconds=round(time.monotonic() - began, 1),
        )
        write_artifact("broker-pause.json", stats)
        assert not problems, stats
        assert all(stats["published"][p] > 0 for p in PHASES), stats
        assert stats["distinct_ack_ids"] == len(epr.sent), stats
    finally:
        broker.process.send_signal(signal.SIGCONT)  # in case the test failed inside the pause
        if service is not None:
            service.close()
        broker.stop()
