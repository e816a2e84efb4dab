"""Payload shapes for the AsyncAPI contract (documentation only: the pipeline builds dicts).

The full message profiles, with examples, are in ``contracts/``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Identifier(BaseModel):
    system: str
    value: str


class FhirMessageBundle(BaseModel):
    resourceType: Literal["Bundle"]
    id: str
    type: Literal["message"]
    identifier: Identifier
    timestamp: str
    entry: list[dict[str, Any]] = Field(
        description="entry[0] is the MessageHeader (bdl-12); fullUrls are urn:uuid."
    )


class AckMessage(FhirMessageBundle):
    """FHIR response message: MessageHeader.response {identifier, code, details}."""


class ReferralMessage(FhirMessageBundle):
    """BaRS-style servicerequest-request: ServiceRequest, Task, Patient, medicines, findings."""


class ImplicatedMedicine(BaseModel):
    reference: str
    display: str
    code: str | None
    change: Literal["new", "continued", "changed", "stopped", "suspended"]


class FindingItem(BaseModel):
    rule_id: str
    rule_version: str
    severity: Literal["high", "moderate", "low"]
    title: str
    detail: str
    action: str
    unverified: bool
    evidence: list[str]
    implicated: list[ImplicatedMedicine]
    detected_issue: dict[str, Any] = Field(description="FHIR R4 DetectedIssue")


class RuleRef(BaseModel):
    id: str
    version: str


class NotAssessable(BaseModel):
    rule_id: str
    reason: str


class RuleFailure(BaseModel):
    rule_id: str
    error: str


class FindingsEvent(BaseModel):
    schema_: Literal["tcam.safety.findings.v1"] = Field(alias="schema")
    event_id: str
    message_id: str
    message_header_id: str
    trust_ods: str
    pharmacy_ods: str | None
    referral_id: str | None
    referral_status: Literal["routed", "unrouted", "not-referred"]
    nhs_number: str
    discharge_date: str
    evaluated_at: str
    rules: list[RuleRef]
    not_assessable: list[NotAssessable]
    rule_failures: list[RuleFailure] = Field(
        description="Rules that raised an error: they did not run to the end for this discharge."
    )
    findings: list[FindingItem]
