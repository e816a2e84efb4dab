"""Integration fixtures: one embedded broker (tansu) per test session, on a free loopback port,
and the pipeline service running against it in this process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.embedded_broker import EmbeddedBroker, start_broker
from tcam_bridge.core.process import CoreConfig
from tcam_bridge.demo import Outputs, read_outputs
from tcam_bridge.feed import patient_key
from tcam_bridge.pipeline.app import Pipeline, build_pipeline
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"


@pytest.fixture(scope="session")
def embedded() -> Iterator[EmbeddedBroker]:
    broker = start_broker()
    yield broker
    broker.stop()


def settings_for(embedded: EmbeddedBroker, **overrides: object) -> Settings:
    """Settings for one test: its own topics, so tests sharing the broker cannot see each other."""
    run = uuid.uuid4().hex[:8]
    return Settings.model_construct().model_copy(
        update={
            "bootstrap_servers": embedded.bootstrap_servers,
            "enable_idempotence": False,
            "consumer_group": f"tcam-test-{run}",
            "topic_discharge": f"t{run}.discharge.v1",
            "topic_ack": f"t{run}.discharge.ack.v1",
            "topic_dlq": f"t{run}.discharge.dlq.v1",
            "topic_pharmacy_template": f"t{run}.pharmacy.{{ods}}.referrals.v1",
            "topic_unrouted": f"t{run}.referrals.unrouted.v1",
            "topic_findings": f"t{run}.safety.findings.v1",
            "retry_backoff_ms": 50,
            # tansu holds a waiting fetch for the whole wait, even when data arrives (see
            # TCAM_FETCH_MAX_WAIT_MS in README)
            "fetch_max_wait_ms": 10,
            **overrides,
        }
    )


@dataclass
class Flow:
    """A running pipeline, a producer acting as the EPR, and a reader of every output topic."""

    settings: Settings
    pipeline: Pipeline
    outputs: Outputs

    async def send(self, raw: bytes, key: bytes | None = None) -> tuple[int, int]:
        meta = await self.pipeline.publish(
            raw,
            self.settings.topic_discharge,
            key=key if key is not None else patient_key(raw),
            headers={"content-type": "application/fhir+json", "x-epr-trace": "abc"},
        )
        return meta.partition, meta.offset

    async def wait_for(self, predicate: object, timeout: float = 60.0) -> None:
        assert callable(predicate)
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for outputs")
            await asyncio.sleep(0.1)


async def start_flow(
    settings: Settings, config: CoreConfig | None = None
) -> tuple[Flow, asyncio.Event, asyncio.Task[None]]:
    logs.configure("WARNING", "json")
    config = config or core_config(settings, datetime.now(UTC).date())
    pipeline = build_pipeline(settings, config, logger=logs.get_logger("test"))
    await pipeline.start()
    outputs = Outputs()
    stop = asyncio.Event()
    reader = asyncio.create_task(read_outputs(settings, outputs, stop))
    return Flow(settings, pipeline, outputs), stop, reader


@pytest.fixture
async def flow(embedded: EmbeddedBroker) -> AsyncIterator[Flow]:
    running, stop, reader = await start_flow(settings_for(embedded))
    yield running
    stop.set()
    await reader
    await running.pipeline.stop()
