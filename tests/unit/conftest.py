"""Shared fixtures for the unit tests of the pure core."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tcam_bridge.core.process import CoreConfig, Outcome, process
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings
from tests.unit.factories import to_bytes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"
VALID_EXAMPLES = sorted(EXAMPLES.glob("*.json"))
INVALID_EXAMPLES = sorted(p for p in (EXAMPLES / "invalid").iterdir() if p.is_file())

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
TODAY = date(2026, 11, 18)


@pytest.fixture(scope="session")
def config() -> CoreConfig:
    return core_config(Settings.model_construct(), TODAY)


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def run(config: CoreConfig) -> Callable[..., Outcome]:
    """``run(bundle_or_bytes, key=None, now=NOW, config=config)`` -> Outcome."""

    def _run(
        message: Any,
        *,
        key: bytes | None = None,
        now: datetime = NOW,
        config: CoreConfig = config,
    ) -> Outcome:
        raw = message if isinstance(message, bytes) else to_bytes(message)
        return process(raw, key=key, config=config, now=now)

    return _run
