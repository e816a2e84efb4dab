"""Poison messages on one partition, each followed by a valid discharge: every bad one is answered
with a precise fatal-error ack and dead-lettered, the routing-only problems are accepted with an
unrouted referral, the valid messages behind them flow on, and `tcam run` stays up with bounded
memory.

The size limit is set to 2,200,000 bytes, not lower: the million-element arrays (2 MB) and the
100,000-level nesting must get past the size check to reach the parser they are aimed at.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tests.integration.conftest import EXAMPLES, settings_for, start_flow
from tests.integration.faults import (
    JSON,
    Collected,
    LiveReader,
    Out,
    Service,
    ack_code,
    ack_id,
    ack_reasons,
    env_for,
    example,
    nhs_numbers,
    read_all,
    set_nominated_pharmacy,
    start_producer,
    to_bytes,
    variant,
    write_artifact,
)

pytestmark = pytest.mark.integration

MAX_BYTES = 2_200_000
RSS_GROWTH_LIMIT_MIB = 150
UNKNOWN_DMD = "999999110000012"  # a valid SCTID (Verhoeff) in no code list
WARFARIN_3MG = "319734006"
VALID = "03-ramipril-dose-increased.json"  # routed to FHM73
INVALID = EXAMPLES / "invalid"


@dataclass(frozen=True)
class Case:
    name: str
    value: bytes | None
    key: bytes | None
    reason: str  # the ack's blocking reason, or the routing warning of an accepted message
    accepted: bool = False
    error_class: str = "validation"
    message_id: str | None = None  # accepted cases


def rejected(name: str, value: bytes | None, reason: str, error_class: str = "validation") -> Case:
    return Case(name, value, b"poison-" + name.encode(), reason, error_class=error_class)


def corpus(numbers: Any) -> list[Case]:
    templates = {
        name: example(name)
        for name in (
            "01-warfarin-stopped-dabigatran-started.json",
            "08-locum-code-ffff.json",
            VALID,
        )
    }

    def accepted(name: str, bundle: JSON, reason: str) -> Case:
        d = variant(bundle, f"poison-{name}", next(numbers), name=name)
        return Case(name, d.raw, d.nhs_number.encode(), reason, True, message_id=d.message_id)

    def with_pharmacy(code: str) -> JSON:
        bundle = json.loads(json.dumps(templates[VALID]))
        set_nominated_pharmacy(bundle, code)
        assert isinstance(bundle, dict)
        return bundle

    unknown_dmd = json.loads(
        json.dumps(templates["01-warfarin-stopped-dabigatran-started.json"]).replace(
            f'"{WARFARIN_3MG}"', f'"{UNKNOWN_DMD}"'
        )
    )
    oversized = to_bytes(templates[VALID]) + b" " * (MAX_BYTES + 300_000)
    million = b",".join([b"0"] * 1_000_000)
    return [
        rejected("invalid-json", (INVALID / "not-json.txt").read_bytes(), "not-json"),
        rejected("not-utf8", b'{"resourceType": "Bundle", "id": "\xff\xfe\xc3"}', "not-utf8"),
        rejected("fhir-xml", (INVALID / "fhir-xml.xml").read_bytes(), "xml-not-supported"),
        rejected(
            "r5-endpointurl", (INVALID / "r5-messageheader.json").read_bytes(), "fhir-structure"
        ),
        rejected(
            "wrong-bundle-type", (INVALID / "wrong-bundle-type.json").read_bytes(), "bundle-type"
        ),
        rejected(
            "header-not-first", (INVALID / "messageheader-not-first.json").read_bytes(), "bdl-12"
        ),
        rejected(
            "missing-patient", (INVALID / "missing-patient.json").read_bytes(), "patient-missing"
        ),
        rejected(
            "nhs-check-digit",
            (INVALID / "bad-nhs-number.json").read_bytes(),
            "nhs-number-check-digit",
        ),
        accepted("unknown-ods", with_pharmacy("FZZ99"), "pharmacy-not-in-directory"),
        accepted("malformed-ods", with_pharmacy("fhm-73"), "invalid-pharmacy-code"),
        accepted("locum-ffff", templates["08-locum-code-ffff.json"], "locum-pharmacy-code"),
        rejected("too-large", oversized, "message-too-large", "too-large"),
        rejected(
            "nested-100k",
            b'{"resourceType": "Bundle", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "too-deep",
        ),
        rejected("array-1m", b"[" + million + b"]", "not-a-resource"),
        rejected(
            "entries-1m",
            b'{"resourceType": "Bundle", "type": "message", "entry": [' + million + b"]}",
            "too-many-entries",
        ),
        accepted("unknown-dmd", unknown_dmd, "referral-routed"),
        rejected("empty-value", b"", "not-json"),
        rejected("tombstone", None, "not-json"),
    ]


@dataclass(frozen=True)
class Sent:
    label: str
    case: Case | None  # None: a valid discharge routed to FHM73
    value: bytes | None
    key: bytes | None
    position: tuple[int, int]
    message_id: str | None = None


def directory(path: Path) -> Path:
    """An ODS pharmacy export (edispensary.csv layout) listing the examples' pharmacies."""
    rows = [f"{code},Test pharmacy {code}" + "," * 10 for code in ("FHM73", "FA5T2")]
    path.write_text("\n".join(rows) + "\n")
    return path


