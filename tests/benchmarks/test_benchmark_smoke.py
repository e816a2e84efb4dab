"""Smoke test of the benchmarks: the quick run, end to end on the embedded broker, produces every
figure and a complete RESULTS.md. The figures are not checked against thresholds: these are
benchmarks, not timed tests."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from benchmarks.ceiling import MODES
from benchmarks.ceiling import main as ceiling_main
from benchmarks.harness import SERVICE_DEFAULTS, ConsumerSettings, Service
from benchmarks.report import print_summary, render_markdown
from benchmarks.run import parse_args, run_benchmarks
from benchmarks.scenarios import batch_end
from benchmarks.workload import MAX_ENTRIES, MAX_MEDICINES, MIN_ENTRIES, MIN_MEDICINES, workload
from rich.console import Console

from tcam_bridge.core.identifiers import is_valid_nhs_number
from tcam_bridge.core.process import process
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings

pytestmark = pytest.mark.timeout(110)


def test_workload_is_deterministic_valid_and_unique() -> None:
    config = core_config(Settings.model_construct(), date(2026, 6, 1))
    messages = list(workload(7, 60))
    assert [m.value for m in workload(7, 60)] == [m.value for m in messages]
    assert len({m.message_id for m in messages}) == len({m.key for m in messages}) == 60
    for m in messages:
        assert m.key.startswith(b"999") and is_valid_nhs_number(m.key.decode())
        assert MIN_MEDICINES <= m.medicines <= MAX_MEDICINES
        assert MIN_ENTRIES <= m.entries <= MAX_ENTRIES
        outcome = process(m.value, key=m.key, config=config, now=datetime.now(UTC))
        assert outcome.accepted, [i.reason for i in outcome.issues]
        assert [r.kind for r in outcome.records] == ["referral", "findings", "ack"]


def test_quick_args() -> None:
    options, path = parse_args(["--quick", "--rate", "20", "--results", "x.md"])
    assert options.quick and options.messages == 200 and options.rate == 20.0
    assert path == Path("x.md")
    # Every service process gets the service's batch size and a fetch wait tansu can live with.
    assert options.consumer == ConsumerSettings(SERVICE_DEFAULTS.batch_max_records, 10)
    assert options.consumer.env() == {
        "TCAM_BATCH_MAX_RECORDS": str(SERVICE_DEFAULTS.batch_max_records),
        "TCAM_FETCH_MAX_WAIT_MS": "10",
    }
    options, _ = parse_args(["--batch-max-records", "7", "--fetch-max-wait-ms", "0"])
    assert options.consumer == ConsumerSettings(7, 0)


def test_ceiling_modes() -> None:
    assert MODES == ("passthrough", "validate", "check")
    with pytest.raises(SystemExit, match=re.escape("passthrough|validate|check OUT_TOPIC")):
        ceiling_main(["nothing", "out"])


def test_batch_end_aligns_the_timing_on_a_batch() -> None:
    assert batch_end([100, 100], 20, 200) == 100
    assert batch_end([10, 5, 30, 100], 20, 200) == 45
    assert batch_end([10, 10], 20, 200) == 20
    assert batch_end([100, 100], 20, 100) is None  # the first batch end is the last message
    assert batch_end([], 20, 200) is None


def test_logs_give_batches_and_received_times(tmp_path: Path) -> None:
    def processed(message_id: str, partition: int, received_at: str) -> str:
        return json.dumps(
            {
                "event": "discharge_processed",
                "message_id": message_id,
                "partition": partition,
                "received_at": received_at,
            }
        )

    # Batches overlap: a batch's lines come after the next batch's "Received" line.
    lines = [
        json.dumps({"event": "Received", "timestamp": "2026-01-01T00:00:01Z"}),
        json.dumps({"event": "Received", "timestamp": "2026-01-01T00:00:02Z"}),
        processed("a", 0, "2026-01-01T00:00:01.5+00:00"),
        processed("b", 1, "2026-01-01T00:00:01.75+00:00"),
        json.dumps({"event": "batch_committed", "records": 2, "committed": 2}),
        processed("c", 0, "2026-01-01T00:00:03+00:00"),
        json.dumps({"event": "batch_committed", "records": 1, "committed": 1}),
        json.dumps({"event": "ceiling_batch", "records": 5}),
        "not json",
    ]
    log = tmp_path / "service.log"
    log.write_text("\n".join(lines) + "\n")
    service = Service("s", [], {}, log)
    assert service.batch_sizes() == [2, 1, 5]
    received = service.received_times()
    assert received["a"] == datetime(2026, 1, 1, 0, 0, 1, 500000, tzinfo=UTC).timestamp()
    assert received["b"] == datetime(2026, 1, 1, 0, 0, 1, 750000, tzinfo=UTC).timestamp()
    assert received["c"] == datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC).timestamp()
    assert service.processed_by_partition() == {0: 2, 1: 1}


@pytest.mark.integration
async def test_quick_run_produces_every_figure() -> None:
    options, _ = parse_args(["--quick", "--seconds", "2", "--rss-messages", "200"])
    out = io.StringIO()
    console = Console(file=out, width=120)
    results = await run_benchmarks(options, "python -m benchmarks.run --quick", console)

    assert results.complete() == []
    assert [d.kind for d in results.drains] == ["passthrough", "validate", "check", "pipeline"]
    for d in results.drains:
        assert d.per_second > 0 and d.hwm_mb > 0
        assert set(d.cpu_ms) == {"consumer", "broker", "driver"}
        assert d.cpu_ms["consumer"] > 0
        # Timed from the end of a batch, over whole batches no larger than the setting.
        assert d.aligned and d.warmup >= 20 and d.batches
        assert all(1 <= n <= options.batch_max_records for n in d.batches)
    pipeline = results.drain("pipeline")
    assert pipeline is not None
    assert pipeline.outputs == {"ack": 200, "referral": 200, "findings": 200}
    assert results.pipeline_over_validation is not None
    assert results.pipeline_over_check is not None
    assert results.latencies and results.latencies[0].rate == 100.0
    for lat in results.latencies:
        assert lat.received == lat.sent > 0
        assert all(v > 0 for v in (*lat.read_ms, *lat.waiting_ms, *lat.handling_ms))
    assert results.memory is not None and len(results.memory.points) >= 2
    assert results.peak_rss_mb > 0
    assert [s.processes for s in results.scale] == [1, 2]
    assert all(s.error is None and s.per_second > 0 and s.cpu_ms for s in results.scale)
    assert sum(results.scale[1].per_process) == options.scale_messages
    assert results.scale_ratio is not None
    assert {p.fetch_max_wait_ms for p in results.fetch_probes} == {
        SERVICE_DEFAULTS.fetch_max_wait_ms,
        10,
    }
    micro = results.micro
    assert micro is not None and micro.rules_20.median_ms > 0 and micro.parse_20.median_ms > 0
    assert all(t.median_ms > 0 for t in micro.timings)
    # The compiled check takes the whole workload on its fast path: the 2b ceiling measures it.
    assert micro.check_accepted == micro.check_examined == options.micro_messages
    assert micro.profile.stages and micro.profile.hotspots

    print_summary(results, console)
    markdown = render_markdown(results)
    for heading in (
        "## Targets",
        "## Throughput",
        "## Latency",
        "## Memory",
        "## Scale-out",
        "## Micro-benchmarks",
        "### Profile",
    ):
        assert heading in markdown
    assert "python -m benchmarks.run --quick" in markdown
    assert "2b. compiled-check ceiling" in markdown and "(3/2b)" in markdown
    assert "TCAM_FETCH_MAX_WAIT_MS=10" in markdown
    assert "not measured" not in markdown
    # No patient data: no NHS number of the workload reaches the report or the console.
    for text in (markdown, out.getvalue()):
        assert not re.search(r"\b999\d{7}\b", text)
