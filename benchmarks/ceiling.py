"""The ceilings the pipeline is compared with: consumers that do less than the pipeline.

``python -m benchmarks.ceiling MODE OUT_TOPIC`` reads discharges and republishes each one,
unchanged, to ``OUT_TOPIC``; before that, per message, MODE does:

- ``passthrough`` (ceiling 1): ``json.loads`` only;
- ``validate`` (ceiling 2, the issue's validation ceiling): ``json.loads`` then the
  ``fhir.resources`` R4B ``Bundle.model_validate``, nothing else;
- ``check`` (ceiling 2b): ``json.loads`` then the compiled structure check
  (``tcam_bridge.core.structure.structure_check().accepts``), and ``Bundle.model_validate`` only
  when that does not accept: the FHIR validation ``process()`` actually runs.

Settings come from the same ``TCAM_*`` environment as ``tcam run``, and the consumer is built and
consumes the way the pipeline's does (``tcam_bridge.pipeline.app.build_pipeline``): FastStream
``KafkaBroker`` with the same broker options and logger; the batch subscriber made by the
pipeline's own ``subscribe_discharges`` (batch size and timeout, fetch wait and sizes, group,
``AckPolicy.MANUAL``, decoder and parser) and the same handler arguments (the batch's bodies); a
separate aiokafka producer with the pipeline's producer configuration
(``pipeline_producer_config``: linger and batch size); the start-up heap settled (``settle_heap``).
Each batch: the work on each body in turn, its output sent as soon as it is done
(``producer.send``), yielding to the event loop between messages; then, as the pipeline does
(``Settling``), the batch's finish (awaiting the broker's acknowledgements, one commit of the
batch's end on each of its partitions, one log line with the batch's size) runs while the next
batch is worked on. Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from typing import Any, Literal, get_args

from aiokafka import AIOKafkaProducer, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from fhir.resources.R4B.bundle import Bundle

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.kafka_config import broker_options, pipeline_producer_config
from tcam_bridge.core.structure import structure_check
from tcam_bridge.pipeline.app import Batch, Bodies, Settling, settle_heap, subscribe_discharges
from tcam_bridge.settings import Settings

Mode = Literal["passthrough", "validate", "check"]
MODES: tuple[Mode, ...] = get_args(Mode)
FHIR_JSON = [("content-type", b"application/fhir+json")]


def _decode(value: bytes) -> None:
    json.loads(value)


def _validate(value: bytes) -> None:
    Bundle.model_validate(json.loads(value))


def _check(value: bytes) -> None:
    data = json.loads(value)
    if not structure_check().accepts(data):
        Bundle.model_validate(data)  # as process() does when the compiled check defers


WORK: dict[Mode, Callable[[bytes], None]] = {
    "passthrough": _decode,
    "validate": _validate,
    "check": _check,
}


async def serve(settings: Settings, mode: Mode, out_topic: str) -> None:
    logs.configure(settings.log_level, settings.log_format)
    logger = logs.get_logger("tcam.bench.ceiling")
    broker = KafkaBroker(**broker_options(settings), ack_policy=AckPolicy.MANUAL, logger=logger)
    producer = AIOKafkaProducer(**pipeline_producer_config(settings))
    work = WORK[mode]
    settling = Settling()

    @subscribe_discharges(broker, settings)
    async def on_discharge(bodies: Bodies, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        batch: Batch = raw if isinstance(raw, tuple) else (raw,)
        sent: list[asyncio.Future[Any]] = []
        for record, body in zip(batch, bodies, strict=True):
            work(body or b"")
            # As the pipeline: each output leaves once its message is done, and the consumer's
            # heartbeat gets through between messages.
            sent.append(
                await producer.send(out_topic, record.value, key=record.key, headers=FHIR_JSON)
            )
            await asyncio.sleep(0)
        await settling.wait()  # as the pipeline: the previous batch finished meanwhile
        settling.start(finish(msg, batch, sent))

    async def finish(msg: KafkaMessage, batch: Batch, sent: list[asyncio.Future[Any]]) -> None:
        await asyncio.gather(*sent)
        ends: dict[TopicPartition, int] = {}
        for record in batch:
            tp = TopicPartition(record.topic, record.partition)
            ends[tp] = max(ends.get(tp, 0), record.offset + 1)
        await msg.consumer.commit(ends)  # one commit: the end of the batch on each partition
        logger.info("ceiling_batch", records=len(batch))  # the drain aligns its timing on these

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settle_heap()  # as `tcam run`
    await producer.start()
    try:
        await broker.start()
        await stop.wait()
    finally:
        await settling.finish()
        await broker.stop()
        await producer.stop()


def main(argv: list[str]) -> None:
    modes = {str(m): m for m in MODES}
    if len(argv) != 2 or argv[0] not in modes:
        sys.exit(f"usage: python -m benchmarks.ceiling {'|'.join(modes)} OUT_TOPIC")
    asyncio.run(serve(Settings(), modes[argv[0]], argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