def problems_of(sent: list[Sent], got: Collected, pharmacy: Any, unrouted: str) -> list[str]:
    acks, dlq = got.acks_by_source(), got.dead_letters_by_source()
    referrals = got.by_message_id(got.referrals)
    findings = got.by_message_id(got.findings)
    problems: list[str] = []

    def fail(s: Sent, what: str) -> None:
        problems.append(f"{s.label}: {what}")

    for s in sent:
        answers = acks.get(s.position, [])
        if len({ack_id(a) for a in answers}) != 1:
            fail(s, f"{len(answers)} acks, {len({ack_id(a) for a in answers})} distinct ids")
            continue
        ack = answers[0]
        case = s.case
        if case is None or case.accepted:
            if ack_code(ack) != "ok":
                fail(s, f"ack {ack_code(ack)} {sorted(ack_reasons(ack))}")
            if s.position in dlq:
                fail(s, "dead-lettered")
            refs = referrals.get(s.message_id or "?", [])
            topics = {r.topic for r in refs}
            want = pharmacy("FHM73") if case is None else None
            if case is not None and case.name == "unknown-dmd":
                want = pharmacy("FA5T2")
            elif case is not None:
                want = unrouted
            if topics != {want}:
                fail(s, f"referrals on {sorted(topics)}, expected {want}")
            if case is not None and case.reason not in ack_reasons(ack):
                fail(s, f"no {case.reason} in the ack: {sorted(ack_reasons(ack))}")
            if case is not None and case.name == "unknown-dmd":
                problems.extend(unknown_dmd_problems(s, findings, refs))
            continue
        blocking = ack_reasons(ack, "fatal", "error")
        if ack_code(ack) != "fatal-error" or blocking != {case.reason}:
            fail(s, f"ack {ack_code(ack)} {sorted(blocking)}, expected {case.reason}")
        letters = dlq.get(s.position, [])
        if len(letters) != 1:
            fail(s, f"{len(letters)} dead letters")
            continue
        [letter] = letters
        if letter.headers.get("tcam-error-class") != case.error_class:
            fail(s, f"dead letter class {letter.headers.get('tcam-error-class')}")
        if not letter.headers.get("tcam-error-reason", "").startswith(case.reason):
            fail(s, f"dead letter reason {letter.headers.get('tcam-error-reason')}")
        pointer = letter.value == b"" and letter.headers.get("tcam-value-omitted") == "too-large"
        if letter.value != s.value and not pointer:
            fail(s, "dead letter does not carry the original value")
    return problems


def unknown_dmd_problems(s: Sent, findings: dict[str, list[Out]], refs: list[Out]) -> list[str]:
    """The unknown code is kept on the medicine, and its class is found by name only."""
    events = [f.json() for f in findings.get(s.message_id or "?", [])]
    if not events:
        return [f"{s.label}: no findings event"]
    dup = [f for f in events[0]["findings"] if f["rule_id"] == "TCAM_DUP_ANTICOAG"]
    out = []
    if not dup or not dup[0]["unverified"]:
        out.append(f"{s.label}: duplicate anticoagulant not found as an unverified (name) match")
    elif UNKNOWN_DMD not in {i["code"] for i in dup[0]["implicated"]}:
        out.append(f"{s.label}: the unknown code is not on the implicated medicine")
    if not any(UNKNOWN_DMD.encode() in (r.value or b"") for r in refs):
        out.append(f"{s.label}: the unknown code is not in the referral")
    return out


