"""Spec tests for TCAM_STOPPED_HIGH_RISK (high-risk medicine stopped or switched in hospital)."""

from __future__ import annotations

from datetime import date

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.tcam_stopped_high_risk import META, StoppedHighRiskMedicine
from tests.unit.rules.builders import context, dose, drug

RULE = StoppedHighRiskMedicine()

WARFARIN_3MG = ("Warfarin 3mg tablets", "319734006")
WARFARIN_5MG = ("Warfarin 5mg tablets", "319735007")
DABIGATRAN_110MG = ("Dabigatran etexilate 110mg capsules", "13532811000001109")
APIXABAN_5MG = ("Apixaban 5mg tablets", "703908001")
METHOTREXATE_2_5MG = ("Methotrexate 2.5mg tablets", "326874007")
AMIODARONE_200MG = ("Amiodarone 200mg tablets", "318187007")
OMEPRAZOLE_20MG = ("Omeprazole 20mg gastro-resistant capsules", "317291008")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def test_incident_warfarin_stopped_dabigatran_started() -> None:
    ctx = context(
        on_discharge=[drug(*DABIGATRAN_110MG, change="added", dosage=[dose("110mg twice a day")])],
        before=[
            drug(
                *WARFARIN_3MG,
                status="stopped",
                reason="Switched to dabigatran",
                started=date(2024, 3, 1),
            )
        ],
    )
    f = one(ctx)
    assert (f.rule_id, f.rule_version) == ("TCAM_STOPPED_HIGH_RISK", "1.0.0")
    assert f.severity is FindingSeverity.HIGH
    assert f.unverified is False
    assert [(i.name, i.code, i.change) for i in f.implicated] == [
        ("Warfarin 3mg tablets", "319734006", "stopped"),
        ("Dabigatran etexilate 110mg capsules", "13532811000001109", "new"),
    ]
    assert f.detail.startswith(
        "Warfarin 3mg tablets (an anticoagulant) was stopped in hospital "
        "(reason given: Switched to dabigatran)."
    )
    assert "replaced by Dabigatran etexilate 110mg capsules" in f.detail
    assert "supplies at home" in f.action
    assert "return" in f.action and "set them aside" in f.action
    assert "GP practice to cancel the repeat prescription" in f.action
    assert "not marked stopped" not in f.detail


def test_warfarin_left_off_the_list_is_an_inferred_stop_to_confirm() -> None:
    ctx = context(
        on_discharge=[drug(*DABIGATRAN_110MG, change="added")],
        before=[drug(*WARFARIN_3MG)],
    )
    f = one(ctx)
    assert f.severity is FindingSeverity.HIGH
    assert "has not marked it stopped" in f.detail
    assert f.action.startswith("Confirm with the hospital that Warfarin 3mg tablets")
    assert "cancel the repeat prescription" in f.action
    assert "Warfarin 3mg tablets (before admission): stopped (inferred)" in f.evidence


def test_explicit_stop_without_a_replacement() -> None:
    ctx = context(before=[drug(*APIXABAN_5MG, status="stopped", reason="GI bleed")])
    f = one(ctx)
    assert f.severity is FindingSeverity.HIGH
    assert "replaced" not in f.detail
    assert [i.change for i in f.implicated] == ["stopped"]


def test_continued_anticoagulant_gives_no_finding() -> None:
    ctx = context(
        on_discharge=[drug(*WARFARIN_3MG)],
        before=[drug(*WARFARIN_3MG)],
    )
    assert run(ctx) == ()


def test_stopped_medicine_that_is_not_high_risk_gives_no_finding() -> None:
    ctx = context(before=[drug(*OMEPRAZOLE_20MG, status="stopped")])
    assert run(ctx) == ()


def test_suspended_methotrexate_is_moderate_and_asks_to_hold_the_repeat() -> None:
    ctx = context(before=[drug(*METHOTREXATE_2_5MG, status="on-hold", reason="Pneumonia.")])
    f = one(ctx)
    assert f.severity is FindingSeverity.MODERATE
    assert f.detail.startswith(
        "Methotrexate 2.5mg tablets was put on hold in hospital (reason given: Pneumonia)."
    )
    assert "cancel or suspend the repeat prescription" in f.action
    assert [i.change for i in f.implicated] == ["suspended"]


def test_stopped_discharge_request_counts() -> None:
    ctx = context(on_discharge=[drug(*AMIODARONE_200MG, status="stopped")])
    f = one(ctx)
    assert f.severity is FindingSeverity.MODERATE
    assert f.implicated[0].code == "318187007"


def test_text_only_opioid_is_unverified() -> None:
    ctx = context(before=[drug("Morphine sulfate 10mg modified-release tablets", status="stopped")])
    f = one(ctx)
    assert f.severity is FindingSeverity.MODERATE
    assert f.unverified is True


def test_one_finding_per_stopped_medicine() -> None:
    ctx = context(
        before=[
            drug(*WARFARIN_3MG, status="stopped"),
            drug("Lithium carbonate 400mg modified-release tablets", status="stopped"),
        ]
    )
    result = run(ctx)
    assert [f.implicated[0].name for f in result] == [
        "Warfarin 3mg tablets",
        "Lithium carbonate 400mg modified-release tablets",
    ]
    assert [f.severity for f in result] == [FindingSeverity.HIGH, FindingSeverity.MODERATE]


def test_old_strength_stopped_while_same_ingredient_continues_is_not_a_stop() -> None:
    ctx = context(on_discharge=[drug(*WARFARIN_3MG, status="stopped"), drug(*WARFARIN_5MG)])
    assert run(ctx) == ()


def test_course_completed_before_admission_gives_no_finding() -> None:
    ctx = context(before=[drug(*APIXABAN_5MG, status="completed")])
    assert run(ctx) == ()


def test_meta() -> None:
    assert RULE.meta is META
    assert META.severity is FindingSeverity.HIGH
