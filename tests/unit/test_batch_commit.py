"""How a batch is committed (``pipeline.app.commit_batch``): never past a message whose outputs
are not on the broker, not even by a later batch read before that message was rewound.

The consumer here is a recording stand-in; the integration tests (``tests/integration/
test_batches.py``, the kill -9 test) run the same code against the embedded broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from tcam_bridge.pipeline.app import commit_batch

P0, P1 = TopicPartition("discharges", 0), TopicPartition("discharges", 1)


@dataclass
class Source:
    topic: str
    partition: int
    offset: int


@dataclass
class Message:
    source: Source
    delivered: bool = True


def batch(*items: tuple[TopicPartition, int, bool]) -> list[Any]:
    return [Message(Source(tp.topic, tp.partition, offset), ok) for tp, offset, ok in items]


@dataclass
class Consumer:
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    fail_with: Exception | None = None

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.commits.append(dict(offsets))


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def error(self, event: str, **kw: Any) -> None:
        self.events.append(("error", event, kw))

    def warning(self, event: str, **kw: Any) -> None:
        self.events.append(("warning", event, kw))


def offsets(messages: list[Any]) -> list[tuple[int, int]]:
    return [(m.source.partition, m.source.offset) for m in messages]


async def test_a_delivered_batch_is_committed_to_the_end_of_each_partition() -> None:
    consumer, held = Consumer(), {}
    messages = batch((P0, 10, True), (P1, 4, True), (P0, 11, True))
    done = await commit_batch(consumer, messages, held, Log())
    assert consumer.commits == [{P0: 12, P1: 5}]
    assert consumer.seeks == [] and held == {}
    assert offsets(done) == [(0, 10), (1, 4), (0, 11)]


async def test_an_undelivered_message_rewinds_and_holds_its_partition_only() -> None:
    consumer, held, log = Consumer(), {}, Log()
    messages = batch((P0, 10, True), (P0, 11, False), (P0, 12, True), (P1, 4, True))
    done = await commit_batch(consumer, messages, held, log)
    assert consumer.seeks == [(P0, 11)]
    assert consumer.commits == [{P0: 11, P1: 5}]  # up to it; the other partition to its end
    assert held == {P0: 11}
    assert offsets(done) == [(0, 10), (1, 4)]
    assert [e[1] for e in log.events] == ["batch_rewound"]


async def test_a_later_batch_read_before_the_rewind_does_not_commit_the_held_partition() -> None:
    """Batch k+1 was read while batch k was still finishing: its records on the rewound
    partition lie beyond the held message and must not be committed past it."""
    consumer, held = Consumer(), {P0: 11}
    messages = batch((P0, 13, True), (P0, 14, True), (P1, 5, True))
    done = await commit_batch(consumer, messages, held, Log())
    assert consumer.commits == [{P1: 6}]
    assert held == {P0: 11}
    assert offsets(done) == [(1, 5)]


async def test_the_hold_ends_when_the_held_message_is_read_again() -> None:
    consumer, held = Consumer(), {P0: 11}
    messages = batch((P0, 11, True), (P0, 12, True))
    done = await commit_batch(consumer, messages, held, Log())
    assert consumer.commits == [{P0: 13}]
    assert held == {}
    assert len(done) == 2


async def test_a_message_undelivered_again_is_held_again() -> None:
    consumer, held = Consumer(), {P0: 11}
    messages = batch((P0, 11, False), (P0, 12, True))
    done = await commit_batch(consumer, messages, held, Log())
    assert consumer.commits == []  # nothing before it in this batch: no progress to commit
    assert consumer.seeks == [(P0, 11)]
    assert held == {P0: 11}
    assert done == []


async def test_a_failed_commit_commits_nothing_and_says_so() -> None:
    consumer, log = Consumer(fail_with=CommitFailedError("rebalanced")), Log()
    done = await commit_batch(consumer, batch((P0, 1, True)), {}, log)
    assert done == []
    assert [(e[0], e[1]) for e in log.events] == [("warning", "commit_failed")]
    assert log.events[0][2]["partitions"] == {"discharges:0": 2}


@pytest.mark.parametrize("undelivered", [0, 1, 2, 3])
async def test_never_committed_past_an_undelivered_message(undelivered: int) -> None:
    consumer, held = Consumer(), {}
    messages = batch(*[(P0, 20 + i, i != undelivered) for i in range(4)])
    await commit_batch(consumer, messages, held, Log())
    assert all(c[P0] <= 20 + undelivered for c in consumer.commits)
    # whatever comes next from before the rewind is not committed either
    await commit_batch(consumer, batch((P0, 24, True)), held, Log())
    assert all(c.get(P0, 0) <= 20 + undelivered for c in consumer.commits)
