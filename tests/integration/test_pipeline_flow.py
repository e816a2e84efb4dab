"""Discharges in, referrals, findings, acks and dead letters out, through the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.demo import example_files, message_id
from tests.integration.conftest import EXAMPLES, Flow, settings_for, start_flow

pytestmark = pytest.mark.integration

VALID = sorted(EXAMPLES.glob("*.json"))
INVALID = [p for p in example_files(EXAMPLES) if p.parent.name == "invalid"]


def header_id(raw: bytes) -> str:
    return str(json.loads(raw)["entry"][0]["resource"]["id"])


def referral_resources(bundle: dict[str, object], resource_type: str) -> list[dict[str, object]]:
    entries = bundle["entry"]
    assert isinstance(entries, list)
    return [e["resource"] for e in entries if e["resource"]["resourceType"] == resource_type]


async def test_every_example_is_answered_routed_or_dead_lettered(flow: Flow) -> None:
    sent: dict[Path, tuple[int, int]] = {}
    for path in VALID + INVALID:
        sent[path] = await flow.send(path.read_bytes())
    out = flow.outputs

    def done() -> bool:
        return (
            all(pos in out.acks for pos in sent.values())
            and len(out.dead_letters) >= len(INVALID)
            and len(out.findings) >= len(VALID)
        )

    await flow.wait_for(done)

    for path in VALID:
        raw = path.read_bytes()
        ack = out.acks[sent[path]]
        response = ack["entry"][0]["resource"]["response"]
        assert response == {**response, "code": "ok", "identifier": header_id(raw)}, path.name
        assert message_id(raw) in out.findings
    for path in INVALID:
        ack = out.acks[sent[path]]
        header = ack["entry"][0]["resource"]
        assert header["response"]["code"] == "fatal-error", path.name
        outcome = ack["entry"][1]["resource"]
        assert outcome["resourceType"] == "OperationOutcome"
        assert all(issue["expression"][0].startswith("Bundle") for issue in outcome["issue"])
        # The dead letter keeps the original bytes and headers, and says why and where from.
        partition, offset = sent[path]
        letter = out.dead_letters[sent[path]]
        assert letter["tcam-error-class"] == "validation"
        assert letter["tcam-error-reason"]
        assert letter["tcam-attempts"] == "1"
        assert letter["tcam-source-topic"] == flow.settings.topic_discharge
        assert (letter["tcam-source-partition"], letter["tcam-source-offset"]) == (
            str(partition),
            str(offset),
        )
        assert letter["x-epr-trace"] == "abc"
    assert len(out.dead_letters) == len(INVALID)


async def test_dead_letter_value_is_the_original_bytes(flow: Flow) -> None:
    from aiokafka import AIOKafkaConsumer

    raw = b"\xff\xfe not utf-8 { at all"
    position = await flow.send(raw, key=b"k1")
    await flow.wait_for(lambda: position in flow.outputs.dead_letters)
    consumer = AIOKafkaConsumer(
        flow.settings.topic_dlq,
        bootstrap_servers=flow.settings.bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.value == raw
    assert record.key == b"k1"
    ack = flow.outputs.acks[position]
    assert ack["entry"][0]["resource"]["response"]["identifier"].startswith("sha256-")


async def test_anticoagulant_incident_reaches_the_nominated_pharmacy_with_the_finding(
    flow: Flow,
) -> None:
    raw = (EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes()
    mid = message_id(raw)
    await flow.send(raw)
    await flow.wait_for(lambda: mid in flow.outputs.referrals and mid in flow.outputs.findings)

    [(topic, referral)] = flow.outputs.referrals[mid]
    assert topic == flow.settings.pharmacy_topic("FA5T2")
    header = referral["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["eventCoding"]["code"] == "servicerequest-request"
    [task] = referral_resources(referral, "Task")
    assert task["status"] == "requested"
    issues = {
        c["code"]: issue
        for issue in referral_resources(referral, "DetectedIssue")
        for c in issue["code"]["coding"]
    }
    issue = issues["TCAM_DUP_ANTICOAG"]
    assert {c["code"] for c in issue["code"]["coding"]} == {"DUPTHPY", "TCAM_DUP_ANTICOAG"}
    assert issue["severity"] == "high"
    assert "TCAM_STOPPED_HIGH_RISK" in issues  # remove home stock, cancel the repeat
    [service_request] = referral_resources(referral, "ServiceRequest")
    assert service_request["priority"] == "urgent"

    event = flow.outputs.findings[mid]
    assert {"TCAM_DUP_ANTICOAG", "TCAM_STOPPED_HIGH_RISK"} <= {
        f["rule_id"] for f in event["findings"]
    }
    assert event["pharmacy_ods"] == "FA5T2"
    assert event["referral_status"] == "routed"


async def test_unrouted_and_not_referred_go_where_the_policy_says(flow: Flow) -> None:
    cases = {
        "05-consent-not-recorded.json": flow.settings.topic_unrouted,
        "07-no-nominated-pharmacy.json": flow.settings.topic_unrouted,
        "08-locum-code-ffff.json": flow.settings.topic_unrouted,
        "06-servicerequest-chosen-pharmacy.json": flow.settings.pharmacy_topic("FJ4W1"),
    }
    ids = {}
    for name in [*cases, "04-consent-declined.json", "11-no-changes-not-referred.json"]:
        raw = (EXAMPLES / name).read_bytes()
        ids[name] = message_id(raw)
        await flow.send(raw)
    await flow.wait_for(lambda: all(i in flow.outputs.findings for i in ids.values()))
    await flow.wait_for(lambda: all(ids[n] in flow.outputs.referrals for n in cases))
    for name, topic in cases.items():
        assert [t for t, _ in flow.outputs.referrals[ids[name]]] == [topic], name
    for name in ("04-consent-declined.json", "11-no-changes-not-referred.json"):
        assert ids[name] not in flow.outputs.referrals
        assert flow.outputs.findings[ids[name]]["referral_status"] == "not-referred"


async def test_a_resent_message_gives_the_same_referral_not_a_second_one(flow: Flow) -> None:
    raw = (EXAMPLES / "10-two-anticoagulants-on-discharge.json").read_bytes()
    mid = message_id(raw)
    first = await flow.send(raw)
    second = await flow.send(raw)
    await flow.wait_for(lambda: len(flow.outputs.referrals.get(mid, [])) == 2)
    await flow.wait_for(lambda: first in flow.outputs.acks and second in flow.outputs.acks)
    (_, a), (_, b) = flow.outputs.referrals[mid]
    assert (
        referral_resources(a, "ServiceRequest")[0]["id"]
        == (referral_resources(b, "ServiceRequest")[0]["id"])
    )
    assert a["id"] == b["id"]
    assert flow.outputs.acks[first]["id"] == flow.outputs.acks[second]["id"]


async def test_header_values_that_are_not_utf8_do_not_lose_the_message(flow: Flow) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    raw = (EXAMPLES / "11-no-changes-not-referred.json").read_bytes()
    producer = AIOKafkaProducer(bootstrap_servers=flow.settings.bootstrap_servers)
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            flow.settings.topic_discharge,
            raw,
            headers=[("x-trace", b"\xff\xfe"), ("x-trace", b"second")],
        )
        bad = await producer.send_and_wait(
            flow.settings.topic_discharge, b"{", headers=[("x-bin", b"\x80\x81")]
        )
    finally:
        await producer.stop()
    first, second = (meta.partition, meta.offset), (bad.partition, bad.offset)
    await flow.wait_for(lambda: first in flow.outputs.acks and second in flow.outputs.dead_letters)
    assert flow.outputs.ack_code(first) == "ok"
    consumer = AIOKafkaConsumer(
        flow.settings.topic_dlq,
        bootstrap_servers=flow.settings.bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert ("x-bin", b"\x80\x81") in list(record.headers)  # original headers kept byte for byte


async def test_a_message_too_large_to_dead_letter_leaves_a_pointer_and_is_answered(
    embedded: EmbeddedBroker,
) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    settings = settings_for(embedded, max_message_bytes=1024)
    flow, stop, reader = await start_flow(settings)
    big = b'{"resourceType": "Bundle", "padding": "' + b"x" * 1_500_000 + b'"}'
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        meta = await producer.send_and_wait(settings.topic_discharge, big, key=b"k")
        position = (meta.partition, meta.offset)
        await flow.wait_for(lambda: position in flow.outputs.acks)
        await flow.wait_for(lambda: position in flow.outputs.dead_letters)
        letter = flow.outputs.dead_letters[position]
        assert letter["tcam-error-class"] == "too-large"
        assert letter["tcam-value-omitted"] == "too-large"
        assert flow.outputs.ack_code(position) == "fatal-error"
        ack = flow.outputs.acks[position]
        [issue] = ack["entry"][1]["resource"]["issue"]
        assert issue["details"]["coding"][0]["code"] == "message-too-large"
        consumer = AIOKafkaConsumer(
            settings.topic_dlq,
            bootstrap_servers=settings.bootstrap_servers,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert record.value == b""
    finally:
        await producer.stop()
        stop.set()
        await reader
        await flow.pipeline.stop()


async def test_a_rule_that_raises_is_reported_and_the_others_still_run(
    embedded: EmbeddedBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses
    from datetime import UTC, datetime

    from tcam_bridge.core.finding import FindingSeverity
    from tcam_bridge.core.rule import Context, RuleMeta, RuleResult
    from tcam_bridge.pipeline.config import core_config

    class Broken:
        meta = RuleMeta("TEST_BROKEN", "0.0.1", "Broken", FindingSeverity.LOW, "r", "s")

        def evaluate(self, ctx: Context) -> RuleResult:
            raise ZeroDivisionError

    settings = settings_for(embedded)
    base = core_config(settings, datetime.now(UTC).date())
    config = dataclasses.replace(base, rules=(Broken(), *base.rules))
    flow, stop, reader = await start_flow(settings, config)
    try:
        raw = (EXAMPLES / "10-two-anticoagulants-on-discharge.json").read_bytes()
        mid = message_id(raw)
        position = await flow.send(raw)
        await flow.wait_for(lambda: mid in flow.outputs.findings and position in flow.outputs.acks)
        event = flow.outputs.findings[mid]
        assert event["rule_failures"] == [{"rule_id": "TEST_BROKEN", "error": "ZeroDivisionError"}]
        assert "TCAM_DUP_ANTICOAG" in [f["rule_id"] for f in event["findings"]]
        assert flow.outputs.ack_code(position) == "ok"
    finally:
        stop.set()
        await reader
        await flow.pipeline.stop()
    logged = capsys.readouterr()
    assert '"rule_id": "TEST_BROKEN"' in logged.err + logged.out
    assert '"event": "rule_failed"' in logged.err + logged.out
