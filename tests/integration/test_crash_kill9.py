"""Kill -9 while processing: `tcam run` is SIGKILLed at random points and restarted; nothing is
lost and no input ever gets a second, different referral or ack (at-least-once, stable ids).

N (``TCAM_CRASH_MESSAGES``, default 2000) numbered discharges are published up front, then the
service is started, hard-killed once some acks have arrived, restarted, ``TCAM_CRASH_KILLS``
times (default 4), and finally left to drain. The counts go to ``tests/artifacts/crash-kill9.json``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.core.process import process
from tcam_bridge.pipeline.config import core_config
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
    group_offsets,
    nhs_numbers,
    read_all,
    start_producer,
    variant,
    write_artifact,
)

pytestmark = pytest.mark.integration

MESSAGES = int(os.environ.get("TCAM_CRASH_MESSAGES", "2000"))
KILLS = int(os.environ.get("TCAM_CRASH_KILLS", "4"))
SEED = int(os.environ.get("TCAM_CRASH_SEED", "9"))
# routed to a pharmacy, unrouted, not referred
TEMPLATES = (
    "03-ramipril-dose-increased.json",
    "07-no-nominated-pharmacy.json",
    "11-no-changes-not-referred.json",
)


def discharges(rng: random.Random, n: int) -> list[Discharge]:
    templates = {name: example(name) for name in TEMPLATES}
    numbers = nhs_numbers(start=rng.randrange(0, 500_000))
    out = []
    for i in range(n):
        name = rng.choice(TEMPLATES)
        out.append(variant(templates[name], f"crash-{SEED}-{i}", next(numbers), name=name))
    return out


def referred(settings: Settings, sample: Discharge) -> bool:
    """Whether the core refers this template (it does not depend on the ids or NHS number)."""
    config = core_config(settings, datetime.now(UTC).date())
    outcome = process(
        sample.raw, key=sample.nhs_number.encode(), config=config, now=datetime.now(UTC)
    )
    assert outcome.response == "ok", outcome.issues
    return outcome.referral_id is not None


def acked(collected: Collected) -> int:
    return len({r.correlation_id for r in collected.acks})


def acked_at_least(n: int) -> Callable[[Collected], bool]:
    return lambda c: acked(c) >= n


def written_since(ms: int) -> Callable[[Collected], bool]:
    """An ack produced at or after ``ms`` (epoch milliseconds): the new process is working."""
    return lambda c: any(r.timestamp_ms >= ms for r in c.acks[-50:])


def uncommitted_acked(collected: Collected, committed: dict[int, int], since_ms: int) -> int:
    """Inputs the killed run (started at ``since_ms``) answered, at or after the group's
    committed offset: each comes back to the next run and is answered again.

    Only the killed run's own acks count. An input answered by an earlier run that the killed
    run had not yet reached again is still uncommitted, but it was counted at the earlier kill
    and is answered again once, by whichever run reaches it next."""
    return len(
        {
            r.source
            for r in collected.acks
            if r.timestamp_ms >= since_ms and r.source[1] >= committed.get(r.source[0], 0)
        }
    )


async def settled(settings: Settings) -> tuple[dict[int, int], dict[int, int]]:
    """The group's committed offsets on the input topic and the ack topic's end offsets, once
    two readings half a second apart agree.

    The killed process may have left a commit or a produce request in the broker's socket
    buffer (always so when the broker was frozen at the kill); the broker still acts on it
    after the process is gone, so a single reading taken at once can be overtaken by it."""
    last: tuple[dict[int, int], dict[int, int]] | None = None
    for _ in range(20):
        committed, _ = await group_offsets(settings, settings.topic_discharge)
        _, ack_ends = await group_offsets(settings, settings.topic_ack)
        if (committed, ack_ends) == last:
            return committed, ack_ends
        last = (committed, ack_ends)
        await asyncio.sleep(0.5)
    raise AssertionError(f"offsets still moving 10 s after the kill: {last}")


async def at_kill(settings: Settings, reader: LiveReader, since_ms: int) -> dict[str, Any]:
    """State after a kill: once the offsets have settled and the reader has every ack the
    killed process wrote, the inputs it answered but had not committed."""
    committed, ack_ends = await settled(settings)
    written = sum(ack_ends.values())
    await reader.wait_for(
        lambda c: len(c.acks) >= written,
        timeout=30,
        what="the reader to catch up",
    )
    return {
        "acked_inputs": acked(reader.collected),
        "acked_not_committed": uncommitted_acked(reader.collected, committed, since_ms),
        "committed_offsets": committed,
    }


def check(sent: list[Discharge], should_refer: dict[str, bool], got: Collected) -> dict[str, Any]:
    """The counts of the run, and every broken guarantee, by input."""
    acks = got.acks_by_correlation()
    referrals = got.by_message_id(got.referrals)
    findings = got.by_message_id(got.findings)
    problems: list[str] = []
    for d in sent:
        answers = acks.get(d.header_id, [])
        ids = {ack_id(a) for a in answers}
        codes = {ack_code(a) for a in answers}
        if len(ids) != 1:
            problems.append(f"{d.message_id}: {len(answers)} acks, {len(ids)} distinct ack ids")
        if codes != {"ok"}:
            problems.append(f"{d.message_id}: ack codes {sorted(codes)}")
        refs = referrals.get(d.message_id, [])
        ref_ids = {r.headers.get("tcam-referral-id") for r in refs}
        if should_refer[d.template] and not refs:
            problems.append(f"{d.message_id}: no referral")
        if not should_refer[d.template] and refs:
            problems.append(f"{d.message_id}: referred but should not be")
        if len(ref_ids) > 1:
            problems.append(f"{d.message_id}: {len(ref_ids)} different referral ids")
        if len({f.json()["event_id"] for f in findings.get(d.message_id, [])}) != 1:
            problems.append(f"{d.message_id}: not exactly one distinct findings event id")
    known = {d.header_id for d in sent}
    strangers = [c for c in acks if c not in known]
    if strangers:
        problems.append(f"{len(strangers)} acks answer no input that was sent")
    if got.dead_letters:
        problems.append(f"{len(got.dead_letters)} dead letters")
    distinct_acks = len({ack_id(a) for a in got.acks})
    distinct_referrals = len({r.headers.get("tcam-referral-id") for r in got.referrals})
    return {
        "inputs": len(sent),
        "inputs_to_refer": sum(should_refer[d.template] for d in sent),
        "ack_records": len(got.acks),
        "distinct_ack_ids": distinct_acks,
        "acks_re_published": len(got.acks) - distinct_acks,
        "referral_records": len(got.referrals),
        "distinct_referral_ids": distinct_referrals,
        "referrals_re_published": len(got.referrals) - distinct_referrals,
        "findings_records": len(got.findings),
        "dead_letters": len(got.dead_letters),
        "problems": problems[:20],
        "problem_count": len(problems),
    }


async def test_kill9_at_random_points_loses_nothing_and_never_re_ids_a_referral(
    embedded: EmbeddedBroker, tmp_path: Path
) -> None:
    began = time.monotonic()
    rng = random.Random(SEED)
    settings = settings_for(embedded)
    sent = discharges(rng, MESSAGES)
    samples = {d.template: d for d in sent}
    should_refer = {name: referred(settings, d) for name, d in samples.items()}
    assert set(should_refer.values()) == {True, False}  # both kinds are exercised

    producer = await start_producer(settings, linger_ms=5, max_request_size=4 * 1024 * 1024)
    try:
        futures = [
            await producer.send(settings.topic_discharge, d.raw, key=d.nhs_number.encode())
            for d in sent
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    published = time.monotonic() - began

    # Kill points: random ack counts between 5% and 80% of the inputs, one per run. Every
    # second kill lands while an output is in flight: the broker is frozen for a moment first,
    # so the service is stuck on a produce or commit request when it dies.
    thresholds = sorted(rng.sample(range(MESSAGES // 20, MESSAGES * 4 // 5), KILLS))
    service = Service(env_for(settings), tmp_path / "run.log")
    kills: list[dict[str, Any]] = []
    exit_code: int | None = None
    drained = 0.0
    try:
        async with LiveReader(settings) as reader:
            for n, threshold in enumerate(thresholds, start=1):
                started, since_ms = time.monotonic(), int(time.time() * 1000)
                service.start()
                await reader.wait_for(
                    written_since(since_ms),
                    timeout=120,
                    what=f"a first ack from run {n}",
                    alive=service.alive,
                )
                first_ack = time.monotonic() - started
                await reader.wait_for(
                    acked_at_least(threshold),
                    timeout=120,
                    what=f"{threshold} acks before kill {n}",
                    alive=service.alive,
                )
                in_flight = n % 2 == 0
                if in_flight:
                    with frozen(embedded.process):
                        await asyncio.sleep(0.3)
                        service.kill9()
                else:
                    await asyncio.sleep(rng.uniform(0, 0.25))  # somewhere inside a message
                    service.kill9()
                killed_at = time.monotonic() - started
                kills.append(
                    {
                        "in_flight": in_flight,
                        "seconds_to_first_ack": round(first_ack, 1),
                        "seconds_to_kill": round(killed_at, 1),
                        **await at_kill(settings, reader, since_ms),
                    }
                )
            service.start()
            drain_started = time.monotonic()
            await reader.wait_for(
                acked_at_least(MESSAGES),
                timeout=180,
                what="every input to be acked after the last restart",
                alive=service.alive,
            )
            drained = time.monotonic() - drain_started
        exit_code = service.terminate()
    finally:
        service.close()

    got = await read_all(settings)
    counts = check(sent, should_refer, got)
    counts.update(
        kills=len(kills),
        kill_points=kills,
        mid_stream_kills=sum(k["acked_inputs"] < MESSAGES for k in kills),
        templates=dict(Counter(d.template for d in sent)),
        seed=SEED,
        publish_seconds=round(published, 1),
        drain_seconds=round(drained, 1),
        total_seconds=round(time.monotonic() - began, 1),
        exit_code_after_sigterm=exit_code,
    )
    counts["acked_not_committed_at_kills"] = sum(k["acked_not_committed"] for k in kills)
    path = write_artifact("crash-kill9.json", counts)
    summary = {k: v for k, v in counts.items() if k not in ("problems", "kill_points")}
    assert counts["problem_count"] == 0, f"{summary} {counts['problems']} (see {path})"
    assert counts["mid_stream_kills"] == KILLS >= 3, summary
    # Inputs each killed run answered but had not committed were redelivered and answered again,
    # with the same ack id: the only re-published acks.
    assert counts["acks_re_published"] == counts["acked_not_committed_at_kills"], summary
    assert exit_code == 0, (summary, service.log_tail())
