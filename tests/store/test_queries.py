"""Listing, filtering, paging, exporting, and the scope of what a user may see."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tcam_bridge.risklog.store import (
    FlagNotFound,
    FlagQuery,
    FlagView,
    ReviewStatus,
    Scope,
    csv_row,
)
from tests.store.conftest import NOW, Db, finding, make_event

ALL = Scope(None)
TRUST_A = Scope(frozenset({"RR8"}))


async def _seed(db: Db) -> dict[str, int]:
    """Trust RR8 (pharmacies FA5T2, FQ123) and trust RX1 (FA5T2), over three weeks."""
    events = [
        make_event(
            trust="RR8",
            discharge=date(2026, 11, 2),
            pharmacy="FA5T2",
            findings=[finding("TCAM_DUP_ANTICOAG", "high")],
        ),
        make_event(
            trust="RR8",
            discharge=date(2026, 11, 10),
            pharmacy="FQ123",
            findings=[finding("GI_P3A", "moderate"), finding("MO_P15", "low")],
        ),
        make_event(
            trust="RR8",
            discharge=date(2026, 11, 18),
            pharmacy=None,
            findings=[finding("TCAM_DUP_ANTICOAG", "high")],
        ),
        make_event(
            trust="RX1",
            discharge=date(2026, 11, 12),
            pharmacy="FA5T2",
            findings=[finding("TCAM_DUP_ANTICOAG", "high"), finding("GI_P3A", "moderate")],
        ),
    ]
    for event in events:
        await db.risklog.record(event, NOW)
    ids = {}
    for flag in (await db.risklog.list_flags(FlagQuery(), ALL)).items:
        ids[f"{flag.trust_ods}:{flag.discharge_date.isoformat()}:{flag.rule_id}"] = flag.id
    return ids


def _keys(items: tuple[FlagView, ...]) -> list[str]:
    return [f"{f.trust_ods}:{f.discharge_date.isoformat()}:{f.rule_id}" for f in items]


async def test_list_is_newest_discharge_first(db: Db) -> None:
    await _seed(db)
    page = await db.risklog.list_flags(FlagQuery(), ALL)
    assert page.total == 6
    dates = [f.discharge_date for f in page.items]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (FlagQuery(since=date(2026, 11, 12)), 3),
        (FlagQuery(until=date(2026, 11, 10)), 3),
        (FlagQuery(since=date(2026, 11, 10), until=date(2026, 11, 12)), 4),
        (FlagQuery(rule="GI_P3A"), 2),
        (FlagQuery(severity="high"), 3),
        (FlagQuery(trust="RX1"), 2),
        (FlagQuery(pharmacy="FA5T2"), 3),
        (FlagQuery(pharmacy="FQ123"), 2),
        (FlagQuery(status=ReviewStatus.NEW), 6),
        (FlagQuery(status=ReviewStatus.UNDER_REVIEW), 0),
        (FlagQuery(rule="TCAM_DUP_ANTICOAG", trust="RR8", since=date(2026, 11, 3)), 1),
    ],
)
async def test_each_filter(db: Db, query: FlagQuery, expected: int) -> None:
    await _seed(db)
    page = await db.risklog.list_flags(query, ALL)
    assert page.total == expected == len(page.items)
    for f in page.items:
        assert query.since is None or f.discharge_date >= query.since
        assert query.until is None or f.discharge_date <= query.until
        assert query.rule is None or f.rule_id == query.rule
        assert query.severity is None or f.severity == query.severity
        assert query.trust is None or f.trust_ods == query.trust
        assert query.pharmacy is None or f.pharmacy_ods == query.pharmacy
    exported = [f async for f in db.risklog.export_rows(query, ALL)]
    assert [f.id for f in exported] == [f.id for f in page.items]


async def test_status_filter_follows_reviews(db: Db) -> None:
    ids = await _seed(db)
    target = ids["RR8:2026-11-18:TCAM_DUP_ANTICOAG"]
    await db.risklog.review(target, ReviewStatus.UNDER_REVIEW, "lead", "", NOW, ALL)
    page = await db.risklog.list_flags(FlagQuery(status=ReviewStatus.UNDER_REVIEW), ALL)
    assert [f.id for f in page.items] == [target]
    assert (await db.risklog.list_flags(FlagQuery(status=ReviewStatus.NEW), ALL)).total == 5


async def test_paging(db: Db) -> None:
    for day in range(1, 24):
        await db.risklog.record(
            make_event(discharge=date(2026, 10, day), findings=[finding()]), NOW
        )
    seen: list[int] = []
    for number in (1, 2, 3):
        page = await db.risklog.list_flags(FlagQuery(), ALL, page=number, page_size=10)
        assert (page.total, page.page, page.page_size) == (23, number, 10)
        assert len(page.items) == (10 if number < 3 else 3)
        seen += [f.id for f in page.items]
    assert len(set(seen)) == 23
    everything = (await db.risklog.list_flags(FlagQuery(), ALL, page_size=50)).items
    assert seen == [f.id for f in everything]
    beyond = await db.risklog.list_flags(FlagQuery(), ALL, page=4, page_size=10)
    assert beyond.items == () and beyond.total == 23
    with pytest.raises(ValueError, match="page"):
        await db.risklog.list_flags(FlagQuery(), ALL, page=0)
    with pytest.raises(ValueError, match="page_size"):
        await db.risklog.list_flags(FlagQuery(), ALL, page_size=0)


async def test_export_returns_every_matching_row_beyond_one_page(db: Db) -> None:
    for day in range(1, 29):
        await db.risklog.record(
            make_event(discharge=date(2026, 10, day), findings=[finding(), finding("GI_P3A")]),
            NOW,
        )
    rows = [f async for f in db.risklog.export_rows(FlagQuery(rule="GI_P3A"), ALL)]
    assert len(rows) == 28 and {f.rule_id for f in rows} == {"GI_P3A"}
    assert [f.discharge_date for f in rows] == sorted(
        (f.discharge_date for f in rows), reverse=True
    )


async def test_a_lead_of_trust_a_never_gets_trust_b_rows(db: Db) -> None:
    ids = await _seed(db)
    other = ids["RX1:2026-11-12:TCAM_DUP_ANTICOAG"]
    mine = ids["RR8:2026-11-18:TCAM_DUP_ANTICOAG"]

    page = await db.risklog.list_flags(FlagQuery(), TRUST_A)
    assert page.total == 4 and {f.trust_ods for f in page.items} == {"RR8"}
    # Asking for the other trust by filter gives nothing, not its rows.
    assert (await db.risklog.list_flags(FlagQuery(trust="RX1"), TRUST_A)).total == 0
    exported = [f async for f in db.risklog.export_rows(FlagQuery(source=None), TRUST_A)]
    assert len(exported) == 4 and {f.trust_ods for f in exported} == {"RR8"}

    with pytest.raises(FlagNotFound):
        await db.risklog.get_flag(other, TRUST_A)
    with pytest.raises(FlagNotFound):  # the same answer as for a flag that does not exist
        await db.risklog.get_flag(999_999, TRUST_A)
    with pytest.raises(FlagNotFound):
        await db.risklog.review(other, ReviewStatus.UNDER_REVIEW, "lead-a", "", NOW, TRUST_A)
    assert (await db.risklog.get_flag(other, ALL)).flag.status is ReviewStatus.NEW
    assert (await db.risklog.get_flag(other, ALL)).reviews == ()

    assert (await db.risklog.get_flag(mine, TRUST_A)).flag.trust_ods == "RR8"
    summary = await db.risklog.summary(FlagQuery(), TRUST_A, weeks=4, today=date(2026, 11, 18))
    assert dict(summary.by_rule) == {"TCAM_DUP_ANTICOAG": 2, "GI_P3A": 1, "MO_P15": 1}
    assert sum(c for _, c in summary.by_severity) == 4


async def test_an_empty_scope_sees_nothing(db: Db) -> None:
    ids = await _seed(db)
    nobody = Scope(frozenset())
    assert (await db.risklog.list_flags(FlagQuery(), nobody)).total == 0
    assert [f async for f in db.risklog.export_rows(FlagQuery(), nobody)] == []
    with pytest.raises(FlagNotFound):
        await db.risklog.get_flag(next(iter(ids.values())), nobody)
    summary = await db.risklog.summary(FlagQuery(), nobody, today=date(2026, 11, 18))
    assert summary.by_rule == () and summary.weekly == {}


async def test_a_multi_trust_scope_sees_both(db: Db) -> None:
    await _seed(db)
    both = Scope(frozenset({"RR8", "RX1"}))
    assert (await db.risklog.list_flags(FlagQuery(), both)).total == 6


async def test_csv_cells_cannot_run_as_formulas(db: Db) -> None:
    await db.risklog.record(
        make_event(findings=[finding(detail='=HYPERLINK("http://x")', title="+1")]), NOW
    )
    (flag,) = (await db.risklog.list_flags(FlagQuery(), ALL)).items
    row = csv_row(flag)
    assert '\'=HYPERLINK("http://x")' in row and "'+1" in row
    assert datetime.fromisoformat(row[18]).tzinfo == UTC
