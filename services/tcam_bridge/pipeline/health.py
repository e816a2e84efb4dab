"""Liveness for containers: the running service touches a file while its broker answers pings;
``tcam health`` checks the file is fresh."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from faststream.kafka import KafkaBroker


async def heartbeat(broker: KafkaBroker, path: Path, interval: float = 10.0) -> None:
    """Touch ``path`` every ``interval`` seconds while ``broker.ping`` succeeds."""
    while True:
        if await broker.ping(timeout=5.0):
            await asyncio.to_thread(path.touch)
        await asyncio.sleep(interval)


def is_fresh(path: Path, max_age: float, now: float | None = None) -> bool:
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return (now if now is not None else time.time()) - modified <= max_age
