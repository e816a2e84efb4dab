"""FHIR out: the acknowledgement, the referral message and the findings event, as JSON objects.

Built as plain dicts (the shapes are fixed and tested against the ``fhir.resources`` R4B models)
so the hot path does not pay for a second model validation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tcam_bridge import __version__
from tcam_bridge.core import terminology as t
from tcam_bridge.core.change import Change
from tcam_bridge.core.discharge import Discharge
from tcam_bridge.core.finding import Finding
from tcam_bridge.core.issue import Issue
from tcam_bridge.core.referral import ReferralDecision, ReferralStatus
from tcam_bridge.core.rule import Evaluation

JSON = dict[str, Any]


class Ids:
    """Output ids derived from the input message id: a re-sent message gets the same ids."""

    def __init__(self, canonical: t.Canonical, message_key: str) -> None:
        self._ns = uuid.uuid5(uuid.NAMESPACE_URL, canonical.base)
        self._key = message_key

    def __call__(self, purpose: str) -> str:
        return str(uuid.uuid5(self._ns, f"{self._key}|{purpose}"))


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds")


def _source(canonical: t.Canonical) -> JSON:
    return {
        "name": "TCAM Bridge",
        "software": "tcam-bridge",
        "version": __version__,
        "endpoint": canonical.endpoint,
    }


def operation_outcome(oo_id: str, issues: Sequence[Issue], canonical: t.Canonical) -> JSON:
    return {
        "resourceType": "OperationOutcome",
        "id": oo_id,
        "issue": [
            {
                "severity": i.severity.value,
                "code": i.code,
                "details": {
                    "coding": [{"system": canonical.validation_issue, "code": i.reason}],
                    "text": i.diagnostics,
                },
                "diagnostics": i.diagnostics,
                "expression": [i.expression],
            }
            for i in issues
        ],
    }


def ack(
    *,
    ids: Ids,
    canonical: t.Canonical,
    now: datetime,
    answers: str,
    code: str,
    issues: Sequence[Issue],
    destination: str | None,
) -> JSON:
    """A FHIR response message: MessageHeader.response answering the request's header id."""
    bundle_id, header_id, oo_id = ids("ack"), ids("ack-header"), ids("ack-outcome")
    header: JSON = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": {
            "system": canonical.message_event,
            "code": t.DISCHARGE_EVENT_CODE,
            "display": "Discharge medications",
        },
    }
    if destination:
        header["destination"] = [{"endpoint": destination}]
    header["source"] = _source(canonical)
    header["response"] = {"identifier": answers, "code": code}
    entries = [{"fullUrl": f"urn:uuid:{header_id}", "resource": header}]
    if issues:
        header["response"]["details"] = {"reference": f"urn:uuid:{oo_id}"}
        entries.append(
            {
                "fullUrl": f"urn:uuid:{oo_id}",
                "resource": operation_outcome(oo_id, issues, canonical),
            }
        )
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "identifier": {"system": canonical.message_id, "value": bundle_id},
        "type": "message",
        "timestamp": iso(now),
        "entry": entries,
    }


def change_extension(change: Change, canonical: t.Canonical) -> JSON:
    parts: list[JSON] = [{"url": "change", "valueCode": change.kind.value}]
    parts.append({"url": "inferred", "valueBoolean": not change.explicit})
    if change.reason:
        parts.append({"url": "reason", "valueString": change.reason})
    if change.detail:
        parts.append({"url": "detail", "valueString": change.detail})
    return {"url": canonical.change_extension, "extension": parts}


