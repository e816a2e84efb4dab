"""Read a discharge message: bytes in, a validated ``Discharge`` or a list of issues out.

Checks, in order, stopping at the first layer that fails:

1. transport: size limit, UTF-8, JSON (not XML), a JSON object;
2. FHIR R4 structure, by the ``fhir.resources`` R4B models (unknown elements, data types,
   cardinality, choice types): first by the check compiled from those models
   (``structure.py``), which accepts only what the models accept; anything it does not accept
   goes to ``Bundle.model_validate`` for the verdict and the error messages;
3. the TCAM Bridge message profile (``contracts/discharge-message.md``): invariant bdl-12,
   event code, identifiers, NHS number check digit, required resources, dm+d codes,
   resolvable references.

Problems that only affect where a referral goes (pharmacy codes) are not checked here: they
never reject a message (see ``referral.py``). Diagnostics never quote values from the message,
so they can be logged and sent back without carrying patient data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from tcam_bridge.core import terminology as t
from tcam_bridge.core.discharge import (
    Coded,
    Condition,
    ConsentState,
    Discharge,
    Observation,
    Patient,
)
from tcam_bridge.core.identifiers import is_valid_nhs_number, is_valid_sctid
from tcam_bridge.core.issue import Issue, Severity, error, warning
from tcam_bridge.core.medicine import Dosage, ExplicitChange, Medicine, MedicineCode, MedicineSource
from tcam_bridge.core.structure import structure_check

JSON = dict[str, Any]
MAX_REPORTED_STRUCTURE_ERRORS = 50


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 2 * 1024 * 1024
    max_entries: int = 2000


@dataclass(frozen=True, slots=True)
class Accepted:
    discharge: Discharge
    warnings: tuple[Issue, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    issues: tuple[Issue, ...]
    message_id: str | None  # Bundle.identifier.value when it could be read
    header_id: str | None  # MessageHeader.id when it could be read
    source_endpoint: str | None
    digest: str  # SHA-256 of the bytes as received

    @property
    def correlation_id(self) -> str:
        """What the ack answers: the request's MessageHeader.id, or a digest of the bytes."""
        return self.header_id or f"sha256-{self.digest[:56]}"


Reading = Accepted | Rejected


class _Invalid(Exception):
    def __init__(self, *issues: Issue) -> None:
        super().__init__(issues[0].diagnostics if issues else "invalid")
        self.issues = issues


def read_discharge(raw: bytes, *, canonical: t.Canonical, limits: Limits) -> Reading:
    """Validate ``raw`` against the discharge message profile and map it to the domain."""
    data: Any = None
    try:
        data = _decode(raw, limits)
        _check_structure(data, limits)
        return _map(data, canonical)
    except _Invalid as exc:
        return _rejected(exc.issues, data, raw)


# ---------------------------------------------------------------------------------------------
# 1. transport


def _decode(raw: bytes, limits: Limits) -> JSON:
    if len(raw) > limits.max_bytes:
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "too-long",
                "message-too-large",
                f"Message is {len(raw)} bytes; the limit is {limits.max_bytes} bytes.",
                "Bundle",
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "structure",
                "not-utf8",
                f"Message is not valid UTF-8 (byte offset {exc.start}).",
                "Bundle",
            )
        ) from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "not-supported",
                "xml-not-supported",
                "FHIR XML is not accepted; send FHIR JSON (application/fhir+json).",
                "Bundle",
            )
        )
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "structure",
                "not-json",
                f"Message is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
                "Bundle",
            )
        ) from None
    except RecursionError:
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "structure",
                "too-deep",
                "Message JSON is nested too deeply to be a FHIR resource.",
                "Bundle",
            )
        ) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python will convert
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "structure",
                "not-json",
                f"Message JSON cannot be read: {type(exc).__name__}.",
                "Bundle",
            )
        ) from None
    if ("\\ud" in stripped or "\\uD" in stripped) and _has_lone_surrogate(data):
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "structure",
                "invalid-unicode",
                "Message JSON contains an unpaired UTF-16 surrogate escape, which is not text.",
                "Bundle",
            )
        )
    if not isinstance(data, dict):
        raise _Invalid(
            Issue(
                Severity.FATAL,
                "structure",
                "not-a-resource",
                f"Message is a JSON {type(data).__name__}, not a FHIR resource object.",
                "Bundle",
            )
        )
    return data


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ---------------------------------------------------------------------------------------------
# 2. FHIR structure


