"""Micro-benchmarks without Kafka, and a profile of ``process()``.

* ``json.loads`` alone (what the pass-through ceiling does per message);
* ``process()`` per message (the whole core: read, reconcile, rules, referral, outputs);
* the R4B parse alone: ``json.loads`` then ``fhir.resources.R4B.bundle.Bundle.model_validate``,
  what the validation ceiling does per message (the issue's validation ceiling);
* the compiled structure check alone: ``json.loads`` then
  ``tcam_bridge.core.structure.structure_check().accepts`` (the models only when it does not
  accept), the FHIR validation ``process()`` actually runs and what the "2b" ceiling does; once
  over the same messages as the other rows, once over messages it has never seen;
* rule evaluation alone (the 20 rules, ``tcam_bridge.core.rule.evaluate``) on 20-medicine
  discharges already read and reconciled.

Each figure is the median over ``rounds`` passes of the per-message mean, after a warm-up pass.
The compiled check memoises its verdict on each distinct primitive value (per element type), so
from the second pass over the same messages every value is a memo hit; the "unseen messages" row
times each round on messages not checked before (new ids, NHS numbers and timestamps; codes,
dates and names repeat, as they do in production), which is closer to a running pipeline. Even
so, these are figures without Kafka: the drains through the broker are the end-to-end truth.
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
from tcam_bridge.core.structure import structure_check
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings

T = TypeVar("T")
UNSEEN_START = 500_000  # workload index of the first message the "unseen" rounds check


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
    check_mixed: Timing
    check_unseen: Timing
    process_20: Timing
    parse_20: Timing
    check_20: Timing
    rules_20: Timing
    profile: Profile
    check_accepted: int  # workload messages the compiled check accepts (the rest: the models)
    check_examined: int

    @property
    def timings(self) -> tuple[Timing, ...]:
        """Every timing, in the order of the report's table."""
        return (
            self.decode_mixed,
            self.process_mixed,
            self.parse_mixed,
            self.check_mixed,
            self.check_unseen,
            self.process_20,
            self.parse_20,
            self.check_20,
            self.rules_20,
        )

    @property
    def rules_over_parse_20(self) -> float:
        return self.rules_20.median_ms / self.parse_20.median_ms

    @property
    def check_over_parse(self) -> float:
        """Compiled check over R4B parse, both with json.loads, workload mix."""
        return self.check_mixed.median_ms / self.parse_mixed.median_ms


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


def time_unseen(
    name: str, fn: Callable[[T], object], rounds_of_items: Sequence[Sequence[T]]
) -> Timing:
    """Like ``time_per_message``, but each round on its own items, none seen before (no
    warm-up on them): what a memo of values costs and saves on new messages."""
    per_message: list[float] = []
    for items in rounds_of_items:
        start = time.perf_counter()
        for item in items:
            fn(item)
        per_message.append((time.perf_counter() - start) / len(items) * 1000)
    count = len(rounds_of_items[0]) if rounds_of_items else 0
    return Timing(
        name, statistics.median(per_message), min(per_message), count, len(rounds_of_items)
    )


def _decode(m: Message) -> object:
    return json.loads(m.value)


def _parse(m: Message) -> object:
    return Bundle.model_validate(json.loads(m.value))


def _check(m: Message) -> object:
    """The FHIR validation process() runs: the compiled check, the models when it defers."""
    data = json.loads(m.value)
    if structure_check().accepts(data):
        return True
    return Bundle.model_validate(data)


# The core's stages, by (file, function), in the order process() runs them.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("transport: size, UTF-8, json.loads", "core/fhir_in.py", "_decode"),
    (
        "FHIR R4 structure: compiled check (models only when it defers)",
        "core/fhir_in.py",
        "_check_structure",
    ),
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
    # Messages of the same seed the other rows never use, a fresh set per round.
    unseen = [
        list(workload(seed, messages, start=UNSEEN_START + r * messages)) for r in range(rounds)
    ]
    check = structure_check()  # built here (about a second), not inside a timed round
    accepted = sum(check.accepts(json.loads(m.value)) for m in mixed)

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
        check_mixed=time_per_message(
            "compiled structure check, workload mix", _check, mixed, rounds
        ),
        check_unseen=time_unseen(
            "compiled structure check, workload mix, unseen messages", _check, unseen
        ),
        process_20=time_per_message("process(), 20 medicines", run_process, full, rounds),
        parse_20=time_per_message("R4B parse, 20 medicines", _parse, full, rounds),
        check_20=time_per_message("compiled structure check, 20 medicines", _check, full, rounds),
        rules_20=time_per_message("20 rules, 20 medicines", run_rules, contexts, rounds),
        profile=profile_process(mixed, config, now),
        check_accepted=accepted,
        check_examined=len(mixed),
    )