def detected_issue(
    finding: Finding, di_id: str, patient_ref: str, now: datetime, canonical: t.Canonical
) -> JSON:
    codings: list[JSON] = []
    if finding.act_code:
        codings.append({"system": t.ACT_CODE, "code": finding.act_code})
    codings.append(
        {
            "system": canonical.safety_rule,
            "version": finding.rule_version,
            "code": finding.rule_id,
            "display": finding.title,
        }
    )
    resource: JSON = {
        "resourceType": "DetectedIssue",
        "id": di_id,
        "extension": [
            {
                "url": canonical.match_extension,
                "valueCode": "name-only" if finding.unverified else "dmd-code",
            }
        ],
        "status": "final",
        "code": {"coding": codings, "text": finding.title},
        "severity": finding.severity.value,
        "patient": {"reference": patient_ref},
        "identifiedDateTime": iso(now),
        "implicated": [{"reference": i.ref, "display": i.name} for i in finding.implicated],
        "detail": f"{finding.detail} Action: {finding.action}",
    }
    if finding.evidence:
        resource["evidence"] = [{"code": [{"text": e}]} for e in finding.evidence]
    return resource


def referral_message(
    *,
    discharge: Discharge,
    changes: Sequence[Change],
    evaluation: Evaluation,
    decision: ReferralDecision,
    ids: Ids,
    canonical: t.Canonical,
    now: datetime,
    stage1_hours: int,
) -> JSON:
    """The DMS referral: a BaRS-style message Bundle focused on a ServiceRequest."""
    referral_id, task_id = ids("referral"), ids("task")
    header_id, bundle_id = ids("referral-header"), ids("referral-message")
    routed = decision.status is ReferralStatus.ROUTED
    by_ref = {c.medicine.ref: c for c in changes}
    patient_ref = discharge.patient.ref
    issues = [(f"urn:uuid:{ids(f'finding-{n}')}", f) for n, f in enumerate(evaluation.findings)]

    copied: list[JSON] = []
    for full_url, resource in discharge.resources.items():
        if resource.get("resourceType") == "MessageHeader":
            continue
        # A shallow copy: the input's nested values are shared, never changed (only encoded).
        res = dict(resource)
        if full_url in by_ref:
            extensions = res.get("extension") or []  # may be absent or an explicit null
            res["extension"] = [*extensions, change_extension(by_ref[full_url], canonical)]
        copied.append({"fullUrl": full_url, "resource": res})

    pharmacy = (
        {"identifier": {"system": t.ODS_ORGANIZATION, "value": decision.pharmacy_ods}}
        if decision.pharmacy_ods
        else None
    )
    trust = {
        "identifier": {"system": t.ODS_ORGANIZATION, "value": discharge.trust_ods},
        **({"display": discharge.trust_name} if discharge.trust_name else {}),
    }
    requester = _first_ref(discharge, "PractitionerRole") or trust
    service_request: JSON = {
        "resourceType": "ServiceRequest",
        "id": referral_id,
        "identifier": [{"system": canonical.referral_id, "value": referral_id}],
        "status": "active" if routed else "draft",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": t.BARS_USECASES,
                        "code": "referraltopharmacy",
                        "display": "Referral to Pharmacy",
                    }
                ]
            }
        ],
        "priority": decision.priority.value,
        "code": {"text": "Discharge Medicines Service referral"},
        "subject": {"reference": patient_ref},
        "authoredOn": iso(now),
        "requester": requester,
        "reasonCode": [
            {"coding": [{"system": canonical.referral_reason, "code": r.code}], "text": r.text}
            for r in decision.reasons
        ],
        "supportingInfo": [{"reference": c.medicine.ref} for c in changes]
        + [{"reference": ref} for ref, _ in issues],
    }
    encounter = _first_ref(discharge, "Encounter")
    if encounter:
        service_request["encounter"] = encounter
    if pharmacy:
        service_request["performer"] = [pharmacy]
    if decision.held_because:
        service_request["note"] = [{"text": r.text} for r in decision.held_because]

    deadline = now + timedelta(hours=stage1_hours)
    task: JSON = {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": canonical.referral_id, "value": referral_id}],
        "status": "requested" if routed else "draft",
        "intent": "order",
        "priority": decision.priority.value,
        "code": {"text": "Discharge Medicines Service Stage 1: clinical check of the referral"},
        "focus": {"reference": f"urn:uuid:{referral_id}"},
        "for": {"reference": patient_ref},
        "authoredOn": iso(now),
        "lastModified": iso(now),
        "requester": trust,
        "restriction": {"period": {"start": iso(now), "end": iso(deadline)}},
    }
    if pharmacy:
        task["owner"] = pharmacy
    if decision.held_because:
        task["statusReason"] = {
            "coding": [
                {"system": canonical.unrouted_reason, "code": r.code} for r in decision.held_because
            ],
            "text": " ".join(r.text for r in decision.held_because),
        }
    destination: JSON = {
        "endpoint": f"kafka:{decision.topic}",
    }
    if pharmacy:
        destination["receiver"] = pharmacy
    header: JSON = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": {
            "system": t.BARS_MESSAGE_EVENTS,
            "code": "servicerequest-request",
            "display": "Referral request",
        },
        "destination": [destination],
        "sender": trust,
        "source": _source(canonical),
        "reason": {"coding": [{"system": t.BARS_MESSAGE_REASON, "code": "new"}]},
        "focus": [{"reference": f"urn:uuid:{referral_id}"}],
    }
    entries: list[JSON] = [
        {"fullUrl": f"urn:uuid:{header_id}", "resource": header},
        {"fullUrl": f"urn:uuid:{referral_id}", "resource": service_request},
        {"fullUrl": f"urn:uuid:{task_id}", "resource": task},
        *copied,
    ]
    entries.extend(
        {
            "fullUrl": ref,
            "resource": detected_issue(
                f, ref.removeprefix("urn:uuid:"), patient_ref, now, canonical
            ),
        }
        for ref, f in issues
    )
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "identifier": {"system": canonical.message_id, "value": bundle_id},
        "type": "message",
        "timestamp": iso(now),
        "entry": entries,
    }


