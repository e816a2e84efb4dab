"""The pharmacy inbox on both engines: receipt, scope, the DMS workflow, the audit trail and
the transactional outbox of FHIR Task updates."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.task import Task
from sqlalchemy.exc import DBAPIError

from tcam_bridge.core.task import ITK3_RESPONSE_CODES
from tcam_bridge.inbox.store import (
    Action,
    ActionInput,
    InvalidAction,
    MalformedReferral,
    ReferralNotFound,
    Scope,
    TaskStatus,
)
from tests.inbox.conftest import NOW, REFERRAL_01, REFERRAL_ID_01, Db, make_referral

FA5T2 = Scope(pharmacy_ods="FA5T2")
FHM73 = Scope(pharmacy_ods="FHM73")
ADMIN = Scope()
ACCEPT = ActionInput(Action.ACCEPT)
STAGE1 = ActionInput(
    Action.STAGE1, discrepancy_found=True, resolved_with="hospital", gp_contacted=True
)
STAGE2 = ActionInput(Action.STAGE2, note="New prescription checked against the discharge list")
STAGE3 = ActionInput(Action.STAGE3, consultation_mode="remote", onward_referral="anticoag clinic")
COMPLETE = ActionInput(Action.COMPLETE)


async def _outbox(db: Db) -> list[dict[str, Any]]:
    pending = await db.inbox.pending_status_updates(limit=1000)
    return [json.loads(payload) for _, _, payload in pending]


def _valid(task: dict[str, Any]) -> Task:
    return Task.model_validate(task)


def _reason(task: dict[str, Any]) -> str | None:
    coding = task.get("statusReason", {}).get("coding", [])
    assert all(c["system"] == ITK3_RESPONSE_CODES for c in coding)
    return coding[0]["code"] if coding else None


def _business(task: dict[str, Any]) -> str | None:
    return task["businessStatus"]["coding"][0]["code"] if "businessStatus" in task else None


def _outputs(task: dict[str, Any]) -> dict[str, Any]:
    return {
        o["type"]["coding"][0]["code"]: o.get("valueBoolean", o.get("valueString"))
        for o in task.get("output", [])
    }


async def test_recording_is_idempotent_by_referral_id(db: Db) -> None:
    assert await db.inbox.record(REFERRAL_01, NOW) is True
    assert await db.inbox.record(REFERRAL_01, NOW + timedelta(minutes=5)) is False
    assert len(await db.inbox.list(ADMIN)) == 1
    pending = await db.inbox.pending_status_updates()
    assert [(key) for _, key, _ in pending] == [REFERRAL_ID_01]
    task = json.loads(pending[0][2])
    _valid(task)
    assert task["status"] == "received" and task["identifier"][0]["value"] == REFERRAL_ID_01
    assert task["owner"]["identifier"]["value"] == "FA5T2"
    assert task["focus"]["identifier"]["value"] == REFERRAL_ID_01
    assert await db.rows("SELECT count(*) FROM inbox_events") == [(1,)]


async def test_the_detail_shows_what_the_pharmacist_needs(db: Db) -> None:
    await db.inbox.record(REFERRAL_01, NOW)
    detail = await db.inbox.get(REFERRAL_ID_01, FA5T2)
    s = detail.summary
    assert (s.trust_ods, s.pharmacy_ods, s.priority, s.status) == (
        "RR8",
        "FA5T2",
        "urgent",
        TaskStatus.RECEIVED,
    )
    assert s.patient_name == "Mrs Doreen Margaret Ackroyd" and s.nhs_number == "9994027611"
    assert s.stage1_due.isoformat() == "2026-11-21T15:00:00+00:00" and s.received_at == NOW
    assert s.high_findings == 2
    assert detail.patient_phone == "07700 900412"
    assert detail.patient_address == "14 Thornfield Mews, Leeds, Horsforth, LS18 5QP"
    assert detail.gp_practice == "Horsforth Village Surgery (B86642)"
    assert detail.referrer is not None and "Priya Lakhani" in detail.referrer
    assert detail.referrer_contact is not None and "0113 496 0870" in detail.referrer_contact
    assert len(detail.reasons) == 3 and detail.reasons[0].startswith("Medicines changed")
    assert [f.rule_id for f in detail.findings] == ["TCAM_DUP_ANTICOAG", "TCAM_STOPPED_HIGH_RISK"]
    assert all("Action:" in f.detail for f in detail.findings)
    changes = {m.display: m.change for m in detail.medicines}
    assert changes["Warfarin 3mg tablets"] == "stopped"
    assert changes["Dabigatran etexilate 110mg capsules"] == "new"
    dabigatran = next(m for m in detail.medicines if m.change == "new")
    assert dabigatran.code == "13532811000001109" and dabigatran.reason
    assert [e.action for e in detail.events] == ["received"]
    assert detail.allowed == (Action.ACCEPT, Action.REJECT)


async def test_findings_are_listed_high_severity_first(db: Db) -> None:
    bundle = make_referral()
    issues = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DetectedIssue"
    ]
    issues[0]["severity"] = "low"
    await db.inbox.record(bundle, NOW)
    detail = await db.inbox.get(REFERRAL_ID_01, ADMIN)
    assert [f.severity for f in detail.findings] == ["high", "low"]
    assert detail.summary.high_findings == 1


async def test_the_list_is_sorted_by_stage_1_deadline(db: Db) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for hours, rid in zip((50, 10, 30), ids, strict=True):
        await db.inbox.record(make_referral(rid, due=NOW + timedelta(hours=hours)), NOW)
    listed = await db.inbox.list(FA5T2)
    assert [r.referral_id for r in listed] == [ids[1], ids[2], ids[0]]
    assert [r.stage1_due for r in listed] == sorted(r.stage1_due for r in listed)


async def test_a_pharmacy_never_sees_another_pharmacys_referral(db: Db) -> None:
    other = str(uuid.uuid4())
    await db.inbox.record(make_referral(), NOW)
    await db.inbox.record(make_referral(other, pharmacy="FHM73", trust="RTH"), NOW)
    assert [r.referral_id for r in await db.inbox.list(FA5T2)] == [REFERRAL_ID_01]
    assert [r.referral_id for r in await db.inbox.list(FHM73)] == [other]
    with pytest.raises(ReferralNotFound):
        await db.inbox.get(other, FA5T2)
    with pytest.raises(ReferralNotFound):
        await db.inbox.act(other, ACCEPT, "pharmacist-a", NOW, FA5T2)
    with pytest.raises(ReferralNotFound):
        await db.inbox.get("no-such-referral", ADMIN)
    assert (await db.inbox.get(other, FHM73)).summary.status == TaskStatus.RECEIVED

    rr8 = Scope(trusts=frozenset({"RR8"}))
    assert [r.referral_id for r in await db.inbox.list(rr8)] == [REFERRAL_ID_01]
    with pytest.raises(ReferralNotFound):
        await db.inbox.get(other, rr8)
    both = Scope(trusts=frozenset({"RR8", "RTH"}))
    assert len(await db.inbox.list(both)) == 2 and len(await db.inbox.list(ADMIN)) == 2
    assert await db.inbox.list(Scope(pharmacy_ods="FA5T2", trusts=frozenset({"RTH"}))) == ()


async def test_the_whole_dms_workflow(db: Db) -> None:
    await db.inbox.record(REFERRAL_01, NOW)
    await db.inbox.mark_sent([i for i, _, _ in await db.inbox.pending_status_updates()])
    steps: list[tuple[ActionInput, TaskStatus, str | None, str | None, tuple[Action, ...]]] = [
        (ACCEPT, TaskStatus.ACCEPTED, None, "30016", (Action.STAGE1, Action.UNABLE_TO_CONTACT)),
        (
            STAGE1,
            TaskStatus.IN_PROGRESS,
            "stage-1-complete",
            None,
            (Action.STAGE2, Action.UNABLE_TO_CONTACT),
        ),
        (
            STAGE2,
            TaskStatus.IN_PROGRESS,
            "stage-2-complete",
            None,
            (Action.STAGE3, Action.UNABLE_TO_CONTACT),
        ),
        (
            STAGE3,
            TaskStatus.IN_PROGRESS,
            "stage-3-complete",
            None,
            (Action.COMPLETE, Action.UNABLE_TO_CONTACT),
        ),
        (COMPLETE, TaskStatus.COMPLETED, "stage-3-complete", "30006", ()),
    ]
    for n, (data, status, business, reason, allowed) in enumerate(steps, start=1):
        at = NOW + timedelta(hours=n)
        detail = await db.inbox.act(REFERRAL_ID_01, data, "pharmacist-a", at, FA5T2)
        assert detail.summary.status == status and detail.summary.business_status == business
        assert detail.allowed == allowed
        assert len(detail.events) == n + 1 and detail.events[-1].action == data.action.value
        assert detail.events[-1].actor == "pharmacist-a" and detail.events[-1].at == at
        [task] = await _outbox(db)  # exactly one Task update per action
        _valid(task)
        assert task["status"] == status.value and _business(task) == business
        assert _reason(task) == reason
        assert task["lastModified"] == at.isoformat()
        if data is STAGE1:
            assert _outputs(task) == {
                "discrepancy-found": True,
                "resolved-with": "hospital",
                "gp-contacted": True,
            }
            assert detail.events[-1].details == {
                "discrepancy_found": True,
                "resolved_with": "hospital",
                "gp_contacted": True,
            }
        if data is STAGE2:
            assert _outputs(task) == {"note": STAGE2.note}
        if data is STAGE3:
            assert _outputs(task) == {
                "consultation-mode": "remote",
                "onward-referral": "anticoag clinic",
            }
        await db.inbox.mark_sent([i for i, _, _ in await db.inbox.pending_status_updates()])
    summary = (await db.inbox.list(ADMIN))[0]
    assert (summary.outcome_code, summary.status) == ("30006", TaskStatus.COMPLETED)
    # Earlier events were not changed by later ones.
    events = (await db.inbox.get(REFERRAL_ID_01, ADMIN)).events
    assert [e.status for e in events] == [
        TaskStatus.RECEIVED,
        TaskStatus.ACCEPTED,
        TaskStatus.IN_PROGRESS,
        TaskStatus.IN_PROGRESS,
        TaskStatus.IN_PROGRESS,
        TaskStatus.COMPLETED,
    ]


async def test_reject_needs_a_reason_and_reports_30017(db: Db) -> None:
    await db.inbox.record(REFERRAL_01, NOW)
    with pytest.raises(InvalidAction, match="A reason is required to reject a referral"):
        await db.inbox.act(REFERRAL_ID_01, ActionInput(Action.REJECT, reason="  "), "a", NOW, ADMIN)
    detail = await db.inbox.act(
        REFERRAL_ID_01,
        ActionInput(Action.REJECT, reason="Patient not registered with us"),
        "a",
        NOW,
        ADMIN,
    )
    assert detail.summary.status == TaskStatus.REJECTED and detail.allowed == ()
    assert detail.summary.outcome_code == "30017"
    task = (await _outbox(db))[-1]
    _valid(task)
    assert task["status"] == "rejected" and _reason(task) == "30017"
    assert task["statusReason"]["text"] == "Patient not registered with us"
    assert len(await _outbox(db)) == 2  # received + rejected; the refused try wrote nothing


async def test_unable_to_contact_fails_the_referral_with_30012(db: Db) -> None:
    await db.inbox.record(REFERRAL_01, NOW)
    await db.inbox.act(REFERRAL_ID_01, ACCEPT, "a", NOW, ADMIN)
    await db.inbox.act(REFERRAL_ID_01, STAGE1, "a", NOW, ADMIN)
    detail = await db.inbox.act(
        REFERRAL_ID_01, ActionInput(Action.UNABLE_TO_CONTACT, note="3 calls"), "a", NOW, ADMIN
    )
    assert detail.summary.status == TaskStatus.FAILED and detail.summary.outcome_code == "30012"
    task = (await _outbox(db))[-1]
    _valid(task)
    assert task["status"] == "failed" and _reason(task) == "30012"


INVALID: list[tuple[list[ActionInput], ActionInput, str]] = [
    ([], STAGE1, "Stage 1 cannot be completed before the referral is accepted"),
    ([], STAGE3, "Stage 3 cannot be completed before the referral is accepted"),
    ([], COMPLETE, "cannot be completed before it is accepted"),
    ([], ActionInput(Action.UNABLE_TO_CONTACT), "only once the referral is accepted"),
    ([ACCEPT], ACCEPT, "Only a newly received referral can be accepted"),
    ([ACCEPT], ActionInput(Action.REJECT, reason="x"), "can be rejected"),
    ([ACCEPT], STAGE2, "Stage 2 cannot be completed before Stage 1"),
    ([ACCEPT], COMPLETE, "cannot be completed before Stage 3"),
    ([ACCEPT], ActionInput(Action.STAGE1), "whether a discrepancy was found"),
    ([ACCEPT], ActionInput(Action.STAGE1, discrepancy_found=True), "say who resolved it"),
    (
        [ACCEPT],
        ActionInput(Action.STAGE1, discrepancy_found=True, resolved_with="pharmacy"),
        "hospital, gp-practice or patient",
    ),
    ([ACCEPT, STAGE1], STAGE1, "Stage 1 is already complete"),
    ([ACCEPT, STAGE1], STAGE3, "Stage 3 cannot be completed before Stage 2"),
    ([ACCEPT, STAGE1, STAGE2], ActionInput(Action.STAGE3), "consultation mode"),
    ([ACCEPT, STAGE1, STAGE2, STAGE3, COMPLETE], ACCEPT, "already completed"),
    ([ActionInput(Action.REJECT, reason="x")], ACCEPT, "already rejected"),
]


@pytest.mark.parametrize(("before", "data", "message"), INVALID)
async def test_invalid_actions_are_refused_with_a_reason(
    db: Db, before: list[ActionInput], data: ActionInput, message: str
) -> None:
    await db.inbox.record(REFERRAL_01, NOW)
    for step in before:
        await db.inbox.act(REFERRAL_ID_01, step, "a", NOW, ADMIN)
    events = len((await db.inbox.get(REFERRAL_ID_01, ADMIN)).events)
    outbox = len(await _outbox(db))
    with pytest.raises(InvalidAction, match=message):
        await db.inbox.act(REFERRAL_ID_01, data, "a", NOW, ADMIN)
    assert len((await db.inbox.get(REFERRAL_ID_01, ADMIN)).events) == events
    assert len(await _outbox(db)) == outbox


async def test_events_are_append_only(db: Db) -> None:
    await db.inbox.record(REFERRAL_01, NOW)
    for sql in ("UPDATE inbox_events SET actor = 'x'", "DELETE FROM inbox_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.exec_driver_sql(sql)


async def test_pending_updates_and_mark_sent(db: Db) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for rid in ids:
        await db.inbox.record(make_referral(rid), NOW)
    pending = await db.inbox.pending_status_updates(limit=2)
    assert [key for _, key, _ in pending] == ids[:2]
    await db.inbox.mark_sent([pending[0][0]])
    await db.inbox.mark_sent([])
    rest = await db.inbox.pending_status_updates()
    assert [key for _, key, _ in rest] == ids[1:]
    await db.inbox.mark_sent([i for i, _, _ in rest])
    assert await db.inbox.pending_status_updates() == []


async def test_a_malformed_referral_is_refused(db: Db) -> None:
    with pytest.raises(MalformedReferral):
        await db.inbox.record({"resourceType": "Bundle", "entry": []}, NOW)
    with pytest.raises(MalformedReferral):
        await db.inbox.record({"resourceType": "Patient"}, NOW)
    assert await db.inbox.list(ADMIN) == ()
