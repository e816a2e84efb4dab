"""Structured JSON logs with ids only.

Log message ids, referral ids, rule ids, topics, partitions and offsets. Never NHS numbers,
names, dates of birth, addresses, phone numbers or clinical notes: the pipeline never passes
message content to a logger, and keys (NHS numbers) are never logged.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, not at configure time (a
    test harness or a daemon may swap it; a captured stream may be closed by then)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "tcam") -> Any:
    return structlog.get_logger(name)
