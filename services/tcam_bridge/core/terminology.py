"""Code systems, identifier systems and extension URLs used on the wire.

URIs from NHS England / HL7 UK specifications are fixed; the project's own (message event,
consent category, referral reason, safety rule, change status) hang off a configurable FHIR
canonical base so a deployment can publish them under its own domain.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_FHIR_BASE = "https://tcam-bridge.org/fhir"

# Identifier systems (UK Core).
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"

# dm+d: UK Core says https://dmd.nhs.uk, EPS and the medicines IG use SNOMED CT. Accept both.
DMD = "https://dmd.nhs.uk"
SNOMED = "http://snomed.info/sct"
DMD_SYSTEMS = frozenset({DMD, SNOMED, "https://dm-d.nhs.uk"})

# Extensions (UK Core / PDS).
NOMINATED_PHARMACY = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy"
)
MEDICATION_CHANGE_SUMMARY = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicationChangeSummary"
)
MEDICATION_CHANGE_STATUS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-MedicationChangeStatus"

# HL7 code systems.
MEDICATIONREQUEST_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RESPONSE_CODE = "http://hl7.org/fhir/response-code"
DETECTEDISSUE_SEVERITY = "http://hl7.org/fhir/detectedissue-severity"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"

# BaRS (NHS Booking and Referral Standard).
BARS_MESSAGE_EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
BARS_MESSAGE_REASON = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
BARS_USECASES = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"

DISCHARGE_EVENT_CODE = "discharge-medications"
DMS_CONSENT_CODE = "dms-referral"


@dataclass(frozen=True, slots=True)
class Canonical:
    """The project's own URIs under one FHIR canonical base (a setting)."""

    base: str = DEFAULT_FHIR_BASE

    @property
    def message_event(self) -> str:
        return f"{self.base}/CodeSystem/message-event"

    @property
    def message_id(self) -> str:
        return f"{self.base}/Id/message"

    @property
    def referral_id(self) -> str:
        return f"{self.base}/Id/referral"

    @property
    def consent_category(self) -> str:
        return f"{self.base}/CodeSystem/consent-category"

    @property
    def referral_reason(self) -> str:
        return f"{self.base}/CodeSystem/referral-reason"

    @property
    def safety_rule(self) -> str:
        return f"{self.base}/CodeSystem/safety-rule"

    @property
    def validation_issue(self) -> str:
        return f"{self.base}/CodeSystem/validation-issue"

    @property
    def unrouted_reason(self) -> str:
        return f"{self.base}/CodeSystem/unrouted-reason"

    @property
    def change_extension(self) -> str:
        return f"{self.base}/StructureDefinition/medication-change"

    @property
    def match_extension(self) -> str:
        return f"{self.base}/StructureDefinition/finding-match"

    @property
    def endpoint(self) -> str:
        return f"{self.base}/messaging"
