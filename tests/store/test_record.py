"""Recording findings events: one flag per finding, idempotent under redelivery."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, date, datetime

import pytest

from tcam_bridge.risklog.store import (
    FlagQuery,
    ImplicatedMedicine,
    MalformedEvent,
    ReviewStatus,
    Scope,
)
from tests.store.conftest import EXAMPLE_01, EXAMPLE_05, NOW, Db, finding, make_event

ALL = Scope(None)


async def test_record_inserts_one_row_per_finding(db: Db) -> None:
    assert await db.risklog.record(EXAMPLE_01, NOW) == 2
    page = await db.risklog.list_flags(FlagQuery(), ALL)
    assert page.total == 2
    by_rule = {f.rule_id: f for f in page.items}
    assert set(by_rule) == {"TCAM_DUP_ANTICOAG", "TCAM_STOPPED_HIGH_RISK"}
    flag = by_rule["TCAM_DUP_ANTICOAG"]
    source = EXAMPLE_01["findings"][0]
    assert flag.message_id == EXAMPLE_01["message_id"]
    assert flag.event_id == EXAMPLE_01["event_id"]
    assert (flag.trust_ods, flag.pharmacy_ods) == ("RR8", "FA5T2")
    assert flag.nhs_number == "9994027611"
    assert (flag.rule_version, flag.severity) == ("1.0.0", "high")
    assert (flag.title, flag.detail, flag.action) == (
        source["title"],
        source["detail"],
        source["action"],
    )
    assert flag.unverified is False
    assert flag.evidence == tuple(source["evidence"])
    assert flag.implicated == (
        ImplicatedMedicine(
            "urn:uuid:4164dcd3-8f64-43b2-b564-a4f7d1ecdc98",
            "Dabigatran etexilate 110mg capsules",
            "13532811000001109",
            "new",
        ),
        ImplicatedMedicine(
            "urn:uuid:36e9715e-24e6-46dd-a3e7-5ae1355ab402",
            "Warfarin 3mg tablets",
            "319734006",
            "stopped",
        ),
    )
    assert flag.discharge_date == date(2026, 11, 18)
    assert flag.received_at == NOW and flag.received_at.tzinfo is not None
    assert flag.referral_id == EXAMPLE_01["referral_id"]
    assert flag.referral_status == "routed"
    assert flag.status is ReviewStatus.NEW
    assert flag.source == "live"


async def test_an_event_without_findings_is_remembered_but_adds_no_flag(db: Db) -> None:
    assert await db.risklog.record(EXAMPLE_05, NOW) == 0
    assert await db.risklog.record(EXAMPLE_05, NOW) == 0
    assert (await db.risklog.list_flags(FlagQuery(), ALL)).total == 0
    assert await db.rows("SELECT event_id, findings FROM processed_events") == [
        (EXAMPLE_05["event_id"], 0)
    ]


async def test_a_redelivered_event_inserts_nothing(db: Db) -> None:
    assert await db.risklog.record(EXAMPLE_01, NOW) == 2
    again = copy.deepcopy(EXAMPLE_01)
    again["evaluated_at"] = "2026-11-18T16:00:00+00:00"  # a re-sent message: new evaluated_at
    assert await db.risklog.record(again, datetime(2026, 11, 18, 16, 1, tzinfo=UTC)) == 0
    assert await db.risklog.record(EXAMPLE_01, NOW) == 0
    assert (await db.risklog.list_flags(FlagQuery(), ALL)).total == 2
    assert await db.rows("SELECT count(*) FROM processed_events") == [(1,)]


async def test_concurrent_redeliveries_insert_once(db: Db) -> None:
    results = await asyncio.gather(*(db.risklog.record(EXAMPLE_01, NOW) for _ in range(6)))
    assert sorted(results) == [0, 0, 0, 0, 0, 2]
    assert (await db.risklog.list_flags(FlagQuery(), ALL)).total == 2
    assert await db.rows("SELECT count(*) FROM processed_events") == [(1,)]


async def test_two_findings_with_one_rule_id_are_both_stored(db: Db) -> None:
    # MO_P15 can report two findings on one discharge, with the same rule id and version.
    event = make_event(
        findings=[
            finding("MO_P15", "moderate", detail="Lithium without a recent level."),
            finding("MO_P15", "moderate", detail="Lithium without a recent thyroid test."),
            finding("GI_P3A", "moderate"),
        ]
    )
    assert await db.risklog.record(event, NOW) == 3
    assert await db.risklog.record(event, NOW) == 0
    rows = await db.rows("SELECT rule_id, seq, detail FROM flags ORDER BY rule_id, seq")
    assert rows == [
        ("GI_P3A", 0, EXAMPLE_01["findings"][0]["detail"]),
        ("MO_P15", 0, "Lithium without a recent level."),
        ("MO_P15", 1, "Lithium without a recent thyroid test."),
    ]


async def test_the_same_message_id_from_two_trusts_is_two_discharges(db: Db) -> None:
    # A message id is unique only per sending trust (contracts/findings-event.md).
    assert await db.risklog.record(make_event(trust="RR8", message_id="m-1"), NOW) == 2
    assert await db.risklog.record(make_event(trust="RX1", message_id="m-1"), NOW) == 2
    assert (await db.risklog.list_flags(FlagQuery(), ALL)).total == 4


async def test_a_replay_is_kept_apart_from_the_live_log(db: Db) -> None:
    assert await db.risklog.record(EXAMPLE_01, NOW) == 2
    assert await db.risklog.record(EXAMPLE_01, NOW, source="replay:rules-1.1") == 2
    assert await db.risklog.record(EXAMPLE_01, NOW, source="replay:rules-1.1") == 0
    assert (await db.risklog.list_flags(FlagQuery(), ALL)).total == 2
    replay = await db.risklog.list_flags(FlagQuery(source="replay:rules-1.1"), ALL)
    assert replay.total == 2 and {f.source for f in replay.items} == {"replay:rules-1.1"}
    assert (await db.risklog.list_flags(FlagQuery(source=None), ALL)).total == 4
    with pytest.raises(ValueError, match="replay:<label>"):
        await db.risklog.record(EXAMPLE_01, NOW, source="other")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("event_id"), "event_id"),
        (lambda e: e.pop("nhs_number"), "nhs_number"),
        (lambda e: e.update(nhs_number="12345"), "nhs_number"),
        (lambda e: e.update(discharge_date="18/11/2026"), "discharge_date"),
        (lambda e: e.update(findings={"a": 1}), "findings"),
        (lambda e: e["findings"][1].pop("rule_id"), "findings[1].rule_id"),
        (lambda e: e["findings"][0].update(unverified="no"), "findings[0].unverified"),
        (lambda e: e["findings"][0]["implicated"][0].pop("display"), "implicated[0].display"),
        (lambda e: e.update(schema="tcam.safety.findings.v2"), "schema"),
    ],
)
async def test_a_malformed_event_is_refused_naming_the_field_not_the_value(
    db: Db, change: object, field: str
) -> None:
    event = copy.deepcopy(EXAMPLE_01)
    assert callable(change)
    change(event)
    with pytest.raises(MalformedEvent) as raised:
        await db.risklog.record(event, NOW)
    assert field in str(raised.value)
    assert "9994027611" not in str(raised.value) and "18/11/2026" not in str(raised.value)
    assert await db.rows("SELECT count(*) FROM processed_events") == [(0,)]


async def test_a_naive_received_time_is_refused(db: Db) -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        await db.risklog.record(EXAMPLE_01, datetime(2026, 11, 18, 15, 0))
    assert (await db.risklog.list_flags(FlagQuery(), ALL)).total == 0
