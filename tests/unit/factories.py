"""Build minimal valid discharge-medications message Bundles as plain dicts.

Every part can be varied by keyword argument. The shapes follow ``schemas/examples`` and what
``tcam_bridge.core.fhir_in`` reads. Medicines are built with :func:`request` (discharge list,
MedicationRequest) and :func:`statement` (before admission, MedicationStatement) and passed to
:func:`discharge_bundle`, which fills in the subject references.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from typing import Any

from tcam_bridge.codelists import load_drug_classes
from tcam_bridge.core import terminology as t
from tcam_bridge.core.change import Change, reconcile
from tcam_bridge.core.discharge import Discharge
from tcam_bridge.core.fhir_in import Accepted, Limits, Rejected, read_discharge
from tcam_bridge.core.rule import Context

JSON = dict[str, Any]

CANONICAL = t.Canonical()
LIMITS = Limits()

# Real dm+d ids (VMP unless said otherwise).
WARFARIN_3MG = ("319734006", "Warfarin 3mg tablets")
WARFARIN_1MG = ("319733000", "Warfarin 1mg tablets")
DABIGATRAN_110MG = ("13532811000001109", "Dabigatran etexilate 110mg capsules")
APIXABAN_5MG = ("703908001", "Apixaban 5mg tablets")
OMEPRAZOLE_20MG = ("317291008", "Omeprazole 20mg gastro-resistant capsules")
RAMIPRIL_5MG = ("318902004", "Ramipril 5mg capsules")
RAMIPRIL_2_5MG = ("318901006", "Ramipril 2.5mg capsules")
ELIQUIS_2_5MG_AMP = (
    "19506911000001105",
    "Eliquis 2.5mg tablets (Bristol-Myers Squibb Pharmaceuticals Ltd)",
)

VALID_NHS_NUMBER = "9434765919"
PATIENT_FAMILY = "Quennell-Fairbrother"
PATIENT_GIVEN = "Ottoline"
PATIENT_BIRTH_DATE = "1941-02-27"

_UNSET: Any = object()


def new_id() -> str:
    return str(uuid.uuid4())


def urn(rid: str) -> str:
    return f"urn:uuid:{rid}"


def entry(resource: JSON, full_url: str | None = _UNSET) -> JSON:
    """A Bundle entry; the resource gets an id and the entry a matching urn:uuid fullUrl."""
    rid = resource.setdefault("id", new_id())
    e: JSON = {"resource": resource}
    if full_url is _UNSET:
        e["fullUrl"] = urn(rid)
    elif full_url is not None:
        e["fullUrl"] = full_url
    return e


def concept(
    code_display: tuple[str, str | None] | None = None,
    *,
    text: str | None = _UNSET,
    system: str = t.DMD,
) -> JSON:
    """A medication CodeableConcept: one coding ``(code, display)`` (optional) and text.

    ``text`` defaults to the display.
    """
    out: JSON = {}
    if code_display is not None:
        code, display = code_display
        coding: JSON = {"system": system, "code": code}
        if display is not None:
            coding["display"] = display
        out["coding"] = [coding]
    if text is _UNSET:
        text = code_display[1] if code_display is not None else None
    if text is not None:
        out["text"] = text
    return out


def dosage(
    *,
    dose: float | None = 1,
    unit: str = "tablet",
    frequency: int | None = 1,
    text: str | None = _UNSET,
) -> JSON:
    out: JSON = {}
    if text is _UNSET:
        text = f"{dose} {unit} {frequency} times a day"
    if text is not None:
        out["text"] = text
    if frequency is not None:
        out["timing"] = {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}}
    if dose is not None:
        out["doseAndRate"] = [{"doseQuantity": {"value": dose, "unit": unit}}]
    return out


def change_extension(status: str, *, reason: str | None = None, details: str | None = None) -> JSON:
    """UK Core MedicationChangeSummary (status: added | continued | amended | on-hold)."""
    parts: list[JSON] = [
        {"url": "status", "valueCoding": {"system": t.MEDICATION_CHANGE_STATUS, "code": status}}
    ]
    if reason is not None:
        parts.append({"url": "indicationForChange", "valueCodeableConcept": {"text": reason}})
    parts.append({"url": "dateChanged", "valueDateTime": "2026-11-17"})
    if details is not None:
        parts.append({"url": "detailsOfAmendment", "valueString": details})
    return {"url": t.MEDICATION_CHANGE_SUMMARY, "extension": parts}


def _medicine(
    resource_type: str,
    medicine: tuple[str, str] | JSON | None,
    *,
    text: str | None,
    system: str,
    status: str,
    change: str | JSON | None,
    dose: float | None,
    frequency: int | None,
    unit: str,
    dosage_text: str | None,
    status_reason: str | None,
    medication_reference: str | None,
    full_url: str | None,
) -> JSON:
    res: JSON = {"resourceType": resource_type, "id": new_id()}
    if change is not None:
        res["extension"] = [change_extension(change) if isinstance(change, str) else change]
    res["status"] = status
    if status_reason is not None:
        # MedicationRequest.statusReason is one CodeableConcept; MedicationStatement's is a list.
        reason = {"text": status_reason}
        res["statusReason"] = reason if resource_type == "MedicationRequest" else [reason]
    if medication_reference is not None:
        res["medicationReference"] = {"reference": medication_reference}
    elif isinstance(medicine, dict):
        res["medicationCodeableConcept"] = medicine
    else:
        res["medicationCodeableConcept"] = concept(
            medicine, system=system, **({} if text is _UNSET else {"text": text})
        )
    dosages = [dosage(dose=dose, unit=unit, frequency=frequency, text=dosage_text)]
    res["dosageInstruction" if resource_type == "MedicationRequest" else "dosage"] = dosages
    return entry(res, full_url)


def request(
    medicine: tuple[str, str] | JSON | None = OMEPRAZOLE_20MG,
    *,
    text: str | None = _UNSET,
    system: str = t.DMD,
    status: str = "active",
    category: str | None = "discharge",
    change: str | JSON | None = None,
    dose: float | None = 1,
    frequency: int | None = 1,
    unit: str = "tablet",
    dosage_text: str | None = _UNSET,
    status_reason: str | None = None,
    medication_reference: str | None = None,
    full_url: str | None = _UNSET,
) -> JSON:
    """A discharge-list MedicationRequest entry (``medicine`` is (code, display) or a concept)."""
    e = _medicine(
        "MedicationRequest",
        medicine,
        text=text,
        system=system,
        status=status,
        change=change,
        dose=dose,
        frequency=frequency,
        unit=unit,
        dosage_text=dosage_text,
        status_reason=status_reason,
        medication_reference=medication_reference,
        full_url=full_url,
    )
    res = e["resource"]
    res["intent"] = "order"
    if category is not None:
        cat = {"coding": [{"system": t.MEDICATIONREQUEST_CATEGORY, "code": category}]}
        res["category"] = [cat]
    res["authoredOn"] = "2026-11-18T10:00:00+00:00"
    return e


def statement(
    medicine: tuple[str, str] | JSON | None = OMEPRAZOLE_20MG,
    *,
    text: str | None = _UNSET,
    system: str = t.DMD,
    status: str = "active",
    change: str | JSON | None = None,
    dose: float | None = 1,
    frequency: int | None = 1,
    unit: str = "tablet",
    dosage_text: str | None = _UNSET,
    status_reason: str | None = None,
    medication_reference: str | None = None,
    full_url: str | None = _UNSET,
) -> JSON:
    """A before-admission MedicationStatement entry."""
    e = _medicine(
        "MedicationStatement",
        medicine,
        text=text,
        system=system,
        status=status,
        change=change,
        dose=dose,
        frequency=frequency,
        unit=unit,
        dosage_text=dosage_text,
        status_reason=status_reason,
        medication_reference=medication_reference,
        full_url=full_url,
    )
    e["resource"]["effectivePeriod"] = {"start": "2020-01-01"}
    return e


def medication(code_display: tuple[str, str] | None, *, text: str | None = _UNSET) -> JSON:
    """A Medication entry, for medicationReference."""
    kwargs = {} if text is _UNSET else {"text": text}
    return entry({"resourceType": "Medication", "code": concept(code_display, **kwargs)})


def consent(status: str = "active", *, category: str = t.DMS_CONSENT_CODE) -> JSON:
    return entry(
        {
            "resourceType": "Consent",
            "status": status,
            "scope": {"coding": [{"system": t.CONSENT_SCOPE, "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": CANONICAL.consent_category, "code": category}]}],
            "dateTime": "2026-11-17T11:00:00+00:00",
            "policyRule": {"text": "NHS Discharge Medicines Service"},
        }
    )


def service_request(performer_ods: str | None = "FJ4W1", *, status: str = "active") -> JSON:
    res: JSON = {
        "resourceType": "ServiceRequest",
        "status": status,
        "intent": "order",
        "code": {"text": "Discharge Medicines Service referral"},
    }
    if performer_ods is not None:
        res["performer"] = [{"identifier": {"system": t.ODS_ORGANIZATION, "value": performer_ods}}]
    return entry(res)


def discharge_bundle(
    *,
    requests: Sequence[JSON] | None = None,
    statements: Sequence[JSON] = (),
    message_id: str | None = _UNSET,
    header_id: str | None = _UNSET,
    timestamp: str | None = "2026-11-18T14:30:00+00:00",
    bundle_type: str = "message",
    event_system: str = CANONICAL.message_event,
    event_code: str = t.DISCHARGE_EVENT_CODE,
    source_endpoint: str = "https://epr.example-trust.nhs.uk/fhir/messaging",
    trust_ods: str | None = "RR8",
    nhs_number: str | None = VALID_NHS_NUMBER,
    patient_family: str = PATIENT_FAMILY,
    patient_given: str = PATIENT_GIVEN,
    birth_date: str | None = PATIENT_BIRTH_DATE,
    pharmacy: str | None = "FA5T2",
    pharmacy_system: str | None = t.ODS_ORGANIZATION,
    discharge_date: str | None = "2026-11-18T14:05:00+00:00",
    consent_status: str | None = "active",
    service_request_ods: str | None = _UNSET,
    extra_entries: Sequence[JSON] = (),
    include_header: bool = True,
    include_patient: bool = True,
) -> JSON:
    """A minimal valid discharge message (MessageHeader first).

    ``requests`` defaults to one omeprazole MedicationRequest. ``consent_status`` None leaves out
    the Consent; ``service_request_ods`` given (even None) adds a ServiceRequest.
    """
    if requests is None:
        requests = [request()]
    org = entry(
        {
            "resourceType": "Organization",
            "name": "Example Teaching Hospitals NHS Trust",
            **(
                {"identifier": [{"system": t.ODS_ORGANIZATION, "value": trust_ods}]}
                if trust_ods is not None
                else {}
            ),
        }
    )
    patient_res: JSON = {"resourceType": "Patient"}
    if pharmacy is not None:
        ident: JSON = {"value": pharmacy}
        if pharmacy_system is not None:
            ident["system"] = pharmacy_system
        patient_res["extension"] = [
            {"url": t.NOMINATED_PHARMACY, "valueReference": {"identifier": ident}}
        ]
    if nhs_number is not None:
        patient_res["identifier"] = [{"system": t.NHS_NUMBER, "value": nhs_number}]
    patient_res["name"] = [{"family": patient_family, "given": [patient_given]}]
    if birth_date is not None:
        patient_res["birthDate"] = birth_date
    patient = entry(patient_res)
    patient_ref = {"reference": patient["fullUrl"]}
    period: JSON = {"start": "2026-11-12T09:00:00+00:00"}
    if discharge_date is not None:
        period["end"] = discharge_date
    encounter = entry(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": t.ACT_CODE, "code": "IMP"},
            "subject": patient_ref,
            "period": period,
            "serviceProvider": {"reference": org["fullUrl"]},
        }
    )
    hid = new_id() if header_id is _UNSET else header_id
    header_res: JSON = {"resourceType": "MessageHeader"}
    if hid is not None:
        header_res["id"] = hid
    header_res.update(
        {
            "eventCoding": {"system": event_system, "code": event_code},
            "sender": {"reference": org["fullUrl"]},
            "source": {"endpoint": source_endpoint},
            "focus": [{"reference": encounter["fullUrl"]}],
        }
    )
    header = {"fullUrl": urn(hid or new_id()), "resource": header_res}

    entries: list[JSON] = []
    if include_header:
        entries.append(header)
    entries.append(org)
    if include_patient:
        entries.append(patient)
    entries.append(encounter)
    for e in [*statements, *requests]:
        e = copy.deepcopy(e)
        e["resource"].setdefault("subject", patient_ref)
        entries.append(e)
    if consent_status is not None:
        c = consent(consent_status)
        c["resource"]["patient"] = patient_ref
        entries.append(c)
    if service_request_ods is not _UNSET:
        sr = service_request(service_request_ods)
        sr["resource"]["subject"] = patient_ref
        entries.append(sr)
    entries.extend(copy.deepcopy(list(extra_entries)))

    bundle: JSON = {"resourceType": "Bundle"}
    mid = new_id() if message_id is _UNSET else message_id
    if mid is not None:
        bundle["identifier"] = {"system": CANONICAL.message_id, "value": mid}
    bundle["type"] = bundle_type
    if timestamp is not None:
        bundle["timestamp"] = timestamp
    bundle["entry"] = entries
    return bundle


def to_bytes(bundle: Any) -> bytes:
    return json.dumps(bundle).encode("utf-8")


def read(bundle: JSON | bytes) -> Accepted | Rejected:
    raw = bundle if isinstance(bundle, bytes) else to_bytes(bundle)
    return read_discharge(raw, canonical=CANONICAL, limits=LIMITS)


def accepted(bundle: JSON | bytes) -> Accepted:
    reading = read(bundle)
    assert isinstance(reading, Accepted), (
        f"expected Accepted, got {[(i.reason, i.expression) for i in reading.issues]}"
    )
    return reading


def rejected(bundle: JSON | bytes) -> Rejected:
    reading = read(bundle)
    assert isinstance(reading, Rejected), "expected Rejected, got Accepted"
    return reading


def discharge_of(**kwargs: Any) -> Discharge:
    return accepted(discharge_bundle(**kwargs)).discharge


def changes_of(**kwargs: Any) -> tuple[Change, ...]:
    return reconcile(discharge_of(**kwargs))


def context_of(**kwargs: Any) -> Context:
    d = discharge_of(**kwargs)
    return Context(d, reconcile(d), load_drug_classes(), today=d.discharged)
