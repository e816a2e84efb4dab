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
(``pipeline_producer_config``: linger and batch size). Each batch: the work on every body, one by
one, yielding to the event loop between them as the pipeline does, then every output sent
concurrently (``producer.send``, then awaiting all the broker's acknowledgements), then one commit
for the batch (``msg.ack()``), then one log line with the batch's size (the pipeline logs a line
per message). Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from typing import Any, Literal, get_args

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from fhir.resources.R4B.bundle import Bundle

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.kafka_config import broker_options, pipeline_producer_config
from tcam_bridge.core.structure import structure_check
from tcam_bridge.pipeline.app import Batch, Bodies, subscribe_discharges
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
    work = WORK[mode]  # the compiled check is built at the first message, as in the pipeline

    @subscribe_discharges(broker, settings)
    async def on_discharge(bodies: Bodies, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        batch: Batch = raw if isinstance(raw, tuple) else (raw,)
        for body in bodies:
            work(body or b"")
            await asyncio.sleep(0)  # as the pipeline: the consumer's heartbeat between messages
        sent: list[asyncio.Future[Any]] = [
            await producer.send(out_topic, record.value, key=record.key, headers=FHIR_JSON)
            for record in batch
        ]
        await asyncio.gather(*sent)
        await msg.ack()  # one commit: the end of the batch on each of its partitions
        logger.info("ceiling_batch", records=len(batch))  # the drain aligns its timing on these

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await producer.start()
    try:
        await broker.start()
        await stop.wait()
    finally:
        await broker.stop()
        await producer.stop()


def main(argv: list[str]) -> None:
    modes = {str(m): m for m in MODES}
    if len(argv) != 2 or argv[0] not in modes:
        sys.exit(f"usage: python -m benchmarks.ceiling {'|'.join(modes)} OUT_TOPIC")
    asyncio.run(serve(Settings(), modes[argv[0]], argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
