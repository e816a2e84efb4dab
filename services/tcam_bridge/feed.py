"""Publishing discharge messages, as an EPR would (``tcam publish`` and the demo)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from faststream.kafka import KafkaBroker

from tcam_bridge.adapters.kafka_config import broker_options
from tcam_bridge.core.terminology import NHS_NUMBER
from tcam_bridge.settings import Settings


def patient_key(raw: bytes) -> bytes | None:
    """The NHS number to key a message by (per-patient ordering), if it can be found."""
    try:
        data = json.loads(raw)
        for entry in data.get("entry") or []:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") == "Patient":
                for ident in resource.get("identifier") or []:
                    if ident.get("system") == NHS_NUMBER and isinstance(ident.get("value"), str):
                        return str(ident["value"]).encode()
    except (ValueError, AttributeError, TypeError):
        return None
    return None


async def publish_files(
    settings: Settings, files: Sequence[Path], topic: str
) -> list[tuple[Path, str]]:
    broker = KafkaBroker(**broker_options(settings))
    sent: list[tuple[Path, str]] = []
    async with broker:
        await broker.start()
        for path in files:
            raw = path.read_bytes()
            meta = await broker.publish(
                raw,
                topic,
                key=patient_key(raw),
                headers={"content-type": "application/fhir+json"},
            )
            sent.append((path, f"{topic} partition {meta.partition} offset {meta.offset}"))
    return sent
