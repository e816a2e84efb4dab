"""Finding: one safety concern a rule raised about one discharge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FindingSeverity(StrEnum):
    """FHIR DetectedIssue severity (http://hl7.org/fhir/detectedissue-severity)."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Implicated:
    ref: str  # fullUrl of the medicine's resource in the discharge message
    name: str
    code: str | None
    change: str  # the medicine's ChangeKind value


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    rule_version: str
    severity: FindingSeverity
    title: str
    detail: str  # what is wrong, in words a pharmacist can act on
    action: str  # what to do about it
    implicated: tuple[Implicated, ...]
    evidence: tuple[str, ...] = ()
    act_code: str | None = None  # v3-ActCode for DetectedIssue.code (DUPTHPY, DRUG, ...)
    unverified: bool = False  # True when a medicine was matched by name, not by dm+d code