def _check_structure(data: JSON, limits: Limits) -> None:
    rt = data.get("resourceType")
    if rt != "Bundle":
        shown = rt if isinstance(rt, str) and rt.isalnum() and len(rt) < 40 else "no resourceType"
        raise _Invalid(
            error(
                "invalid",
                "not-a-bundle",
                f"Expected a FHIR Bundle of type 'message', got {shown}.",
                "Bundle.resourceType",
            )
        )
    entries = data.get("entry")
    if isinstance(entries, list) and len(entries) > limits.max_entries:
        raise _Invalid(
            error(
                "too-costly",
                "too-many-entries",
                f"Bundle has {len(entries)} entries; the limit is {limits.max_entries}.",
                "Bundle.entry",
            )
        )
    _check_entry_types(entries)
    if structure_check().accepts(data):
        return  # the models would accept it too (see structure.py), at a tenth of the cost
    try:
        Bundle.model_validate(data)
    except pydantic.ValidationError as exc:
        issues = [
            error(
                "structure",
                "fhir-structure",
                f"{err['msg']} (FHIR R4).",
                _fhirpath(err["loc"]),
            )
            for err in exc.errors(include_url=False, include_input=False)[
                :MAX_REPORTED_STRUCTURE_ERRORS
            ]
        ]
        raise _Invalid(*issues) from None
    except RecursionError:
        raise _Invalid(
            error("structure", "too-deep", "Message is nested too deeply.", "Bundle")
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # fhir.resources raises these, not ValidationError, for some malformed values
        # (for example a number where a url string belongs).
        raise _Invalid(
            error(
                "structure",
                "fhir-structure",
                f"The Bundle is not valid FHIR R4 ({type(exc).__name__} in an element value).",
                "Bundle",
            )
        ) from None


def _check_entry_types(entries: Any) -> None:
    """Every entry.resource must name a FHIR R4 resource type the models know."""
    if not isinstance(entries, list):
        return
    issues = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None:
            continue
        rt = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(rt, str) or not _known_resource_type(rt):
            issues.append(
                error(
                    "structure",
                    "unknown-resource-type",
                    "entry.resource must be a FHIR R4 resource with a known resourceType.",
                    f"Bundle.entry[{i}].resource.resourceType",
                )
            )
    if issues:
        raise _Invalid(*issues[:MAX_REPORTED_STRUCTURE_ERRORS])


@cache
def _known_resource_type(name: str) -> bool:
    if not name.isascii() or not name.isalpha() or not name[:1].isupper():
        return False
    try:
        get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return True


def _fhirpath(loc: Sequence[int | str]) -> str:
    out = "Bundle"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "union[", "json-or-python")):
            continue
        else:
            out += f".{part}"
    return out


# ---------------------------------------------------------------------------------------------
# 3. profile checks and mapping


@dataclass(slots=True)
class _Entry:
    index: int
    full_url: str
    resource: JSON

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType"))


