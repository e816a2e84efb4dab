"""Issue: one problem found in a message, as it will appear in a FHIR OperationOutcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


@dataclass(frozen=True, slots=True)
class Issue:
    severity: Severity
    code: str  # FHIR issue-type: invalid, structure, required, value, code-invalid, ...
    reason: str  # machine-readable reason in the project's validation-issue CodeSystem
    diagnostics: str  # plain words; never contains patient data
    expression: str  # FHIRPath of the offending element

    @property
    def blocks(self) -> bool:
        return self.severity in (Severity.FATAL, Severity.ERROR)


def error(code: str, reason: str, diagnostics: str, expression: str) -> Issue:
    return Issue(Severity.ERROR, code, reason, diagnostics, expression)


def warning(code: str, reason: str, diagnostics: str, expression: str) -> Issue:
    return Issue(Severity.WARNING, code, reason, diagnostics, expression)
