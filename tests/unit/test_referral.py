"""Referral policy: whether to refer, consent, where to, and how urgently."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from tcam_bridge.codelists import load_drug_classes
from tcam_bridge.core.change import reconcile
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.high_risk import HighRisk, high_risk_group
from tcam_bridge.core.issue import Severity
from tcam_bridge.core.process import CoreConfig, Outcome
from tcam_bridge.core.referral import (
    Criteria,
    Priority,
    ReferralDecision,
    ReferralStatus,
    RoutingPolicy,
    decide,
)
from tests.unit.factories import (
    APIXABAN_5MG,
    DABIGATRAN_110MG,
    OMEPRAZOLE_20MG,
    RAMIPRIL_5MG,
    WARFARIN_3MG,
    concept,
    discharge_bundle,
    discharge_of,
    request,
    statement,
)

Run = Callable[..., Outcome]

DEFAULT_CRITERIA = Criteria()
NOMINATION_PATH = "Bundle.entry[2].resource.extension[0].valueReference.identifier.value"


def policy(
    criteria: Criteria = DEFAULT_CRITERIA, directory: frozenset[str] | None = None
) -> RoutingPolicy:
    return RoutingPolicy(
        criteria=criteria,
        pharmacy_topic=lambda ods: f"pharmacy.{ods}",
        unrouted_topic="unrouted",
        directory=directory,
    )


def decision_for(
    *,
    criteria: Criteria = DEFAULT_CRITERIA,
    directory: frozenset[str] | None = None,
    findings: tuple[Finding, ...] = (),
    **bundle: Any,
) -> ReferralDecision:
    d = discharge_of(**bundle)
    changes = reconcile(d)
    classes = load_drug_classes()
    high_risk = tuple(
        HighRisk(group, c.medicine)
        for c in changes
        if c.active_at_discharge and (group := high_risk_group(c.medicine, classes))
    )
    return decide(d, changes, findings, high_risk, policy(criteria, directory))


def codes(reasons: tuple[Any, ...]) -> list[str]:
    return [r.code for r in reasons]


def continued(*meds: tuple[str, str]) -> dict[str, Any]:
    """Bundle kwargs: each medicine on both lists, unchanged."""
    return {"requests": [request(m) for m in meds], "statements": [statement(m) for m in meds]}


FIVE_PLAIN = [
    OMEPRAZOLE_20MG,
    RAMIPRIL_5MG,
    ("317972000", "Furosemide 40mg tablets"),
    {"text": "Atorvastatin 20mg tablets"},  # text-only: not in the packaged code lists
    {"text": "Amlodipine 5mg tablets"},
]


def new_omeprazole(**kwargs: Any) -> dict[str, Any]:
    return {"requests": [request(OMEPRAZOLE_20MG)], **kwargs}


# --------------------------------------------------------------------------------------------
# routed


def test_change_with_consent_and_nomination_is_routed_to_the_nominated_pharmacy(run: Run) -> None:
    outcome = run(discharge_bundle(**new_omeprazole()))
    decision = outcome.decision
    assert decision is not None
    assert decision.status is ReferralStatus.ROUTED
    assert decision.pharmacy_ods == "FA5T2"
    assert decision.topic == "tcam.pharmacy.FA5T2.referrals.v1"
    assert decision.pharmacy_path == NOMINATION_PATH
    assert codes(decision.reasons) == ["medicines-changed"]
    assert decision.reasons[0].text == "Medicines changed in hospital: 1 new."
    assert decision.held_because == ()
    assert decision.priority is Priority.ROUTINE
    assert [r.topic for r in outcome.records if r.kind == "referral"] == [decision.topic]


def test_service_request_performer_overrides_the_nomination(run: Run) -> None:
    outcome = run(discharge_bundle(pharmacy="FX3C7", service_request_ods="FJ4W1"))
    d = outcome.decision
    assert d is not None
    assert (d.status, d.pharmacy_ods) == (ReferralStatus.ROUTED, "FJ4W1")
    assert d.topic == "tcam.pharmacy.FJ4W1.referrals.v1"
    assert d.pharmacy_path is not None and d.pharmacy_path.endswith(".performer[0]")
    assert "hospital-requested" in codes(d.reasons)


def test_service_request_alone_is_a_reason_to_refer() -> None:
    d = decision_for(**continued(OMEPRAZOLE_20MG), service_request_ods="FJ4W1")
    assert d.status is ReferralStatus.ROUTED
    assert codes(d.reasons) == ["hospital-requested"]


def test_service_request_without_performer_falls_back_to_the_nomination() -> None:
    d = decision_for(**continued(OMEPRAZOLE_20MG), service_request_ods=None)
    assert (d.status, d.pharmacy_ods, d.pharmacy_path) == (
        ReferralStatus.ROUTED,
        "FA5T2",
        NOMINATION_PATH,
    )


def test_malformed_service_request_performer_is_not_replaced_by_the_nomination() -> None:
    d = decision_for(**new_omeprazole(), pharmacy="FA5T2", service_request_ods="RR8")
    assert d.status is ReferralStatus.UNROUTED
    assert codes(d.held_because) == ["invalid-pharmacy-code"]


# --------------------------------------------------------------------------------------------
# consent


def test_consent_declined_is_not_referred_but_findings_are_still_published(run: Run) -> None:
    outcome = run(
        discharge_bundle(
            requests=[request(DABIGATRAN_110MG)],
            statements=[statement(WARFARIN_3MG)],
            consent_status="rejected",
        )
    )
    d = outcome.decision
    assert d is not None
    assert d.status is ReferralStatus.NOT_REFERRED
    assert codes(d.held_because) == ["consent-declined"]
    assert "safety-finding" in codes(d.reasons)  # there was a reason; consent stopped it
    assert outcome.referral_id is None
    assert [r.kind for r in outcome.records] == ["findings", "ack"]
    record = json.loads(next(r for r in outcome.records if r.kind == "findings").value)
    assert "TCAM_DUP_ANTICOAG" in [f["rule_id"] for f in record["findings"]]
    assert record["referral_status"] == "not-referred"
    assert record["referral_id"] is None


def test_consent_not_recorded_is_unrouted_with_a_warning(run: Run) -> None:
    outcome = run(discharge_bundle(**new_omeprazole(), consent_status=None))
    d = outcome.decision
    assert d is not None
    assert d.status is ReferralStatus.UNROUTED
    assert codes(d.held_because) == ["consent-not-recorded"]
    assert d.topic == "tcam.referrals.unrouted.v1"
    assert d.pharmacy_ods == "FA5T2"  # the pharmacy itself is fine: kept for the hospital team
    assert outcome.response == "ok"
    warnings = [i for i in outcome.issues if i.severity is Severity.WARNING]
    assert [(i.reason, i.expression) for i in warnings] == [
        ("consent-not-recorded", "Bundle.entry.resource.ofType(Consent)")
    ]
    assert [r.topic for r in outcome.records if r.kind == "referral"] == [
        "tcam.referrals.unrouted.v1"
    ]


def test_consent_proposed_counts_as_not_recorded() -> None:
    d = decision_for(**new_omeprazole(), consent_status="proposed")
    assert codes(d.held_because) == ["consent-not-recorded"]


# --------------------------------------------------------------------------------------------
# pharmacy problems: unrouted, never rejected


@pytest.mark.parametrize(
    ("bundle_kwargs", "reason", "expression"),
    [
        ({"pharmacy": None}, "no-pharmacy", "Bundle.entry.resource.ofType(Patient).extension"),
        ({"pharmacy": "fa5t2"}, "invalid-pharmacy-code", NOMINATION_PATH),
        ({"pharmacy": "F123"}, "invalid-pharmacy-code", NOMINATION_PATH),
        (
            {"pharmacy": "FA5T2", "pharmacy_system": "https://example.org/other"},
            "invalid-pharmacy-code",
            NOMINATION_PATH,
        ),
        ({"pharmacy": "FFFFF"}, "locum-pharmacy-code", NOMINATION_PATH),
    ],
    ids=["missing", "lower-case", "short", "not-ods-system", "locum"],
)
def test_pharmacy_problem_is_unrouted_with_a_warning_in_the_ok_ack(
    run: Run, bundle_kwargs: dict[str, Any], reason: str, expression: str
) -> None:
    outcome = run(discharge_bundle(**new_omeprazole(**bundle_kwargs)))
    d = outcome.decision
    assert d is not None
    assert outcome.response == "ok"
    assert d.status is ReferralStatus.UNROUTED
    assert codes(d.held_because) == [reason]
    assert d.pharmacy_ods is None
    assert d.topic == "tcam.referrals.unrouted.v1"
    warnings = [(i.reason, i.expression) for i in outcome.issues if i.severity is Severity.WARNING]
    assert warnings == [(reason, expression)]
    ack = json.loads(next(r for r in outcome.records if r.kind == "ack").value)
    header = ack["entry"][0]["resource"]
    assert header["response"]["code"] == "ok"
    oo = ack["entry"][1]["resource"]
    assert any(
        i["severity"] == "warning" and i["details"]["coding"][0]["code"] == reason
        for i in oo["issue"]
    )


def test_pharmacy_not_in_the_directory_is_unrouted() -> None:
    d = decision_for(**new_omeprazole(), directory=frozenset({"FQ184"}))
    assert d.status is ReferralStatus.UNROUTED
    assert codes(d.held_because) == ["pharmacy-not-in-directory"]
    assert d.pharmacy_ods is None


def test_pharmacy_in_the_directory_is_routed() -> None:
    d = decision_for(**new_omeprazole(), directory=frozenset({"FA5T2", "FQ184"}))
    assert (d.status, d.topic) == (ReferralStatus.ROUTED, "pharmacy.FA5T2")


def test_directory_is_ignored_for_codes_that_are_already_unusable() -> None:
    d = decision_for(**new_omeprazole(pharmacy="FFFFF"), directory=frozenset({"FFFFF"}))
    assert codes(d.held_because) == ["locum-pharmacy-code"]


def test_consent_not_recorded_and_no_pharmacy_are_both_reported(run: Run) -> None:
    outcome = run(discharge_bundle(**new_omeprazole(pharmacy=None, consent_status=None)))
    assert outcome.decision is not None
    assert codes(outcome.decision.held_because) == ["consent-not-recorded", "no-pharmacy"]
    warnings = [i.reason for i in outcome.issues if i.severity is Severity.WARNING]
    assert warnings == ["consent-not-recorded", "no-pharmacy"]


# --------------------------------------------------------------------------------------------
# criteria


def test_nothing_changed_few_medicines_no_risk_no_finding_is_not_referred(run: Run) -> None:
    # Under 75, so the renal-monitoring rule (MO_P13) has nothing to say about ramipril.
    outcome = run(discharge_bundle(birth_date="1970-05-01", **continued(*FIVE_PLAIN[:4])))
    d = outcome.decision
    assert d is not None
    assert d.status is ReferralStatus.NOT_REFERRED
    assert d.reasons == ()
    assert codes(d.held_because) == ["criteria-not-met"]
    assert outcome.referral_id is None
    assert [r.kind for r in outcome.records] == ["findings", "ack"]


def test_five_medicines_is_many_medicines() -> None:
    d = decision_for(**continued(*FIVE_PLAIN))
    assert d.status is ReferralStatus.ROUTED
    assert codes(d.reasons) == ["many-medicines"]
    assert d.reasons[0].text == "5 medicines at discharge."


def test_stopped_and_suspended_medicines_do_not_count_towards_many_medicines() -> None:
    kwargs = continued(*FIVE_PLAIN[:4])
    kwargs["requests"].append(request(FIVE_PLAIN[4], status="on-hold"))
    d = decision_for(**kwargs, criteria=Criteria(on_any_change=False))
    assert d.status is ReferralStatus.NOT_REFERRED


@pytest.mark.parametrize(
    ("criteria", "bundle_kwargs"),
    [
        (Criteria(on_any_change=False), new_omeprazole()),
        (Criteria(on_high_risk=False), continued(WARFARIN_3MG)),
        (Criteria(min_medicines=None), continued(*FIVE_PLAIN)),
        (Criteria(min_medicines=6), continued(*FIVE_PLAIN)),
    ],
    ids=["any-change-off", "high-risk-off", "many-medicines-off", "many-medicines-raised"],
)
def test_each_criterion_can_be_switched_off(
    criteria: Criteria, bundle_kwargs: dict[str, Any]
) -> None:
    assert decision_for(**bundle_kwargs).status is ReferralStatus.ROUTED
    assert decision_for(**bundle_kwargs, criteria=criteria).status is ReferralStatus.NOT_REFERRED


def test_finding_criterion_can_be_switched_off(run: Run, config: CoreConfig) -> None:
    bundle = discharge_bundle(**continued(WARFARIN_3MG, APIXABAN_5MG))
    only_findings = Criteria(on_any_change=False, on_high_risk=False, on_finding=True)
    none = Criteria(on_any_change=False, on_high_risk=False, on_finding=False)
    on = run(bundle, config=dataclasses.replace(config, policy=policy(only_findings)))
    off = run(bundle, config=dataclasses.replace(config, policy=policy(none)))
    assert on.decision is not None and off.decision is not None
    assert codes(on.decision.reasons) == ["safety-finding"]
    assert on.decision.reasons[0].text == "Safety findings: Duplicate oral anticoagulants."
    assert off.decision.status is ReferralStatus.NOT_REFERRED
    assert off.evaluation is not None and len(off.evaluation.findings) == 1


def test_high_risk_medicine_is_a_reason_and_makes_it_urgent(run: Run) -> None:
    outcome = run(discharge_bundle(**continued(WARFARIN_3MG)))
    d = outcome.decision
    assert d is not None
    assert codes(d.reasons) == ["high-risk-medicine"]
    assert d.reasons[0].text == "High-risk medicines: anticoagulant."
    assert d.priority is Priority.URGENT


def test_text_only_high_risk_medicine_is_urgent(run: Run) -> None:
    med = concept(None, text="Lithium carbonate 400mg modified-release tablets")
    outcome = run(discharge_bundle(requests=[request(med)], statements=[statement(med)]))
    assert outcome.decision is not None
    assert outcome.decision.priority is Priority.URGENT


def test_a_suspended_high_risk_medicine_is_not_taken_but_its_hold_is_flagged(run: Run) -> None:
    outcome = run(
        discharge_bundle(
            requests=[request(OMEPRAZOLE_20MG), request(WARFARIN_3MG, status="on-hold")],
            statements=[statement(WARFARIN_3MG)],
        )
    )
    assert outcome.decision is not None
    assert "high-risk-medicine" not in codes(outcome.decision.reasons)
    assert outcome.evaluation is not None
    assert [f.rule_id for f in outcome.evaluation.findings] == ["TCAM_STOPPED_HIGH_RISK"]
    assert outcome.decision.priority is Priority.URGENT  # from the high-severity finding


def _finding(severity: FindingSeverity) -> Finding:
    return Finding("X", "1", severity, "Some finding", "d", "a", ())


@pytest.mark.parametrize(
    ("severity", "priority"),
    [
        (FindingSeverity.HIGH, Priority.URGENT),
        (FindingSeverity.MODERATE, Priority.ROUTINE),
        (FindingSeverity.LOW, Priority.ROUTINE),
    ],
)
def test_priority_follows_finding_severity(severity: FindingSeverity, priority: Priority) -> None:
    d = decision_for(**continued(OMEPRAZOLE_20MG), findings=(_finding(severity),))
    assert codes(d.reasons) == ["safety-finding"]
    assert d.priority is priority


def test_plain_change_is_routine() -> None:
    assert decision_for(**new_omeprazole()).priority is Priority.ROUTINE


def test_changes_summary_counts_each_kind() -> None:
    d = decision_for(
        requests=[request(DABIGATRAN_110MG), request(RAMIPRIL_5MG, dose=2)],
        statements=[statement(RAMIPRIL_5MG, dose=1), statement(OMEPRAZOLE_20MG, status="stopped")],
    )
    assert d.reasons[0].text == "Medicines changed in hospital: 1 new, 1 changed, 1 stopped."
