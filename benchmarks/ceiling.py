"""The ceilings the pipeline is compared with: consumers that do less than the pipeline.

``python -m benchmarks.ceiling passthrough OUT_TOPIC`` reads each discharge, JSON-decodes it and
republishes it to ``OUT_TOPIC``; ``validate`` also runs the R4B ``Bundle.model_validate`` on it,
nothing else. Settings come from the same ``TCAM_*`` environment as ``tcam run``, and the
consumer is built the same way as the pipeline's (``tcam_bridge.pipeline.app.build_pipeline``):
FastStream ``KafkaBroker`` with the same broker options and logger, a subscriber with
``AckPolicy.MANUAL``, the same decoder, parser and fetch sizes, a separate aiokafka producer with
the pipeline's producer configuration, ``send_and_wait`` of the output, then ``msg.ack()`` (the
offset commit). Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Literal

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from fhir.resources.R4B.bundle import Bundle

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.kafka_config import broker_options, producer_config
from tcam_bridge.pipeline.app import _raw_body, _tolerant_parser
from tcam_bridge.settings import Settings

Mode = Literal["passthrough", "validate"]
MODES: tuple[Mode, ...] = ("passthrough", "validate")


async def serve(settings: Settings, mode: Mode, out_topic: str) -> None:
    logs.configure(settings.log_level, settings.log_format)
    logger = logs.get_logger("tcam.bench.ceiling")
    broker = KafkaBroker(**broker_options(settings), ack_policy=AckPolicy.MANUAL, logger=logger)
    producer = AIOKafkaProducer(**producer_config(settings))
    validate = mode == "validate"

    @broker.subscriber(
        settings.topic_discharge,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        parser=_tolerant_parser,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    async def on_discharge(body: bytes, msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        data = json.loads(body)
        if validate:
            Bundle.model_validate(data)
        await producer.send_and_wait(
            out_topic, body, key=record.key, headers=[("content-type", b"application/fhir+json")]
        )
        await msg.ack()

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
    if len(argv) != 2 or argv[0] not in MODES:
        sys.exit("usage: python -m benchmarks.ceiling passthrough|validate OUT_TOPIC")
    mode: Mode = "validate" if argv[0] == "validate" else "passthrough"
    asyncio.run(serve(Settings(), mode, argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
