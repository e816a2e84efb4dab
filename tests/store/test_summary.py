"""Summary counts and the zero-filled weekly trend."""

from __future__ import annotations

from datetime import date

import pytest

from tcam_bridge.risklog.store import FlagQuery, ReviewStatus, Scope, WeekCount
from tests.store.conftest import NOW, Db, finding, make_event

ALL = Scope(None)
TODAY = date(2026, 11, 18)  # a Wednesday; its ISO week starts on Monday 16 November


async def test_summary_counts_and_weekly_trend(db: Db) -> None:
    for day, findings in [
        (date(2026, 11, 17), [finding("TCAM_DUP_ANTICOAG", "high"), finding("GI_P3A", "moderate")]),
        (date(2026, 11, 16), [finding("TCAM_DUP_ANTICOAG", "high")]),
        (date(2026, 11, 15), [finding("TCAM_DUP_ANTICOAG", "high")]),  # Sunday: week before
        (date(2026, 11, 2), [finding("MO_P15", "low"), finding("MO_P15", "low")]),
        (date(2026, 8, 3), [finding("GI_P3A", "moderate")]),  # outside a 4-week window
    ]:
        await db.risklog.record(make_event(discharge=day, findings=findings), NOW)

    summary = await db.risklog.summary(FlagQuery(), ALL, weeks=4, today=TODAY)
    assert summary.by_rule == (("TCAM_DUP_ANTICOAG", 3), ("GI_P3A", 2), ("MO_P15", 2))
    assert summary.by_severity == (("high", 3), ("moderate", 2), ("low", 2))
    mondays = [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    assert summary.weekly == {
        "GI_P3A": tuple(WeekCount(m, c) for m, c in zip(mondays, [0, 0, 0, 1], strict=True)),
        "MO_P15": tuple(WeekCount(m, c) for m, c in zip(mondays, [0, 2, 0, 0], strict=True)),
        "TCAM_DUP_ANTICOAG": tuple(
            WeekCount(m, c) for m, c in zip(mondays, [0, 0, 1, 2], strict=True)
        ),
    }


async def test_summary_honours_the_query(db: Db) -> None:
    await db.risklog.record(
        make_event(
            discharge=date(2026, 11, 17), findings=[finding(), finding("GI_P3A", "moderate")]
        ),
        NOW,
    )
    await db.risklog.record(
        make_event(trust="RX1", discharge=date(2026, 11, 10), findings=[finding()]), NOW
    )
    high = await db.risklog.summary(FlagQuery(severity="high"), ALL, weeks=2, today=TODAY)
    assert high.by_rule == (("TCAM_DUP_ANTICOAG", 2),)
    assert [w.count for w in high.weekly["TCAM_DUP_ANTICOAG"]] == [1, 1]
    rx1 = await db.risklog.summary(FlagQuery(trust="RX1"), ALL, weeks=2, today=TODAY)
    assert rx1.by_rule == (("TCAM_DUP_ANTICOAG", 1),)
    reviewed = await db.risklog.summary(
        FlagQuery(status=ReviewStatus.FALSE_POSITIVE), ALL, weeks=2, today=TODAY
    )
    assert reviewed.by_rule == () and reviewed.by_severity == () and reviewed.weekly == {}


async def test_an_empty_window_is_all_zeros(db: Db) -> None:
    await db.risklog.record(make_event(discharge=date(2025, 1, 6), findings=[finding()]), NOW)
    summary = await db.risklog.summary(FlagQuery(), ALL, weeks=3, today=TODAY)
    assert summary.by_rule == (("TCAM_DUP_ANTICOAG", 1),)
    assert [w.count for w in summary.weekly["TCAM_DUP_ANTICOAG"]] == [0, 0, 0]
    assert [w.week_start.weekday() for w in summary.weekly["TCAM_DUP_ANTICOAG"]] == [0, 0, 0]
    with pytest.raises(ValueError, match="weeks"):
        await db.risklog.summary(FlagQuery(), ALL, weeks=0, today=TODAY)