def _first_ref(discharge: Discharge, resource_type: str) -> JSON | None:
    for full_url, resource in discharge.resources.items():
        if resource.get("resourceType") == resource_type:
            return {"reference": full_url}
    return None


def findings_event(
    *,
    discharge: Discharge,
    changes: Sequence[Change],
    evaluation: Evaluation,
    decision: ReferralDecision,
    ids: Ids,
    canonical: t.Canonical,
    now: datetime,
) -> JSON:
    """One event per accepted discharge for the safety log, even when nothing was found."""
    change_by_ref: Mapping[str, Change] = {c.medicine.ref: c for c in changes}
    referral_id = None if decision.status is ReferralStatus.NOT_REFERRED else ids("referral")
    findings = []
    for n, f in enumerate(evaluation.findings):
        di_id = ids(f"finding-{n}")
        findings.append(
            {
                "rule_id": f.rule_id,
                "rule_version": f.rule_version,
                "severity": f.severity.value,
                "title": f.title,
                "detail": f.detail,
                "action": f.action,
                "unverified": f.unverified,
                "evidence": list(f.evidence),
                "implicated": [
                    {
                        "reference": i.ref,
                        "display": i.name,
                        "code": i.code,
                        "change": change_by_ref[i.ref].kind.value
                        if i.ref in change_by_ref
                        else i.change,
                    }
                    for i in f.implicated
                ],
                "detected_issue": detected_issue(f, di_id, discharge.patient.ref, now, canonical),
            }
        )
    return {
        "schema": "tcam.safety.findings.v1",
        "event_id": ids("findings"),
        "message_id": discharge.message_id,
        "message_header_id": discharge.header_id,
        "trust_ods": discharge.trust_ods,
        "pharmacy_ods": decision.pharmacy_ods,
        "referral_id": referral_id,
        "referral_status": decision.status.value,
        "nhs_number": discharge.patient.nhs_number,
        "discharge_date": discharge.discharged.isoformat(),
        "evaluated_at": iso(now),
        "rules": [{"id": r.id, "version": r.version} for r in evaluation.rules],
        "not_assessable": [{"rule_id": r, "reason": why} for r, why in evaluation.not_assessable],
        "rule_failures": [{"rule_id": f.rule_id, "error": f.error} for f in evaluation.failures],
        "findings": findings,
    }
