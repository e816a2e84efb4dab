"""Referral: whether to refer this discharge to a community pharmacy, and where.

Decision order:

1. Is there a reason to refer? The hospital asked (a ServiceRequest), or a configured criterion
   is met: any medicine changed, a high-risk medicine, N or more medicines, a safety finding.
   No reason: not referred.
2. Consent: declined means no referral (findings are still published); not recorded means the
   referral goes to the unrouted queue for the hospital team to confirm.
3. Target: the ServiceRequest's performer, else the PDS nominated pharmacy. A missing,
   malformed, locum (FFFFF) or unknown (when a directory is configured) code makes the referral
   unrouted, with the reason; it never rejects the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tcam_bridge.core.change import Change, ChangeKind
from tcam_bridge.core.discharge import ConsentState, Discharge
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.high_risk import HighRisk
from tcam_bridge.core.identifiers import OdsProblem, pharmacy_ods_problem


class ReferralStatus(StrEnum):
    ROUTED = "routed"
    UNROUTED = "unrouted"
    NOT_REFERRED = "not-referred"


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # in the project's referral-reason (or unrouted-reason) CodeSystem
    text: str
    path: str | None = None  # FHIRPath of the element the reason is about, when there is one


@dataclass(frozen=True, slots=True)
class Criteria:
    on_any_change: bool = True
    on_high_risk: bool = True
    min_medicines: int | None = 5
    on_finding: bool = True


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    criteria: Criteria
    pharmacy_topic: Callable[[str], str]  # ODS code -> that pharmacy's referral topic
    unrouted_topic: str
    directory: frozenset[str] | None = None  # known, open pharmacy ODS codes, when configured


@dataclass(frozen=True, slots=True)
class ReferralDecision:
    status: ReferralStatus
    priority: Priority
    reasons: tuple[Reason, ...]  # why refer (empty when not referred for lack of a reason)
    pharmacy_ods: str | None = None
    topic: str | None = None
    held_because: tuple[Reason, ...] = ()  # why unrouted or not referred
    pharmacy_path: str | None = None  # where in the message the pharmacy code came from


def decide(
    discharge: Discharge,
    changes: tuple[Change, ...],
    findings: tuple[Finding, ...],
    high_risk: tuple[HighRisk, ...],
    policy: RoutingPolicy,
) -> ReferralDecision:
    reasons = _reasons(discharge, changes, findings, high_risk, policy.criteria)
    urgent = bool(high_risk) or any(f.severity is FindingSeverity.HIGH for f in findings)
    priority = Priority.URGENT if urgent else Priority.ROUTINE
    if not reasons:
        return ReferralDecision(
            ReferralStatus.NOT_REFERRED,
            priority,
            (),
            held_because=(Reason("criteria-not-met", "No referral criterion is met."),),
        )
    if discharge.consent is ConsentState.DECLINED:
        return ReferralDecision(
            ReferralStatus.NOT_REFERRED,
            priority,
            reasons,
            held_because=(Reason("consent-declined", "The patient declined a DMS referral."),),
        )

    ods: str | None = discharge.patient.nominated_pharmacy
    path = discharge.patient.nominated_pharmacy_path
    if discharge.requested_pharmacy is not None:
        ods, path = discharge.requested_pharmacy, discharge.requested_pharmacy_path
    held: list[Reason] = []
    if discharge.consent is ConsentState.NOT_RECORDED:
        held.append(
            Reason(
                "consent-not-recorded",
                "No consent to a DMS referral is recorded; the hospital team must confirm it.",
                "Bundle.entry.resource.ofType(Consent)",
            )
        )
    problem = pharmacy_ods_problem(ods)
    if problem is None and policy.directory is not None and ods not in policy.directory:
        problem = OdsProblem.NOT_IN_DIRECTORY
    if problem is not None:
        where = path or "Bundle.entry.resource.ofType(Patient).extension"
        held.append(Reason(problem.value, _PROBLEM_TEXT[problem], where))
    if held:
        return ReferralDecision(
            ReferralStatus.UNROUTED,
            priority,
            reasons,
            pharmacy_ods=ods if problem is None else None,
            topic=policy.unrouted_topic,
            held_because=tuple(held),
            pharmacy_path=path,
        )
    assert ods is not None
    return ReferralDecision(
        ReferralStatus.ROUTED,
        priority,
        reasons,
        pharmacy_ods=ods,
        topic=policy.pharmacy_topic(ods),
        pharmacy_path=path,
    )


_PROBLEM_TEXT = {
    OdsProblem.MISSING: "No community pharmacy is named (no ServiceRequest performer and no "
    "nominated pharmacy).",
    OdsProblem.MALFORMED: "The pharmacy code is not a community pharmacy ODS code (5 characters "
    "starting with F).",
    OdsProblem.LOCUM: "FFFFF is the national locum login code, not a pharmacy.",
    OdsProblem.NOT_IN_DIRECTORY: "The pharmacy code is not an open pharmacy in the configured "
    "pharmacy directory.",
}


def _reasons(
    discharge: Discharge,
    changes: tuple[Change, ...],
    findings: tuple[Finding, ...],
    high_risk: tuple[HighRisk, ...],
    criteria: Criteria,
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    if discharge.referral_requested:
        reasons.append(Reason("hospital-requested", "The hospital requested a DMS referral."))
    changed = [c for c in changes if c.kind is not ChangeKind.CONTINUED]
    if criteria.on_any_change and changed:
        counts = {k: sum(1 for c in changed if c.kind is k) for k in ChangeKind}
        summary = ", ".join(f"{n} {k.value}" for k, n in counts.items() if n)
        reasons.append(Reason("medicines-changed", f"Medicines changed in hospital: {summary}."))
    if criteria.on_high_risk and high_risk:
        groups = sorted({h.group for h in high_risk})
        reasons.append(Reason("high-risk-medicine", f"High-risk medicines: {', '.join(groups)}."))
    taking = sum(1 for c in changes if c.active_at_discharge)
    if criteria.min_medicines is not None and taking >= criteria.min_medicines:
        reasons.append(Reason("many-medicines", f"{taking} medicines at discharge."))
    if criteria.on_finding and findings:
        titles = sorted({f.title for f in findings})
        reasons.append(Reason("safety-finding", f"Safety findings: {'; '.join(titles)}."))
    return tuple(reasons)