async def test_poison_messages_are_answered_and_dead_lettered_and_the_partition_flows_on(
    embedded: EmbeddedBroker, tmp_path: Path
) -> None:
    began = time.monotonic()
    settings = settings_for(embedded, max_message_bytes=MAX_BYTES)
    numbers = nhs_numbers(start=271_828)
    cases = corpus(numbers)
    valid = example(VALID)
    env = env_for(
        settings,
        TCAM_MAX_MESSAGE_BYTES=str(MAX_BYTES),
        TCAM_PHARMACY_DIRECTORY=str(directory(tmp_path / "edispensary.csv")),
    )
    service = Service(env, tmp_path / "run.log")
    producer = await start_producer(settings, max_request_size=16 * 1024 * 1024)
    sent: list[Sent] = []
    stats: dict[str, Any] = {}

    async def send(
        label: str,
        value: bytes | None,
        key: bytes | None,
        case: Case | None = None,
        message_id: str | None = None,
    ) -> Sent:
        meta = await producer.send_and_wait(settings.topic_discharge, value, key=key, partition=0)
        s = Sent(label, case, value, key, (meta.partition, meta.offset), message_id)
        sent.append(s)
        return s

    async def send_valid(label: str) -> Sent:
        d = variant(valid, f"poison-valid-{label}", next(numbers), name=VALID)
        return await send(label, d.raw, d.nhs_number.encode(), message_id=d.message_id)

    try:
        service.start()
        async with LiveReader(settings) as reader:
            warm = await send_valid("warm-up")
            await reader.wait_for(
                lambda c: warm.position in c.acks_by_source(), 90, "warm-up ack", service.alive
            )
            rss_before = service.rss_kib()
            corpus_began = time.monotonic()
            first_follower: Sent | None = None
            for case in cases:
                await send(case.name, case.value, case.key, case=case, message_id=case.message_id)
                follower = await send_valid(f"valid after {case.name}")
                first_follower = first_follower or follower
            assert first_follower is not None
            await send(
                "duplicate of the first valid",
                first_follower.value,
                first_follower.key,
                message_id=first_follower.message_id,
            )
            positions = {s.position for s in sent}
            await reader.wait_for(
                lambda c: positions <= set(c.acks_by_source()),
                60,
                "every message to be answered",
                service.alive,
            )
            stats["corpus_seconds"] = round(time.monotonic() - corpus_began, 1)
            await asyncio.sleep(0.5)  # let the heap settle after the last message
            rss_after = service.rss_kib()
            alive = service.alive()
    finally:
        await producer.stop()
        service.close()

    got = await read_all(settings)
    problems = problems_of(sent, got, settings.pharmacy_topic, settings.topic_unrouted)
    dup_acks = got.acks_by_source()
    original, again = first_follower.position, sent[-1].position
    if {ack_id(a) for a in dup_acks[original]} != {ack_id(a) for a in dup_acks[again]}:
        problems.append("the duplicate was answered with a different ack id")
    expected_dlq = {s.position for s in sent if s.case is not None and not s.case.accepted}
    if set(got.dead_letters_by_source()) != expected_dlq:
        problems.append("dead letters for other inputs than the rejected ones")
    growth_mib = (rss_after - rss_before) / 1024
    stats.update(
        inputs=len(sent),
        cases=len(cases),
        rss_before_mib=round(rss_before / 1024, 1),
        rss_after_mib=round(rss_after / 1024, 1),
        rss_growth_mib=round(growth_mib, 1),
        alive_at_end=alive,
        dead_letters=len(got.dead_letters),
        problems=problems,
        total_seconds=round(time.monotonic() - began, 1),
    )
    write_artifact("poison-messages.json", stats)
    assert not problems, stats
    assert alive, service.log_tail()
    assert growth_mib < RSS_GROWTH_LIMIT_MIB, stats


async def test_a_tombstone_is_dead_lettered_as_a_tombstone(embedded: EmbeddedBroker) -> None:
    settings = settings_for(embedded)
    flow, stop, reader = await start_flow(settings)
    producer = await start_producer(settings)
    try:
        async with LiveReader(settings) as outputs:
            meta = await producer.send_and_wait(settings.topic_discharge, None, key=b"9990000018")
            position = (meta.partition, meta.offset)
            await outputs.wait_for(
                lambda c: position in c.dead_letters_by_source(), 60, "the dead letter"
            )
            [letter] = outputs.collected.dead_letters_by_source()[position]
    finally:
        await producer.stop()
        await flow.pipeline.stop()
        stop.set()
        await reader
    assert letter.key == b"9990000018"
    assert letter.value is None, f"dead letter value {letter.value!r}"
