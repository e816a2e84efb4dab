"""Batches: the pipeline takes many discharges at once and publishes their outputs together, yet
each message is answered once, its ack only after its own referral, findings and dead letter
are on the broker, and a message whose outputs cannot be published holds up no other.

Every test publishes its inputs to one partition before the pipeline starts, so the first fetch
hands the pipeline all of them in one batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tcam_bridge.adapters.embedded_broker import EmbeddedBroker
from tcam_bridge.core.process import Record
from tcam_bridge.pipeline import app as pipeline_app
from tcam_bridge.settings import Settings
from tests.integration.conftest import EXAMPLES, Flow, settings_for, start_flow
from tests.integration.faults import (
    Discharge,
    ack_code,
    ack_id,
    example,
    group_offsets,
    nhs_numbers,
    read_all,
    start_producer,
    variant,
)

pytestmark = pytest.mark.integration

TEMPLATE = "03-ramipril-dose-increased.json"  # routed to FHM73, with findings
POISON = ("not-json.txt", "bad-nhs-number.json", "missing-patient.json", "fhir-xml.xml")


def valid(label: str, count: int, numbers: Iterator[str]) -> list[Discharge]:
    template = example(TEMPLATE)
    return [variant(template, f"{label}-{i}", next(numbers), name=TEMPLATE) for i in range(count)]


async def publish_up_front(
    settings: Settings, inputs: list[tuple[bytes | None, bytes]]
) -> list[int]:
    """Publish ``(value, key)`` pairs to partition 0 of the discharge topic; their offsets."""
    producer = await start_producer(settings)
    try:
        offsets = []
        for value, key in inputs:
            meta = await producer.send_and_wait(
                settings.topic_discharge, value, key=key, partition=0
            )
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


def correlation(record: Record) -> str:
    return dict(record.headers).get("tcam-correlation-id", b"?").decode()


class Recorder:
    """Wraps ``_publish``: the order in which records were handed to the producer ("send") and
    acknowledged by the broker ("acked"), by kind and correlation id."""

    def __init__(self, publish: Any) -> None:
        self.events: list[tuple[str, str, str]] = []  # (moment, kind, correlation id)
        self._publish = publish

    async def __call__(self, producer: Any, record: Record) -> None:
        self.events.append(("send", record.kind, correlation(record)))
        await self._publish(producer, record)
        self.events.append(("acked", record.kind, correlation(record)))

    def acks_sent(self) -> dict[str, int]:
        sent: dict[str, int] = {}
        for moment, kind, corr in self.events:
            if moment == "send" and kind == "ack":
                sent[corr] = sent.get(corr, 0) + 1
        return sent


async def stop(flow: Flow, stopping: asyncio.Event, reader: asyncio.Task[None]) -> None:
    stopping.set()
    await reader
    await flow.pipeline.stop()


async def wait_committed_to_the_end(settings: Settings, timeout: float = 30) -> None:
    """Until the group has committed every partition of the discharge topic to its end."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        committed, ends = await group_offsets(settings, settings.topic_discharge)
        if all(committed.get(p, 0) >= end for p, end in ends.items()):
            return
        assert asyncio.get_running_loop().time() < deadline, "the batch was not committed"
        await asyncio.sleep(0.2)


async def publish_discharges(settings: Settings, discharges: list[Discharge]) -> list[int]:
    """Publish discharges up front, keyed by NHS number; their offsets."""
    return await publish_up_front(settings, [(d.raw, d.nhs_number.encode()) for d in discharges])


