"""Micro-benchmarks without Kafka, and a profile of ``process()``.

* ``json.loads`` alone (what the pass-through ceiling does per message);
* ``process()`` per message (the whole core: read, reconcile, rules, referral, outputs);
* the R4B parse alone: ``json.loads`` then ``fhir.resources.R4B.bundle.Bundle.model_validate``,
  what the validation ceiling does per message;
* rule evaluation alone (the 20 rules, ``tcam_bridge.core.rule.evaluate``) on 20-medicine
  discharges already read and reconciled.

Each figure is the median over ``rounds`` passes of the per-message mean, after a warm-up pass.
The profile runs ``process()`` once over the workload under cProfile (standard library) and
attributes the time to the core's stages by cumulative time.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from fhir.resources.R4B.bundle import Bundle

from benchmarks.workload import MAX_MEDICINES, Message, discharge, workload
from tcam_bridge.core.change import reconcile
from tcam_bridge.core.fhir_in import Accepted, read_discharge
from tcam_bridge.core.process import CoreConfig, process
from tcam_bridge.core.rule import Context, evaluate
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    median_ms: float  # per message, median over rounds
    best_ms: float  # per message, best round
    messages: int
    rounds: int

    @property
    def per_second(self) -> float:
        return 1000 / self.median_ms if self.median_ms else 0.0


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    seconds: float
    share: float  # of process() under the profiler


@dataclass(frozen=True, slots=True)
class Hotspot:
    function: str
    self_seconds: float
    share: float
    calls: int


@dataclass(frozen=True, slots=True)
class Profile:
    messages: int
    total_seconds: float
    stages: tuple[Stage, ...]
    hotspots: tuple[Hotspot, ...]


@dataclass(frozen=True, slots=True)
class MicroResults:
    decode_mixed: Timing
    process_mixed: Timing
    parse_mixed: Timing
    process_20: Timing
    parse_20: Timing
    rules_20: Timing
    profile: Profile

    @property
    def rules_over_parse_20(self) -> float:
        return self.rules_20.median_ms / self.parse_20.median_ms


def time_per_message(
    name: str, fn: Callable[[T], object], items: Sequence[T], rounds: int
) -> Timing:
    for item in items[: min(len(items), 20)]:  # warm-up: imports, caches, lazy model builds
        fn(item)
    per_message: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item)
        per_message.append((time.perf_counter() - start) / len(items) * 1000)
    return Timing(name, statistics.median(per_message), min(per_message), len(items), rounds)


def _decode(m: Message) -> object:
    return json.loads(m.value)


def _parse(m: Message) -> object:
    return Bundle.model_validate(json.loads(m.value))


# The core's stages, by (file, function), in the order process() runs them.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("transport: size, UTF-8, json.loads", "core/fhir_in.py", "_decode"),
    ("FHIR R4B structure: Bundle.model_validate", "core/fhir_in.py", "_check_structure"),
    ("profile checks and mapping to the domain", "core/fhir_in.py", "_map"),
    ("medicines reconciliation", "core/change.py", "reconcile"),
    ("20 safety rules", "core/rule.py", "evaluate"),
    ("high-risk medicines", "core/high_risk.py", "high_risk_group"),
    ("referral decision", "core/referral.py", "decide"),
    ("referral message (FHIR)", "core/fhir_out.py", "referral_message"),
    ("findings event", "core/fhir_out.py", "findings_event"),
    ("ack (FHIR response)", "core/fhir_out.py", "ack"),
    ("JSON encoding of the outputs", "core/process.py", "dumps"),
)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "services/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename.rsplit("/", 1)[-1]


def profile_process(messages: Sequence[Message], config: CoreConfig, now: datetime) -> Profile:
    profiler = cProfile.Profile()
    profiler.enable()
    for m in messages:
        process(m.value, key=m.key, config=config, now=now)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]  # {(file, line, func): (cc, nc, tt, ct, callers)}
    total = sum(
        ct
        for (f, _, fn), (_, _, _, ct, _) in raw.items()
        if f.endswith("core/process.py") and fn == "process"
    )
    stages = []
    for label, file, func in STAGES:
        seconds = sum(
            ct for (f, _, fn), (_, _, _, ct, _) in raw.items() if f.endswith(file) and fn == func
        )
        stages.append(Stage(label, seconds, seconds / total if total else 0.0))
    rest = total - sum(s.seconds for s in stages)
    stages.append(Stage("everything else in process()", rest, rest / total if total else 0.0))
    hot = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:12]
    hotspots = tuple(
        Hotspot(f"{_short(f)}:{line}({fn})", tt, tt / total if total else 0.0, nc)
        for (f, line, fn), (_, nc, tt, _, _) in hot
    )
    return Profile(len(messages), total, tuple(stages), hotspots)


def run_micro(
    seed: int, messages: int, twenty: int, rounds: int, today: date | None = None
) -> MicroResults:
    config = core_config(Settings.model_construct(), today or datetime.now(UTC).date())
    now = datetime.now(UTC)
    mixed = list(workload(seed, messages))
    full = [discharge(seed + 1, i, medicines=MAX_MEDICINES) for i in range(twenty)]

    def run_process(m: Message) -> object:
        return process(m.value, key=m.key, config=config, now=now)

    contexts = []
    for m in full:
        reading = read_discharge(m.value, canonical=config.canonical, limits=config.limits)
        assert isinstance(reading, Accepted), "the workload must be accepted"
        d = reading.discharge
        contexts.append(Context(d, reconcile(d), config.classes, today=d.discharged))

    def run_rules(ctx: Context) -> object:
        return evaluate(config.rules, ctx)

    return MicroResults(
        decode_mixed=time_per_message("json.loads alone, workload mix", _decode, mixed, rounds),
        process_mixed=time_per_message("process(), workload mix", run_process, mixed, rounds),
        parse_mixed=time_per_message("R4B parse, workload mix", _parse, mixed, rounds),
        process_20=time_per_message("process(), 20 medicines", run_process, full, rounds),
        parse_20=time_per_message("R4B parse, 20 medicines", _parse, full, rounds),
        rules_20=time_per_message("20 rules, 20 medicines", run_rules, contexts, rounds),
        profile=profile_process(mixed, config, now),
    )
