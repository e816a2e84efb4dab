"""The pharmacy directory: an NHS ODS pharmacy export (``edispensary.csv`` layout).

The ODS export files have no header row. Column 1 is the organisation code, column 2 the name
and column 12 the close date (``YYYYMMDD``, empty while the pharmacy is open). A pharmacy with a
close date on or before today is not a routing target.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

CODE, NAME, CLOSE_DATE = 0, 1, 11


def load_directory(path: Path, today: date) -> frozenset[str]:
    """The ODS codes of pharmacies open on ``today``."""
    open_codes: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if not row or not row[CODE].strip():
                continue
            closed = _parse(row[CLOSE_DATE]) if len(row) > CLOSE_DATE else None
            if closed is not None and closed <= today:
                continue
            open_codes.add(row[CODE].strip().upper())
    return frozenset(open_codes)


def _parse(value: str) -> date | None:
    value = value.strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None