class _Index:
    """The Bundle's entries, with FHIR reference resolution (fullUrl or Type/id)."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self._by_ref: dict[str, _Entry] = {}
        for e in entries:
            self._by_ref.setdefault(e.full_url, e)
            rid = e.resource.get("id")
            if isinstance(rid, str):
                self._by_ref.setdefault(f"{e.type}/{rid}", e)

    def of_type(self, rt: str) -> list[_Entry]:
        return [e for e in self.entries if e.type == rt]

    def resolve(self, reference: Any) -> _Entry | None:
        if not isinstance(reference, dict):
            return None
        ref = reference.get("reference")
        return self._by_ref.get(ref) if isinstance(ref, str) else None


def _map(data: JSON, canonical: t.Canonical) -> Accepted:
    issues: list[Issue] = []
    entries = [
        _Entry(i, str(e.get("fullUrl") or f"#entry{i}"), e["resource"])
        for i, e in enumerate(data.get("entry") or [])
        if isinstance(e.get("resource"), dict)
    ]
    index = _Index(entries)

    if data.get("type") != "message":
        issues.append(
            error(
                "invalid",
                "bundle-type",
                "Bundle.type must be 'message' for a discharge message.",
                "Bundle.type",
            )
        )
    message_id = (data.get("identifier") or {}).get("value")
    if not message_id:
        issues.append(
            error(
                "required",
                "message-identifier",
                "Bundle.identifier.value is required: it is the message id used for "
                "de-duplication and acknowledgement.",
                "Bundle.identifier",
            )
        )
    timestamp = _datetime(data.get("timestamp"))
    if timestamp is None:
        issues.append(
            error("required", "timestamp", "Bundle.timestamp is required.", "Bundle.timestamp")
        )
    seen: set[str] = set()
    for e in entries:
        if not e.full_url.startswith("#") and e.full_url in seen:
            issues.append(
                error(
                    "invalid",
                    "duplicate-fullurl",
                    "Two entries share one fullUrl; references would be ambiguous.",
                    f"Bundle.entry[{e.index}].fullUrl",
                )
            )
        seen.add(e.full_url)
        if e.full_url.startswith("#"):
            issues.append(
                error(
                    "required",
                    "fullurl",
                    "Every entry needs a fullUrl so resources can reference it.",
                    f"Bundle.entry[{e.index}].fullUrl",
                )
            )

    header = _header(entries, canonical, issues)
    patient = _patient(index, issues)
    encounter = _one(index, "Encounter", issues, required=True)
    admitted, discharged = None, None
    if encounter is not None:
        period = encounter.resource.get("period") or {}
        admitted = _date(period.get("start"))
        discharged = _date(period.get("end"))
        if discharged is None:
            issues.append(
                error(
                    "required",
                    "discharge-date",
                    "Encounter.period.end (the discharge date) is required.",
                    f"{encounter.path}.period.end",
                )
            )
    trust_ods, trust_name = _trust(index, header, encounter, issues)
    medicines = _medicines(index, issues)
    if not medicines and not any(i.reason == "medicine-missing-name" for i in issues):
        issues.append(
            error(
                "required",
                "no-medicines",
                "The message lists no medicines: at least one MedicationRequest (discharge "
                "list) or MedicationStatement (before admission) is required.",
                "Bundle.entry",
            )
        )
    consent = _consent(index, canonical)
    requested, requested_ods, requested_path = _service_request(index, issues)

    blocking = [i for i in issues if i.blocks]
    if blocking:
        raise _Invalid(*blocking)
    assert header is not None and patient is not None and timestamp is not None
    assert discharged is not None and isinstance(message_id, str) and trust_ods is not None
    discharge = Discharge(
        message_id=message_id,
        header_id=str(header.resource.get("id")),
        timestamp=timestamp,
        source_endpoint=str((header.resource.get("source") or {}).get("endpoint")),
        trust_ods=trust_ods,
        trust_name=trust_name,
        patient=patient,
        admitted=admitted,
        discharged=discharged,
        medicines=tuple(medicines),
        conditions=tuple(_conditions(index)),
        observations=tuple(_observations(index)),
        consent=consent,
        referral_requested=requested,
        requested_pharmacy=requested_ods,
        requested_pharmacy_path=requested_path,
        resources={e.full_url: e.resource for e in entries},
    )
    return Accepted(discharge, tuple(i for i in issues if not i.blocks))


def _header(entries: list[_Entry], canonical: t.Canonical, issues: list[Issue]) -> _Entry | None:
    headers = [e for e in entries if e.type == "MessageHeader"]
    if not headers:
        issues.append(
            error(
                "required",
                "messageheader-missing",
                "A message Bundle must contain a MessageHeader (invariant bdl-12).",
                "Bundle.entry[0].resource",
            )
        )
        return None
    header = headers[0]
    if header.index != 0:
        issues.append(
            error(
                "invalid",
                "bdl-12",
                "The MessageHeader must be the first entry of a message Bundle (invariant "
                f"bdl-12); it is entry {header.index}.",
                "Bundle.entry[0].resource",
            )
        )
    if not header.resource.get("id"):
        issues.append(
            error(
                "required",
                "messageheader-id",
                "MessageHeader.id is required: acknowledgements answer it.",
                f"{header.path}.id",
            )
        )
    event = header.resource.get("eventCoding") or {}
    if event.get("system") != canonical.message_event or event.get("code") != (
        t.DISCHARGE_EVENT_CODE
    ):
        issues.append(
            error(
                "code-invalid",
                "event-code",
                f"MessageHeader.eventCoding must be {canonical.message_event}#"
                f"{t.DISCHARGE_EVENT_CODE}.",
                f"{header.path}.eventCoding",
            )
        )
    return header


def _one(index: _Index, rt: str, issues: list[Issue], *, required: bool) -> _Entry | None:
    found = index.of_type(rt)
    if not found:
        if required:
            issues.append(
                error(
                    "required",
                    f"{rt.lower()}-missing",
                    f"The message must contain one {rt}.",
                    f"Bundle.entry.resource.ofType({rt})",
                )
            )
        return None
    if len(found) > 1:
        issues.append(
            error(
                "invalid",
                f"{rt.lower()}-multiple",
                f"The message must contain exactly one {rt}; it has {len(found)}.",
                f"{found[1].path}",
            )
        )
    return found[0]


def _patient(index: _Index, issues: list[Issue]) -> Patient | None:
    entry = _one(index, "Patient", issues, required=True)
    if entry is None:
        return None
    res = entry.resource
    nhs: str | None = None
    nhs_path = f"{entry.path}.identifier"
    for i, ident in enumerate(res.get("identifier") or []):
        if ident.get("system") == t.NHS_NUMBER:
            nhs = ident.get("value")
            nhs_path = f"{entry.path}.identifier[{i}].value"
            break
    if nhs is None:
        issues.append(
            error(
                "required",
                "nhs-number-missing",
                f"Patient.identifier with system {t.NHS_NUMBER} (the NHS number) is required.",
                nhs_path,
            )
        )
    elif not (len(nhs) == 10 and nhs.isdigit()):
        issues.append(
            error(
                "value",
                "nhs-number-format",
                "The NHS number must be exactly 10 digits with no spaces.",
                nhs_path,
            )
        )
    elif not is_valid_nhs_number(nhs):
        issues.append(
            error(
                "value",
                "nhs-number-check-digit",
                "The NHS number fails the Modulus 11 check-digit test.",
                nhs_path,
            )
        )
    pharmacy, pharmacy_path = None, None
    for i, ext in enumerate(res.get("extension") or []):
        if ext.get("url") == t.NOMINATED_PHARMACY:
            ident = (ext.get("valueReference") or {}).get("identifier") or {}
            pharmacy = ident.get("value")
            pharmacy_path = f"{entry.path}.extension[{i}].valueReference.identifier.value"
            if ident.get("system") not in (None, t.ODS_ORGANIZATION):
                pharmacy = f"?{pharmacy}"  # not an ODS code: unusable, reported by routing
            break
    if nhs is None:
        return None
    return Patient(
        ref=entry.full_url,
        nhs_number=nhs,
        birth_date=_date(res.get("birthDate")),
        nominated_pharmacy=pharmacy,
        nominated_pharmacy_path=pharmacy_path,
    )


def _ods(ident: Any) -> str | None:
    if isinstance(ident, dict) and ident.get("system") == t.ODS_ORGANIZATION:
        value = ident.get("value")
        return value if isinstance(value, str) else None
    return None


def _org_ods(entry: _Entry | None) -> str | None:
    if entry is None:
        return None
    for ident in entry.resource.get("identifier") or []:
        if (code := _ods(ident)) is not None:
            return code
    return None


def _trust(
    index: _Index, header: _Entry | None, encounter: _Entry | None, issues: list[Issue]
) -> tuple[str | None, str | None]:
    candidates: list[tuple[Any, str]] = []
    if header is not None:
        candidates.append((header.resource.get("sender"), f"{header.path}.sender"))
    if encounter is not None:
        candidates.append(
            (encounter.resource.get("serviceProvider"), f"{encounter.path}.serviceProvider")
        )
    for ref, _path in candidates:
        if not isinstance(ref, dict):
            continue
        code = _ods(ref.get("identifier"))
        org = index.resolve(ref)
        code = code or _org_ods(org)
        if code:
            name = (org.resource.get("name") if org else None) or ref.get("display")
            return code, name if isinstance(name, str) else None
    path = candidates[0][1] if candidates else "Bundle.entry[0].resource.sender"
    issues.append(
        error(
            "required",
            "sender-ods",
            "The sending trust must be identified by its ODS code: MessageHeader.sender "
            f"referencing an Organization with identifier system {t.ODS_ORGANIZATION}.",
            path,
        )
    )
    return None, None


def _medicines(index: _Index, issues: list[Issue]) -> list[Medicine]:
    out: list[Medicine] = []
    for e in index.entries:
        if e.type == "MedicationRequest":
            source = MedicineSource.DISCHARGE
            cats = [
                c.get("code")
                for cc in e.resource.get("category") or []
                for c in cc.get("coding") or []
                if c.get("system") == t.MEDICATIONREQUEST_CATEGORY
            ]
            if "discharge" not in cats:
                issues.append(
                    warning(
                        "business-rule",
                        "medicationrequest-category",
                        "MedicationRequest has no 'discharge' category; it is read as part of "
                        "the discharge list.",
                        f"{e.path}.category",
                    )
                )
            dosages = e.resource.get("dosageInstruction") or []
            started = _date(e.resource.get("authoredOn"))
        elif e.type == "MedicationStatement":
            source = MedicineSource.PRE_ADMISSION
            dosages = e.resource.get("dosage") or []
            period = e.resource.get("effectivePeriod") or {}
            started = _date(period.get("start")) or _date(e.resource.get("effectiveDateTime"))
        else:
            continue
        status = str(e.resource.get("status") or "unknown")
        if status == "entered-in-error":
            continue
        code, name, concept_path = _medication(e, index, issues)
        if name is None:
            issues.append(
                error(
                    "required",
                    "medicine-missing-name",
                    "A medicine needs a dm+d coding or a text name.",
                    concept_path,
                )
            )
            continue
        out.append(
            Medicine(
                ref=e.full_url,
                path=e.path,
                source=source,
                code=code,
                name=name,
                status=status,
                dosage=tuple(_dosage(d) for d in dosages if isinstance(d, dict)),
                started=started,
                explicit_change=_explicit_change(e.resource),
                status_reason=_status_reason(e.resource.get("statusReason")),
            )
        )
    return out


def _medication(
    e: _Entry, index: _Index, issues: list[Issue]
) -> tuple[MedicineCode | None, str | None, str]:
    concept = e.resource.get("medicationCodeableConcept")
    path = f"{e.path}.medicationCodeableConcept"
    if concept is None:
        ref = e.resource.get("medicationReference")
        target = index.resolve(ref)
        if target is None or target.type != "Medication":
            issues.append(
                error(
                    "not-found",
                    "medication-reference",
                    "medicationReference does not resolve to a Medication entry in the Bundle.",
                    f"{e.path}.medicationReference",
                )
            )
            return None, "unresolved", path
        concept = target.resource.get("code") or {}
        path = f"{target.path}.code"
    code: MedicineCode | None = None
    for i, coding in enumerate(concept.get("coding") or []):
        system = coding.get("system")
        value = coding.get("code")
        if system in t.DMD_SYSTEMS:
            if not isinstance(value, str) or not is_valid_sctid(value):
                issues.append(
                    error(
                        "code-invalid",
                        "dmd-code",
                        "A dm+d code must be a SNOMED CT identifier (6 to 18 digits with a "
                        "valid Verhoeff check digit).",
                        f"{path}.coding[{i}].code",
                    )
                )
            elif code is None:
                code = MedicineCode(value, coding.get("display"), system)
        else:
            issues.append(
                warning(
                    "code-invalid",
                    "medication-code-system",
                    f"Coding system is not dm+d ({t.DMD} or {t.SNOMED}); the medicine is "
                    "matched by its name only.",
                    f"{path}.coding[{i}].system",
                )
            )
    name = (code.display if code else None) or concept.get("text")
    if not name:
        name = next(
            (c.get("display") for c in concept.get("coding") or [] if c.get("display")), None
        )
    return code, name, path


def _dosage(d: JSON) -> Dosage:
    repeat = (d.get("timing") or {}).get("repeat") or {}
    dose = next(
        (
            r.get("doseQuantity")
            for r in d.get("doseAndRate") or []
            if isinstance(r.get("doseQuantity"), dict)
        ),
        None,
    )
    return Dosage(
        text=d.get("text"),
        dose_value=_decimal(dose.get("value")) if dose else None,
        dose_unit=(dose.get("unit") or dose.get("code")) if dose else None,
        frequency=repeat.get("frequency"),
        period=_decimal(repeat.get("period")),
        period_unit=repeat.get("periodUnit"),
        as_needed=bool(d.get("asNeededBoolean")),
    )


def _explicit_change(res: JSON) -> ExplicitChange | None:
    for ext in res.get("extension") or []:
        if ext.get("url") != t.MEDICATION_CHANGE_SUMMARY:
            continue
        parts = {x.get("url"): x for x in ext.get("extension") or []}
        status = ((parts.get("status") or {}).get("valueCoding") or {}).get("code")
        if not isinstance(status, str):
            return None
        return ExplicitChange(
            status=status,
            reason=_text((parts.get("indicationForChange") or {}).get("valueCodeableConcept")),
            date_changed=(parts.get("dateChanged") or {}).get("valueDateTime"),
            details=(parts.get("detailsOfAmendment") or {}).get("valueString"),
        )
    return None


def _consent(index: _Index, canonical: t.Canonical) -> ConsentState:
    state = ConsentState.NOT_RECORDED
    for e in index.of_type("Consent"):
        codes = {
            (c.get("system"), c.get("code"))
            for cc in e.resource.get("category") or []
            for c in cc.get("coding") or []
        }
        if (canonical.consent_category, t.DMS_CONSENT_CODE) not in codes:
            continue
        status = e.resource.get("status")
        if status == "rejected":
            return ConsentState.DECLINED  # a refusal always wins
        if status == "active":
            state = ConsentState.GIVEN
    return state


def _service_request(index: _Index, issues: list[Issue]) -> tuple[bool, str | None, str | None]:
    for e in index.of_type("ServiceRequest"):
        if e.resource.get("status") in ("revoked", "entered-in-error"):
            continue
        for i, performer in enumerate(e.resource.get("performer") or []):
            code = _ods(performer.get("identifier")) or _org_ods(index.resolve(performer))
            if code is not None:
                return True, code, f"{e.path}.performer[{i}]"
        return True, None, None
    return False, None, None


def _coded(concept: Any) -> tuple[tuple[Coded, ...], str | None]:
    if not isinstance(concept, dict):
        return (), None
    codes = tuple(
        Coded(c.get("system"), c.get("code"), c.get("display")) for c in concept.get("coding") or []
    )
    return codes, concept.get("text")


def _conditions(index: _Index) -> Iterator[Condition]:
    for e in index.of_type("Condition"):
        r = e.resource
        codes, text = _coded(r.get("code"))
        status = next(
            (c.get("code") for c in (r.get("clinicalStatus") or {}).get("coding") or []), None
        )
        yield Condition(
            ref=e.full_url,
            codes=codes,
            text=text,
            clinical_status=status,
            onset=_date(r.get("onsetDateTime")) or _date((r.get("onsetPeriod") or {}).get("start")),
            recorded=_date(r.get("recordedDate")),
            abated=_date(r.get("abatementDateTime")),
        )


def _observations(index: _Index) -> Iterator[Observation]:
    for e in index.of_type("Observation"):
        r = e.resource
        if r.get("status") in ("entered-in-error", "cancelled"):
            continue
        codes, text = _coded(r.get("code"))
        q = r.get("valueQuantity") or {}
        yield Observation(
            ref=e.full_url,
            codes=codes,
            text=text,
            value=_decimal(q.get("value")),
            comparator=q.get("comparator"),
            unit=q.get("unit") or q.get("code"),
            effective=_date(r.get("effectiveDateTime"))
            or _date((r.get("effectivePeriod") or {}).get("start"))
            or _date(r.get("issued")),
        )


# ---------------------------------------------------------------------------------------------
# helpers


def _text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    text = concept.get("text")
    if isinstance(text, str):
        return text
    return next((c.get("display") for c in concept.get("coding") or [] if c.get("display")), None)


def _status_reason(value: Any) -> str | None:
    """MedicationStatement.statusReason is a list; MedicationRequest.statusReason is one concept."""
    return _first_text(value) if isinstance(value, list) else _text(value)


def _first_text(concepts: Any) -> str | None:
    if isinstance(concepts, list):
        for c in concepts:
            if (text := _text(c)) is not None:
                return text
    return None


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None  # partial dates (YYYY, YYYY-MM) carry no day to compare
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True, slots=True)
class Identity:
    """The ids a message carries, read on a best-effort basis (it may be invalid)."""

    message_id: str | None
    header_id: str | None
    source_endpoint: str | None


def identify(raw: bytes) -> Identity:
    """Best-effort ids of a message that may not be valid; never raises."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return Identity(None, None, None)
    return _identity(data)


def _identity(data: Any) -> Identity:
    message_id = header_id = endpoint = None
    if isinstance(data, Mapping):
        ident = data.get("identifier")
        if isinstance(ident, Mapping) and isinstance(ident.get("value"), str):
            message_id = ident["value"]
        entries = data.get("entry")
        if isinstance(entries, list):
            for e in entries:
                res = e.get("resource") if isinstance(e, Mapping) else None
                if isinstance(res, Mapping) and res.get("resourceType") == "MessageHeader":
                    hid = res.get("id")
                    header_id = hid if isinstance(hid, str) and _FHIR_ID.fullmatch(hid) else None
                    src = res.get("source")
                    if isinstance(src, Mapping) and isinstance(src.get("endpoint"), str):
                        endpoint = src["endpoint"]
                    break
    return Identity(message_id, header_id, endpoint)


def _rejected(issues: Sequence[Issue], data: Any, raw: bytes) -> Rejected:
    known = _identity(data)
    return Rejected(
        issues=tuple(issues),
        message_id=known.message_id,
        header_id=known.header_id,
        source_endpoint=known.source_endpoint,
        digest=hashlib.sha256(raw).hexdigest(),
    )
