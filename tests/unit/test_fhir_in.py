"""Reading a discharge message: the example files and one factory-built case per rule."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tcam_bridge.core import terminology as t
from tcam_bridge.core.discharge import ConsentState
from tcam_bridge.core.fhir_in import Accepted, Limits, Rejected, read_discharge
from tcam_bridge.core.issue import Issue, Severity
from tcam_bridge.core.medicine import MedicineSource
from tests.unit.conftest import EXAMPLES, INVALID_EXAMPLES, VALID_EXAMPLES
from tests.unit.factories import (
    APIXABAN_5MG,
    CANONICAL,
    DABIGATRAN_110MG,
    LIMITS,
    OMEPRAZOLE_20MG,
    PATIENT_BIRTH_DATE,
    PATIENT_FAMILY,
    PATIENT_GIVEN,
    RAMIPRIL_5MG,
    VALID_NHS_NUMBER,
    WARFARIN_3MG,
    accepted,
    concept,
    consent,
    discharge_bundle,
    entry,
    medication,
    read,
    rejected,
    request,
    statement,
    to_bytes,
)


def reasons(reading: Rejected) -> list[tuple[str, str]]:
    return [(i.reason, i.expression) for i in reading.issues]


def only_issue(reading: Rejected) -> Issue:
    assert len(reading.issues) == 1, reasons(reading)
    return reading.issues[0]


# --------------------------------------------------------------------------------------------
# Example files


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_every_valid_example_is_accepted(path: Path) -> None:
    reading = read(path.read_bytes())
    assert isinstance(reading, Accepted), reasons(reading)  # type: ignore[arg-type]
    assert all(not i.blocks for i in reading.warnings)
    header = json.loads(path.read_bytes())["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert reading.discharge.header_id == header["id"]


def test_there_are_eleven_valid_examples() -> None:
    assert len(VALID_EXAMPLES) == 11


EXPECTED_REJECTIONS: dict[str, tuple[str, str]] = {
    "bad-date.json": ("fhir-structure", "Bundle.entry[3].resource.period.end"),
    "bad-dmd-code.json": (
        "dmd-code",
        "Bundle.entry[10].resource.medicationCodeableConcept.coding[0].code",
    ),
    "bad-nhs-number.json": (
        "nhs-number-check-digit",
        "Bundle.entry[2].resource.identifier[0].value",
    ),
    "fhir-xml.xml": ("xml-not-supported", "Bundle"),
    "messageheader-not-first.json": ("bdl-12", "Bundle.entry[0].resource"),
    "missing-discharge-date.json": ("discharge-date", "Bundle.entry[3].resource.period.end"),
    "missing-identifier.json": ("message-identifier", "Bundle.identifier"),
    "missing-patient.json": ("patient-missing", "Bundle.entry.resource.ofType(Patient)"),
    "missing-timestamp.json": ("timestamp", "Bundle.timestamp"),
    "nhs-number-not-10-digits.json": (
        "nhs-number-format",
        "Bundle.entry[2].resource.identifier[0].value",
    ),
    "no-medicines.json": ("no-medicines", "Bundle.entry"),
    "not-a-bundle.json": ("not-a-bundle", "Bundle.resourceType"),
    "not-json.txt": ("not-json", "Bundle"),
    "r5-messageheader.json": ("fhir-structure", "Bundle.entry[0].resource.source.endpointUrl"),
    "unknown-element.json": ("fhir-structure", "Bundle.entry[13].resource.dosage"),
    "wrong-bundle-type.json": ("bundle-type", "Bundle.type"),
    "wrong-event-code.json": ("event-code", "Bundle.entry[0].resource.eventCoding"),
}


def test_expected_table_covers_every_invalid_example() -> None:
    assert sorted(EXPECTED_REJECTIONS) == sorted(p.name for p in INVALID_EXAMPLES)


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_every_invalid_example_is_rejected_for_its_one_problem(path: Path) -> None:
    reading = read(path.read_bytes())
    assert isinstance(reading, Rejected)
    assert reasons(reading) == [EXPECTED_REJECTIONS[path.name]]
    assert all(i.blocks for i in reading.issues)


_SENSITIVE_PATTERNS = (
    r'nhs-number",\s*"value":\s*"([^"]+)"',
    r'"family":\s*"([^"]+)"',
    r'"given":\s*\[\s*"([^"]+)"',
    r'"birthDate":\s*"([^"]+)"',
    r'nhs-number"\s*/>\s*<value value="([^"]+)"',
    r'<family value="([^"]+)"',
    r'<given value="([^"]+)"',
    r'<birthDate value="([^"]+)"',
)


def patient_data_in(text: str) -> set[str]:
    return {m for p in _SENSITIVE_PATTERNS for m in re.findall(p, text)}


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_rejection_diagnostics_never_quote_patient_data(path: Path) -> None:
    raw = path.read_bytes()
    secrets = patient_data_in(raw.decode("utf-8"))
    if path.name not in ("missing-patient.json",):
        assert secrets, "the example should contain patient data to check against"
    reading = read(raw)
    assert isinstance(reading, Rejected)
    for issue in reading.issues:
        for secret in secrets:
            assert secret not in issue.diagnostics
            assert secret not in issue.expression


def test_bad_nhs_number_is_not_quoted() -> None:
    reading = read((EXAMPLES / "invalid" / "bad-nhs-number.json").read_bytes())
    assert isinstance(reading, Rejected)
    assert "9990000019" not in " ".join(i.diagnostics for i in reading.issues)


# --------------------------------------------------------------------------------------------
# Correlation id and what a rejection remembers


def test_rejected_correlation_id_is_the_message_header_id_when_readable() -> None:
    b = discharge_bundle(header_id="5a1c7f52-6a3e-4b0e-9d0b-3d9f8a1b2c3d", timestamp=None)
    reading = rejected(b)
    assert reading.correlation_id == "5a1c7f52-6a3e-4b0e-9d0b-3d9f8a1b2c3d"
    assert reading.header_id == "5a1c7f52-6a3e-4b0e-9d0b-3d9f8a1b2c3d"
    assert reading.message_id == b["identifier"]["value"]
    assert reading.source_endpoint == "https://epr.example-trust.nhs.uk/fhir/messaging"


def test_rejected_correlation_id_found_even_when_header_is_not_first() -> None:
    reading = read((EXAMPLES / "invalid" / "messageheader-not-first.json").read_bytes())
    assert isinstance(reading, Rejected)
    assert reading.correlation_id == "2a5779ee-9525-4c89-84ae-3c8e92a05162"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json at all",
        b"<Bundle/>",
        b"[]",
        b'{"resourceType": "Patient"}',
        to_bytes(discharge_bundle(include_header=False)),
        to_bytes(discharge_bundle(header_id=None)),
    ],
    ids=["not-json", "xml", "array", "patient", "no-header", "header-without-id"],
)
def test_rejected_correlation_id_falls_back_to_a_digest(raw: bytes) -> None:
    reading = read(raw)
    assert isinstance(reading, Rejected)
    digest = hashlib.sha256(raw).hexdigest()
    assert reading.digest == digest
    assert reading.correlation_id == f"sha256-{digest[:56]}"
    assert re.fullmatch(r"sha256-[0-9a-f]{56}", reading.correlation_id)


def test_header_id_longer_than_64_characters_is_not_used_as_correlation_id() -> None:
    b = discharge_bundle(timestamp=None)
    b["entry"][0]["resource"]["id"] = "a" * 65
    raw = to_bytes(b)
    reading = read(raw)
    assert isinstance(reading, Rejected)
    assert reading.correlation_id == "sha256-" + hashlib.sha256(raw).hexdigest()[:56]


# --------------------------------------------------------------------------------------------
# 1. transport


def test_message_over_the_size_limit_is_rejected_before_parsing() -> None:
    raw = to_bytes(discharge_bundle())
    reading = read_discharge(raw, canonical=CANONICAL, limits=Limits(max_bytes=len(raw) - 1))
    assert isinstance(reading, Rejected)
    issue = only_issue(reading)
    assert (issue.severity, issue.code, issue.reason) == (
        Severity.FATAL,
        "too-long",
        "message-too-large",
    )
    # a message too large is not parsed, so nothing from inside it is remembered
    assert reading.message_id is None and reading.header_id is None


def test_message_exactly_at_the_size_limit_is_read() -> None:
    raw = to_bytes(discharge_bundle())
    reading = read_discharge(raw, canonical=CANONICAL, limits=Limits(max_bytes=len(raw)))
    assert isinstance(reading, Accepted)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{}",
        json.dumps({"resourceType": "Bundle", "id": "caf\u00e9"}, ensure_ascii=False).encode(
            "latin-1"
        ),
        b'{"a": "\xc3"}',
    ],
    ids=["utf16-bom", "latin1", "truncated-sequence"],
)
def test_bytes_that_are_not_utf8_are_rejected(raw: bytes) -> None:
    issue = only_issue(rejected(raw))
    assert (issue.severity, issue.reason) == (Severity.FATAL, "not-utf8")


def test_utf8_byte_order_mark_is_tolerated() -> None:
    raw = b"\xef\xbb\xbf" + to_bytes(discharge_bundle())
    assert isinstance(read(raw), Accepted)


@pytest.mark.parametrize(
    "raw",
    [b'<?xml version="1.0"?><Bundle xmlns="http://hl7.org/fhir"/>', b"\n  \t<Bundle/>"],
)
def test_xml_is_rejected_as_not_supported(raw: bytes) -> None:
    issue = only_issue(rejected(raw))
    assert (issue.code, issue.reason) == ("not-supported", "xml-not-supported")


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b"42", b'"Bundle"', b"null", b"true"])
def test_json_that_is_not_an_object_is_rejected(raw: bytes) -> None:
    issue = only_issue(rejected(raw))
    assert issue.reason == "not-a-resource"


def test_truncated_json_is_rejected_as_not_json() -> None:
    raw = to_bytes(discharge_bundle())[:-10]
    assert only_issue(rejected(raw)).reason == "not-json"


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000], ids=["arrays", "objects"])
def test_deeply_nested_json_is_rejected_not_crashed(raw: bytes) -> None:
    issue = only_issue(rejected(raw))
    assert issue.reason == "too-deep"


def test_deep_nesting_inside_a_valid_bundle_is_rejected() -> None:
    depth = 600
    raw = (
        b'{"resourceType":"Bundle","meta":{"extension":['
        + b'{"url":"x","extension":[' * depth
        + b'{"url":"x"}'
        + b"]}" * depth
        + b"]}}"
    )
    assert only_issue(rejected(raw)).reason == "too-deep"


# --------------------------------------------------------------------------------------------
# 2. structure


def test_too_many_entries_is_rejected() -> None:
    b = discharge_bundle()
    n = len(b["entry"])
    raw = to_bytes(b)
    reading = read_discharge(raw, canonical=CANONICAL, limits=Limits(max_entries=n - 1))
    assert isinstance(reading, Rejected)
    issue = only_issue(reading)
    assert (issue.code, issue.reason, issue.expression) == (
        "too-costly",
        "too-many-entries",
        "Bundle.entry",
    )
    at_limit = read_discharge(raw, canonical=CANONICAL, limits=Limits(max_entries=n))
    assert isinstance(at_limit, Accepted)


def test_resource_type_other_than_bundle_is_rejected() -> None:
    issue = only_issue(rejected({"resourceType": "Parameters"}))
    assert issue.reason == "not-a-bundle"
    assert "Parameters" in issue.diagnostics


def test_unknown_element_is_a_structure_error_with_its_path() -> None:
    b = discharge_bundle()
    b["entry"][2]["resource"]["favouriteColour"] = "blue"
    assert reasons(rejected(b)) == [("fhir-structure", "Bundle.entry[2].resource.favouriteColour")]


def test_structure_errors_are_capped() -> None:
    b = discharge_bundle(requests=[request() for _ in range(60)])
    for e in b["entry"]:
        if e["resource"]["resourceType"] == "MedicationRequest":
            e["resource"]["bogus"] = 1
    reading = rejected(b)
    assert len(reading.issues) == 50
    assert {i.reason for i in reading.issues} == {"fhir-structure"}


# --------------------------------------------------------------------------------------------
# 3. profile: message envelope


def test_factory_bundle_is_accepted_without_warnings() -> None:
    reading = accepted(discharge_bundle())
    assert reading.warnings == ()
    d = reading.discharge
    assert d.trust_ods == "RR8"
    assert d.trust_name == "Example Teaching Hospitals NHS Trust"
    assert d.patient.nhs_number == VALID_NHS_NUMBER
    assert d.patient.nominated_pharmacy == "FA5T2"
    assert str(d.discharged) == "2026-11-18"
    assert str(d.admitted) == "2026-11-12"
    assert d.consent is ConsentState.GIVEN
    assert d.referral_requested is False


def test_duplicate_full_url_is_rejected_at_the_second_entry() -> None:
    b = discharge_bundle(requests=[request(), request(RAMIPRIL_5MG)])
    b["entry"][5]["fullUrl"] = b["entry"][4]["fullUrl"]
    assert reasons(rejected(b)) == [("duplicate-fullurl", "Bundle.entry[5].fullUrl")]


def test_entry_without_full_url_is_rejected() -> None:
    b = discharge_bundle(requests=[request(full_url=None)])
    assert reasons(rejected(b)) == [("fullurl", "Bundle.entry[4].fullUrl")]


def test_message_header_missing() -> None:
    assert reasons(rejected(discharge_bundle(include_header=False))) == [
        ("messageheader-missing", "Bundle.entry[0].resource")
    ]


def test_message_header_without_id() -> None:
    assert reasons(rejected(discharge_bundle(header_id=None))) == [
        ("messageheader-id", "Bundle.entry[0].resource.id")
    ]


def test_message_header_not_first() -> None:
    b = discharge_bundle()
    b["entry"].append(b["entry"].pop(0))
    last = len(b["entry"]) - 1
    issue = only_issue(rejected(b))
    assert (issue.reason, issue.expression) == ("bdl-12", "Bundle.entry[0].resource")
    assert f"entry {last}" in issue.diagnostics


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CANONICAL.message_event, "admission-notification"),
        ("https://example.org/other-events", t.DISCHARGE_EVENT_CODE),
    ],
)
def test_wrong_event_coding(system: str, code: str) -> None:
    b = discharge_bundle(event_system=system, event_code=code)
    assert reasons(rejected(b)) == [("event-code", "Bundle.entry[0].resource.eventCoding")]


def test_event_system_follows_the_configured_canonical_base() -> None:
    other = t.Canonical("https://fhir.example.org")
    b = discharge_bundle(event_system=other.message_event)
    assert isinstance(read_discharge(to_bytes(b), canonical=other, limits=LIMITS), Accepted)
    assert reasons(rejected(b))[0][0] == "event-code"


def test_bundle_of_type_collection_is_rejected() -> None:
    assert reasons(rejected(discharge_bundle(bundle_type="collection"))) == [
        ("bundle-type", "Bundle.type")
    ]


def test_missing_message_identifier_and_timestamp_are_both_reported() -> None:
    b = discharge_bundle(message_id=None, timestamp=None)
    assert reasons(rejected(b)) == [
        ("message-identifier", "Bundle.identifier"),
        ("timestamp", "Bundle.timestamp"),
    ]


def test_several_profile_problems_are_reported_together() -> None:
    b = discharge_bundle(header_id=None, nhs_number="9434765918", discharge_date=None)
    got = {r for r, _ in reasons(rejected(b))}
    assert got == {"messageheader-id", "nhs-number-check-digit", "discharge-date"}


# --------------------------------------------------------------------------------------------
# 3. profile: patient, trust, encounter


def test_two_patients_are_rejected_at_the_second() -> None:
    b = discharge_bundle()
    second = json.loads(json.dumps(b["entry"][2]))
    second["fullUrl"] = "urn:uuid:8d6f3b7e-1111-4c7e-9a1d-6f0e2c9b4a10"
    second["resource"]["id"] = "8d6f3b7e-1111-4c7e-9a1d-6f0e2c9b4a10"
    b["entry"].append(second)
    last = len(b["entry"]) - 1
    assert reasons(rejected(b)) == [("patient-multiple", f"Bundle.entry[{last}].resource")]


def test_missing_patient() -> None:
    assert reasons(rejected(discharge_bundle(include_patient=False))) == [
        ("patient-missing", "Bundle.entry.resource.ofType(Patient)")
    ]


def test_missing_nhs_number() -> None:
    assert reasons(rejected(discharge_bundle(nhs_number=None))) == [
        ("nhs-number-missing", "Bundle.entry[2].resource.identifier")
    ]


def test_nhs_number_under_another_system_does_not_count() -> None:
    b = discharge_bundle()
    b["entry"][2]["resource"]["identifier"][0]["system"] = "https://example.org/mrn"
    assert reasons(rejected(b))[0][0] == "nhs-number-missing"


@pytest.mark.parametrize(
    ("nhs", "reason"),
    [
        ("943 476 5919", "nhs-number-format"),
        ("943476591", "nhs-number-format"),
        ("94347659190", "nhs-number-format"),
        ("943476591X", "nhs-number-format"),
        ("9434765918", "nhs-number-check-digit"),
        ("1234567890", "nhs-number-check-digit"),
    ],
)
def test_nhs_number_format_and_check_digit(nhs: str, reason: str) -> None:
    reading = rejected(discharge_bundle(nhs_number=nhs))
    assert reasons(reading) == [(reason, "Bundle.entry[2].resource.identifier[0].value")]
    assert nhs not in reading.issues[0].diagnostics


def test_nhs_number_found_in_a_later_identifier() -> None:
    b = discharge_bundle()
    ids = b["entry"][2]["resource"]["identifier"]
    ids.insert(0, {"system": "https://example.org/mrn", "value": "MRN123"})
    assert accepted(b).discharge.patient.nhs_number == VALID_NHS_NUMBER


def test_sender_without_ods_code_is_rejected() -> None:
    assert reasons(rejected(discharge_bundle(trust_ods=None))) == [
        ("sender-ods", "Bundle.entry[0].resource.sender")
    ]


def test_sender_identified_by_logical_reference_is_enough() -> None:
    b = discharge_bundle(trust_ods=None)
    b["entry"][0]["resource"]["sender"] = {
        "identifier": {"system": t.ODS_ORGANIZATION, "value": "RX1"},
        "display": "Example Hospitals",
    }
    d = accepted(b).discharge
    assert (d.trust_ods, d.trust_name) == ("RX1", "Example Hospitals")


def test_trust_falls_back_to_encounter_service_provider() -> None:
    b = discharge_bundle()
    del b["entry"][0]["resource"]["sender"]
    assert accepted(b).discharge.trust_ods == "RR8"


def test_missing_discharge_date() -> None:
    assert reasons(rejected(discharge_bundle(discharge_date=None))) == [
        ("discharge-date", "Bundle.entry[3].resource.period.end")
    ]


def test_missing_encounter() -> None:
    b = discharge_bundle()
    del b["entry"][3]
    del b["entry"][0]["resource"]["focus"]
    assert ("encounter-missing", "Bundle.entry.resource.ofType(Encounter)") in reasons(rejected(b))


@pytest.mark.parametrize(
    ("system", "expected"),
    [(t.ODS_ORGANIZATION, "FA5T2"), (None, "FA5T2"), ("https://example.org/other", "?FA5T2")],
)
def test_nominated_pharmacy_is_read_and_marked_when_not_an_ods_code(
    system: str | None, expected: str
) -> None:
    patient = accepted(discharge_bundle(pharmacy_system=system)).discharge.patient
    assert patient.nominated_pharmacy == expected
    assert patient.nominated_pharmacy_path == (
        "Bundle.entry[2].resource.extension[0].valueReference.identifier.value"
    )


def test_no_nominated_pharmacy_is_not_a_rejection() -> None:
    patient = accepted(discharge_bundle(pharmacy=None)).discharge.patient
    assert patient.nominated_pharmacy is None


def test_malformed_pharmacy_code_is_not_a_rejection() -> None:
    assert accepted(discharge_bundle(pharmacy="fa5t2")).discharge.patient.nominated_pharmacy == (
        "fa5t2"
    )


# --------------------------------------------------------------------------------------------
# 3. profile: consent and service request


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("active", ConsentState.GIVEN),
        ("rejected", ConsentState.DECLINED),
        ("proposed", ConsentState.NOT_RECORDED),
        (None, ConsentState.NOT_RECORDED),
    ],
)
def test_consent_state(status: str | None, state: ConsentState) -> None:
    assert discharge_state(consent_status=status) is state


def discharge_state(**kwargs: object) -> ConsentState:
    return accepted(discharge_bundle(**kwargs)).discharge.consent  # type: ignore[arg-type]


def test_refusal_wins_over_an_active_consent() -> None:
    assert discharge_state(consent_status="active", extra_entries=[consent("rejected")]) is (
        ConsentState.DECLINED
    )


def test_consent_with_another_category_is_ignored() -> None:
    other = consent("rejected", category="research")
    assert discharge_state(consent_status="active", extra_entries=[other]) is ConsentState.GIVEN


def test_service_request_performer_is_read() -> None:
    d = accepted(discharge_bundle(service_request_ods="FJ4W1")).discharge
    assert d.referral_requested is True
    assert d.requested_pharmacy == "FJ4W1"
    assert d.requested_pharmacy_path is not None
    assert d.requested_pharmacy_path.endswith(".performer[0]")


def test_service_request_without_performer_still_requests_a_referral() -> None:
    d = accepted(discharge_bundle(service_request_ods=None)).discharge
    assert (d.referral_requested, d.requested_pharmacy) == (True, None)


def test_revoked_service_request_is_ignored() -> None:
    b = discharge_bundle(service_request_ods="FJ4W1")
    b["entry"][-1]["resource"]["status"] = "revoked"
    d = accepted(b).discharge
    assert (d.referral_requested, d.requested_pharmacy) == (False, None)


# --------------------------------------------------------------------------------------------
# 3. profile: medicines


def test_medicines_are_read_with_source_code_and_dosage() -> None:
    b = discharge_bundle(
        requests=[request(DABIGATRAN_110MG, dose=1, frequency=2, unit="capsule")],
        statements=[statement(WARFARIN_3MG, dose=3, unit="mg")],
    )
    d = accepted(b).discharge
    (after,) = d.on_discharge
    (before,) = d.before_admission
    assert after.source is MedicineSource.DISCHARGE
    assert before.source is MedicineSource.PRE_ADMISSION
    assert after.code is not None and after.code.code == "13532811000001109"
    assert after.name == "Dabigatran etexilate 110mg capsules"
    assert after.dosage[0].frequency == 2
    assert before.code is not None and before.code.code == "319734006"
    assert str(before.dosage[0].dose_value) == "3"
    assert after.ref == b["entry"][5]["fullUrl"]


def test_snomed_system_is_accepted_as_dm_d() -> None:
    d = accepted(discharge_bundle(requests=[request(APIXABAN_5MG, system=t.SNOMED)])).discharge
    code = d.on_discharge[0].code
    assert code is not None
    assert (code.code, code.system) == ("703908001", t.SNOMED)


def test_invalid_dm_d_code_is_rejected() -> None:
    b = discharge_bundle(requests=[request(("WARF3MG", "Warfarin 3mg tablets"))])
    assert reasons(rejected(b)) == [
        ("dmd-code", "Bundle.entry[4].resource.medicationCodeableConcept.coding[0].code")
    ]


def test_dm_d_code_with_bad_check_digit_is_rejected() -> None:
    b = discharge_bundle(requests=[request(("319734007", "Warfarin 3mg tablets"))])
    assert reasons(rejected(b))[0][0] == "dmd-code"


def test_non_dm_d_coding_system_gives_a_warning_not_a_rejection() -> None:
    med = concept(("W3", "Warfarin 3mg tablets"), system="https://example.org/local-formulary")
    reading = accepted(discharge_bundle(requests=[request(med)]))
    assert [(i.severity, i.reason, i.expression) for i in reading.warnings] == [
        (
            Severity.WARNING,
            "medication-code-system",
            "Bundle.entry[4].resource.medicationCodeableConcept.coding[0].system",
        )
    ]
    m = reading.discharge.on_discharge[0]
    assert m.code is None
    assert m.name == "Warfarin 3mg tablets"


def test_non_dm_d_coding_display_is_used_when_there_is_no_text() -> None:
    med = concept(("W3", "Warfarin 3mg tablets"), system="https://example.org/x", text=None)
    m = accepted(discharge_bundle(requests=[request(med)])).discharge.on_discharge[0]
    assert m.name == "Warfarin 3mg tablets"


def test_text_only_medicine_is_kept() -> None:
    med = concept(None, text="Sodium bicarbonate 500mg capsules (unlicensed special)")
    m = accepted(discharge_bundle(requests=[request(med)])).discharge.on_discharge[0]
    assert m.code is None
    assert m.name.startswith("Sodium bicarbonate")


@pytest.mark.parametrize(
    "med",
    [{}, {"coding": [{"system": "https://example.org/x", "code": "X1"}]}],
    ids=["empty", "undisplayed-local-code"],
)
def test_medicine_with_no_name_is_rejected(med: dict[str, object]) -> None:
    reading = rejected(discharge_bundle(requests=[request(med)]))
    assert reasons(reading) == [
        ("medicine-missing-name", "Bundle.entry[4].resource.medicationCodeableConcept")
    ]


def test_medication_reference_unresolved_is_rejected() -> None:
    b = discharge_bundle(requests=[request(medication_reference="urn:uuid:does-not-exist")])
    assert reasons(rejected(b)) == [
        ("medication-reference", "Bundle.entry[4].resource.medicationReference")
    ]


def test_medication_reference_to_a_non_medication_is_rejected() -> None:
    b = discharge_bundle()
    patient_url = b["entry"][2]["fullUrl"]
    b = discharge_bundle(requests=[request(medication_reference=patient_url)])
    assert reasons(rejected(b))[0][0] == "medication-reference"


def test_medication_reference_resolved_to_a_medication_entry() -> None:
    med = medication(APIXABAN_5MG)
    b = discharge_bundle(
        requests=[request(medication_reference=med["fullUrl"])], extra_entries=[med]
    )
    m = accepted(b).discharge.on_discharge[0]
    assert m.code is not None and m.code.code == "703908001"
    assert m.name == "Apixaban 5mg tablets"


def test_medication_reference_by_type_and_id_resolves() -> None:
    med = medication(APIXABAN_5MG)
    ref = f"Medication/{med['resource']['id']}"
    b = discharge_bundle(requests=[request(medication_reference=ref)], extra_entries=[med])
    assert accepted(b).discharge.on_discharge[0].name == "Apixaban 5mg tablets"


def test_bad_code_in_a_referenced_medication_points_at_the_medication() -> None:
    med = medication(("NOTACODE", "Apixaban"))
    b = discharge_bundle(
        requests=[request(medication_reference=med["fullUrl"])], extra_entries=[med]
    )
    last = len(b["entry"]) - 1
    assert reasons(rejected(b)) == [
        ("dmd-code", f"Bundle.entry[{last}].resource.code.coding[0].code")
    ]


def test_medication_request_without_discharge_category_gives_a_warning() -> None:
    reading = accepted(discharge_bundle(requests=[request(category=None)]))
    assert [(i.reason, i.expression) for i in reading.warnings] == [
        ("medicationrequest-category", "Bundle.entry[4].resource.category")
    ]
    assert reading.discharge.on_discharge[0].source is MedicineSource.DISCHARGE


def test_medication_request_with_another_category_gives_a_warning() -> None:
    reading = accepted(discharge_bundle(requests=[request(category="inpatient")]))
    assert [i.reason for i in reading.warnings] == ["medicationrequest-category"]


def test_no_medicines_is_rejected() -> None:
    b = discharge_bundle(requests=[])
    assert reasons(rejected(b)) == [("no-medicines", "Bundle.entry")]


def test_only_statements_is_enough() -> None:
    d = accepted(discharge_bundle(requests=[], statements=[statement()])).discharge
    assert len(d.before_admission) == 1 and d.on_discharge == ()


def test_entered_in_error_medicines_are_ignored() -> None:
    b = discharge_bundle(
        requests=[request(OMEPRAZOLE_20MG), request(WARFARIN_3MG, status="entered-in-error")]
    )
    assert [m.name for m in accepted(b).discharge.medicines] == [OMEPRAZOLE_20MG[1]]
    only_error = discharge_bundle(requests=[request(WARFARIN_3MG, status="entered-in-error")])
    assert reasons(rejected(only_error)) == [("no-medicines", "Bundle.entry")]


def test_change_summary_extension_is_read() -> None:
    from tests.unit.factories import change_extension

    ext = change_extension("amended", reason="Up-titration", details="2.5mg to 5mg")
    m = accepted(discharge_bundle(requests=[request(change=ext)])).discharge.on_discharge[0]
    assert m.explicit_change is not None
    assert (m.explicit_change.status, m.explicit_change.reason, m.explicit_change.details) == (
        "amended",
        "Up-titration",
        "2.5mg to 5mg",
    )


def test_resources_are_kept_by_full_url() -> None:
    b = discharge_bundle()
    d = accepted(b).discharge
    assert list(d.resources) == [e["fullUrl"] for e in b["entry"]]
    assert d.resources[b["entry"][2]["fullUrl"]]["resourceType"] == "Patient"


# --------------------------------------------------------------------------------------------
# privacy of factory-built rejections


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nhs_number": "9434765918"},
        {"nhs_number": "943476591"},
        {"trust_ods": None},
        {"discharge_date": None},
        {"requests": []},
        {"header_id": None},
        {"birth_date": "1941-13-45"},
    ],
)
def test_factory_rejections_never_quote_patient_data(kwargs: dict[str, object]) -> None:
    b = discharge_bundle(**kwargs)  # type: ignore[arg-type]
    nhs = b["entry"][2]["resource"]["identifier"][0]["value"]
    reading = rejected(b)
    text = " ".join(f"{i.diagnostics} {i.expression}" for i in reading.issues)
    for secret in (nhs, VALID_NHS_NUMBER, PATIENT_FAMILY, PATIENT_GIVEN, PATIENT_BIRTH_DATE):
        assert secret not in text
    assert "1941-13-45" not in text


def test_unrelated_resource_types_do_not_disturb_the_reading() -> None:
    extra = entry({"resourceType": "Basic", "code": {"text": "note"}})
    assert isinstance(read(discharge_bundle(extra_entries=[extra])), Accepted)
