"""The tcam commands as real processes: `tcam run`, `tcam publish`, `tcam demo`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.demo import Outputs, message_id, read_outputs
from tests.integration.conftest import EXAMPLES, settings_for

pytestmark = pytest.mark.integration

TCAM = [sys.executable, "-m", "tcam_bridge"]


def env_for(settings: object, **extra: str) -> dict[str, str]:
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
    ):
        env[f"TCAM_{name.upper()}"] = str(getattr(settings, name))
    env["TCAM_ENABLE_IDEMPOTENCE"] = "false"
    env["TCAM_FETCH_MAX_WAIT_MS"] = "10"  # tansu holds a fetch for the whole wait
    env.update(extra)
    return env


async def test_tcam_run_processes_what_tcam_publish_sends_and_stops_on_sigterm(
    embedded: EmbeddedBroker, tmp_path: Path
) -> None:
    import asyncio

    settings = settings_for(embedded)
    health = tmp_path / "alive"
    env = env_for(settings, TCAM_HEALTH_FILE=str(health), TCAM_LOG_LEVEL="INFO")
    log = (tmp_path / "run.log").open("wb")
    service = subprocess.Popen([*TCAM, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    out, stop = Outputs(), asyncio.Event()
    reader = asyncio.create_task(read_outputs(settings, out, stop))
    try:
        example = EXAMPLES / "01-warfarin-stopped-dabigatran-started.json"
        published = subprocess.run(
            [*TCAM, "publish", str(example)], env=env, capture_output=True, text=True, timeout=60
        )
        assert published.returncode == 0, published.stderr
        assert "partition 0 offset 0" in published.stdout
        mid = message_id(example.read_bytes())
        deadline = time.monotonic() + 60
        while mid not in out.referrals or mid not in out.findings or not out.acks:
            assert time.monotonic() < deadline, "no outputs from `tcam run`"
            assert service.poll() is None, (tmp_path / "run.log").read_text()
            await asyncio.sleep(0.2)
        [(topic, _)] = out.referrals[mid]
        assert topic == settings.pharmacy_topic("FA5T2")
        deadline = time.monotonic() + 30
        while not health.exists():
            assert time.monotonic() < deadline, "no heartbeat file"
            await asyncio.sleep(0.2)
        checked = subprocess.run([*TCAM, "health"], env=env, capture_output=True, timeout=30)
        assert checked.returncode == 0
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=30)
        stop.set()
        await reader
        log.close()
    assert code == 0
    logged = (tmp_path / "run.log").read_text()
    assert '"event": "discharge_processed"' in logged
    assert "9994027611" not in logged  # the example's NHS number never reaches the logs


def tansu_processes() -> set[int]:
    found = subprocess.run(["pgrep", "-f", "tansu"], capture_output=True, text=True)
    return {int(p) for p in found.stdout.split()}


def test_tcam_demo_routes_the_incident_and_leaves_nothing_running() -> None:
    before = tansu_processes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCAM_")}
    result = subprocess.run([*TCAM, "demo"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    [incident] = [line for line in lines if "01-warfarin-stopped-dabigatran" in line]
    assert "pharmacy FA5T2" in incident
    assert "TCAM_DUP_ANTICOAG" in incident
    assert "ok" in incident
    [bad] = [line for line in lines if "bad-nhs-number" in line]
    assert "fatal-error" in bad and "validation" in bad
    # Each output counted once (a pattern subscription may read old records again).
    assert "28 messages: 28 acks, 9 referrals, 11 findings events, 17 dead letters." in lines
    assert tansu_processes() <= before


def test_tcam_broker_stops_its_broker_process_on_sigterm() -> None:
    from tcam_bridge.adapters.embedded_broker import free_port

    before = tansu_processes()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCAM_")}
    command = subprocess.Popen(
        [*TCAM, "broker", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tansu_processes() - before):
            assert time.monotonic() < deadline, "the broker did not start"
            time.sleep(0.1)
        started = tansu_processes() - before
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while tansu_processes() & started:
            assert time.monotonic() < deadline, "the broker process was left running"
            time.sleep(0.1)
    finally:
        if command.poll() is None:
            command.kill()
