"""FHIR R4 Task updates on a referral, sent back to the hospital (pure: no I/O).

A pharmacy's progress through the Discharge Medicines Service is reported as the referral's
Task: ``status`` (FHIR task status), ``businessStatus`` (the DMS stage reached, in
``{base}/CodeSystem/dms-stage``), ``statusReason`` (an ITK3 response code, e.g. 30016 accepted),
and ``output`` (the structured outcome of each stage, in ``{base}/CodeSystem/dms-outcome``).
The Task is identified by the referral id and points at the ServiceRequest by identifier, so
the hospital can match it without holding our Bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

ITK3_RESPONSE_CODES = "https://fhir.nhs.uk/STU3/CodeSystem/ITK-ResponseCodes-1"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"

ITK3_ACCEPTED = ("30016", "Referral accepted")
ITK3_REJECTED = ("30017", "Referral rejected")
ITK3_UNABLE_TO_CONTACT = ("30012", "Unable to contact patient")
ITK3_COMPLETED = ("30006", "Referral completed")

OutputValue = str | bool


def task_update(
    referral_id: str,
    task_id: str,
    owner_ods: str | None,
    trust_ods: str,
    status: str,
    business_status: str | None,
    status_reason: tuple[str, str] | None,
    outputs: Sequence[tuple[str, OutputValue]],
    last_modified: datetime,
    canonical_base: str,
    *,
    status_text: str | None = None,
) -> dict[str, Any]:
    """The Task resource (a JSON-ready dict) reporting the referral's current state."""
    if last_modified.tzinfo is None:
        msg = "last_modified must be timezone-aware"
        raise ValueError(msg)
    referral_identifier = {"system": f"{canonical_base}/Id/referral", "value": referral_id}
    request = {"type": "ServiceRequest", "identifier": referral_identifier}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [referral_identifier],
        "basedOn": [request],
        "status": status,
        "intent": "order",
        "code": {"text": "Discharge Medicines Service"},
        "focus": request,
        "lastModified": last_modified.isoformat(),
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": trust_ods}},
    }
    if status_reason is not None or status_text:
        reason: dict[str, Any] = {}
        if status_reason is not None:
            code, display = status_reason
            reason["coding"] = [{"system": ITK3_RESPONSE_CODES, "code": code, "display": display}]
        if status_text:
            reason["text"] = status_text
        task["statusReason"] = reason
    if business_status is not None:
        task["businessStatus"] = {
            "coding": [
                {"system": f"{canonical_base}/CodeSystem/dms-stage", "code": business_status}
            ]
        }
    if owner_ods is not None:
        task["owner"] = {"identifier": {"system": ODS_SYSTEM, "value": owner_ods}}
    if outputs:
        task["output"] = [_output(name, value, canonical_base) for name, value in outputs]
    return task


def _output(name: str, value: OutputValue, canonical_base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": {
            "coding": [{"system": f"{canonical_base}/CodeSystem/dms-outcome", "code": name}],
            "text": name,
        }
    }
    if isinstance(value, bool):
        entry["valueBoolean"] = value
    else:
        entry["valueString"] = value
    return entry