async def test_a_batch_of_valid_and_poison_messages_answers_each_once_ack_last(
    embedded: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(embedded)
    numbers = nhs_numbers(start=310_000)
    good = valid("batch-mix", 6, numbers)
    poison = [
        ((EXAMPLES / "invalid" / name).read_bytes(), f"poison-{name}".encode()) for name in POISON
    ]
    inputs: list[tuple[bytes | None, bytes]] = [(d.raw, d.nhs_number.encode()) for d in good]
    inputs[1:1] = poison[:2]  # interleaved: valid, poison, poison, valid, ...
    inputs[5:5] = poison[2:]
    inputs.append((None, b"poison-tombstone"))
    offsets = await publish_up_front(settings, inputs)
    recorder = Recorder(pipeline_app._publish)
    monkeypatch.setattr(pipeline_app, "_publish", recorder)
    flow, stopping, reader = await start_flow(settings)
    try:
        positions = [(0, offset) for offset in offsets]
        await flow.wait_for(lambda: all(p in flow.outputs.acks for p in positions))
        await wait_committed_to_the_end(settings)
    finally:
        await stop(flow, stopping, reader)

    got = await read_all(settings)
    by_source = got.acks_by_source()
    assert sorted(by_source) == positions  # one ack per input, nothing else
    assert all(len(acks) == 1 for acks in by_source.values()), by_source
    codes = [ack_code(by_source[p][0]) for p in positions]
    poison_at = {i for i, (_, key) in enumerate(inputs) if key.startswith(b"poison-")}
    assert [i for i, code in enumerate(codes) if code == "fatal-error"] == sorted(poison_at)
    assert sorted(got.dead_letters_by_source()) == [positions[i] for i in sorted(poison_at)]
    referrals = got.by_message_id(got.referrals)
    assert all(len(referrals[d.message_id]) == 1 for d in good)

    # Each message's ack was handed to the producer only after the broker had acknowledged
    # every other record of that message: referral and findings, or dead letter.
    events = recorder.events
    acks_sent = recorder.acks_sent()
    assert len(acks_sent) == len(inputs)  # one correlation id per input
    assert set(acks_sent.values()) == {1}
    for corr in acks_sent:
        before_ack = events[: events.index(("send", "ack", corr))]
        kinds = {kind for _, kind, c in events if c == corr and kind != "ack"}
        assert kinds in ({"referral", "findings"}, {"dead-letter"}), (corr, kinds)
        for kind in kinds:
            assert before_ack.count(("acked", kind, corr)) == 1, (corr, kind)
    # One batch: every message's first records went out before the first ack did.
    first_ack = next(i for i, (_, kind, _) in enumerate(events) if kind == "ack")
    assert len({c for _, _, c in events[:first_ack]}) == len(inputs)


async def test_a_message_whose_outputs_keep_failing_does_not_hold_up_its_batch(
    embedded: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(embedded, max_attempts=3, retry_backoff_ms=10)
    good = valid("batch-one-fails", 5, nhs_numbers(start=320_000))
    stuck = good[2]
    offsets = await publish_discharges(settings, good)
    real_publish = pipeline_app._publish
    refused = 0

    async def refuses_one_referral(producer: Any, record: Record) -> None:
        nonlocal refused
        if record.kind == "referral" and correlation(record) == stuck.header_id:
            refused += 1
            raise PermissionError("topic authorization failed")
        await real_publish(producer, record)

    monkeypatch.setattr(pipeline_app, "_publish", refuses_one_referral)
    flow, stopping, reader = await start_flow(settings)
    try:
        positions = [(0, offset) for offset in offsets]
        await flow.wait_for(lambda: all(p in flow.outputs.acks for p in positions))
        await wait_committed_to_the_end(settings)
    finally:
        await stop(flow, stopping, reader)

    assert refused == 3  # max_attempts, then the message was dead-lettered
    got = await read_all(settings)
    by_source = got.acks_by_source()
    assert sorted(by_source) == positions
    assert all(len(acks) == 1 for acks in by_source.values())
    stuck_at = positions[2]
    for position in positions:
        expected = "transient-error" if position == stuck_at else "ok"
        assert ack_code(by_source[position][0]) == expected, position
    [letter] = got.dead_letters
    assert letter.source == stuck_at
    assert letter.headers["tcam-error-class"] == "delivery-failed"
    assert letter.headers["tcam-attempts"] == "3"
    referrals = got.by_message_id(got.referrals)
    assert stuck.message_id not in referrals
    assert all(len(referrals[d.message_id]) == 1 for d in good if d is not stuck)


async def test_when_not_even_the_dead_letter_can_be_published_the_batch_is_committed_up_to_it(
    embedded: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(embedded, max_attempts=2, retry_backoff_ms=10)
    good = valid("batch-rewind", 5, nhs_numbers(start=330_000))
    stuck = good[2]
    offsets = await publish_discharges(settings, good)
    real_publish = pipeline_app._publish
    refused = 0

    async def refuses_everything_of_one_message(producer: Any, record: Record) -> None:
        nonlocal refused
        if correlation(record) == stuck.header_id:
            refused += 1
            raise ConnectionError("broker unavailable")
        await real_publish(producer, record)

    monkeypatch.setattr(pipeline_app, "_publish", refuses_everything_of_one_message)
    first, stopping, reader = await start_flow(settings)
    try:
        # Refused twice per try (referral and findings, then the dead letter): several rounds.
        await first.wait_for(lambda: refused >= 12)
        committed, _ = await group_offsets(settings, settings.topic_discharge)
        assert committed.get(0) == offsets[2]  # the two before it, not it nor what follows
    finally:
        await stop(first, stopping, reader)
    assert (0, offsets[2]) not in first.outputs.acks  # nothing acked unwritten

    monkeypatch.undo()
    second, stopping, reader = await start_flow(settings)  # same group: resumes at the stuck one
    try:
        await second.wait_for(lambda: (0, offsets[2]) in second.outputs.acks)
        await wait_committed_to_the_end(settings)
    finally:
        await stop(second, stopping, reader)

    got = await read_all(settings)
    by_source = got.acks_by_source()
    assert sorted(by_source) == [(0, offset) for offset in offsets]
    for i, offset in enumerate(offsets):
        answers = by_source[(0, offset)]
        assert {ack_code(a) for a in answers} == {"ok"}
        assert len({ack_id(a) for a in answers}) == 1  # redelivered ones answered the same
        if i < 2:
            assert len(answers) == 1  # committed before the stuck one: never processed again
    assert len(by_source[(0, offsets[2])]) == 1
    assert not got.dead_letters
    referrals = got.by_message_id(got.referrals)
    assert all(
        len({r.headers["tcam-referral-id"] for r in referrals[d.message_id]}) == 1 for d in good
    )


async def test_a_graceful_stop_mid_stream_commits_every_answered_message(
    embedded: EmbeddedBroker,
) -> None:
    """A batch's commit finishes while the next batch is processed; stopping must wait for it,
    or the answered messages of the last batch would be answered again after a restart."""
    settings = settings_for(embedded, batch_max_records=20)
    inputs = valid("batch-stop", 600, nhs_numbers(start=340_000))
    offsets = await publish_discharges(settings, inputs)
    first, stopping, reader = await start_flow(settings)
    try:
        await first.wait_for(lambda: len(first.outputs.acks) >= 30)
        await first.pipeline.stop()  # mid-stream: batches are still coming
    finally:
        stopping.set()
        await reader
    answered = await read_all(settings)
    committed, _ = await group_offsets(settings, settings.topic_discharge)
    assert 30 <= len(answered.acks) < len(offsets)  # stopped part-way
    assert max(offset for _, offset in answered.acks_by_source()) < committed[0]

    second, stopping, reader = await start_flow(settings)  # same group: resumes where it stopped
    try:
        await second.wait_for(lambda: (0, offsets[-1]) in second.outputs.acks)
    finally:
        await stop(second, stopping, reader)
    by_source = (await read_all(settings)).acks_by_source()
    assert sorted(by_source) == [(0, offset) for offset in offsets]
    assert all(len(acks) == 1 for acks in by_source.values())  # none answered twice
