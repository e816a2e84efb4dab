"""End-to-end core output on the examples: records are valid FHIR R4 and carry the right ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue

from tcam_bridge.core import terminology as t
from tcam_bridge.core.fhir_in import Limits
from tcam_bridge.core.process import CoreConfig, Outcome, Record
from tcam_bridge.core.referral import ReferralStatus
from tcam_bridge.rules import default_rules
from tests.unit.conftest import EXAMPLES, INVALID_EXAMPLES, NOW, VALID_EXAMPLES
from tests.unit.factories import CANONICAL, discharge_bundle, request, to_bytes

Run = Callable[..., Outcome]

EXPECTED_STATUS = {
    "01-warfarin-stopped-dabigatran-started.json": ("routed", "FA5T2"),
    "02-new-inhalers-seretide-tiotropium.json": ("routed", "FQ184"),
    "03-ramipril-dose-increased.json": ("routed", "FHM73"),
    "04-consent-declined.json": ("not-referred", None),
    "05-consent-not-recorded.json": ("unrouted", "FL7R3"),
    "06-servicerequest-chosen-pharmacy.json": ("routed", "FJ4W1"),
    "07-no-nominated-pharmacy.json": ("unrouted", None),
    "08-locum-code-ffff.json": ("unrouted", None),
    "09-snomed-system-and-text-only.json": ("routed", "FT6N9"),
    "10-two-anticoagulants-on-discharge.json": ("routed", "FR2L5"),
    "11-no-changes-not-referred.json": ("not-referred", None),
}


def by_kind(outcome: Outcome, kind: str) -> list[Record]:
    return [r for r in outcome.records if r.kind == kind]


def value(outcome: Outcome, kind: str) -> dict[str, Any]:
    (record,) = by_kind(outcome, kind)
    return json.loads(record.value)  # type: ignore[no-any-return]


def header_of(bundle: dict[str, Any]) -> dict[str, Any]:
    return bundle["entry"][0]["resource"]  # type: ignore[no-any-return]


def patient_details(raw: bytes) -> tuple[str, list[str], str]:
    """NHS number, names and birth date of the patient in an example."""
    data = json.loads(raw)
    (patient,) = [
        e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    nhs = next(i["value"] for i in patient["identifier"] if i["system"] == t.NHS_NUMBER)
    names = [n for hn in patient["name"] for n in [hn["family"], *hn.get("given", [])]]
    return nhs, names, patient["birthDate"]


def test_expected_table_covers_every_valid_example() -> None:
    assert sorted(EXPECTED_STATUS) == [p.name for p in VALID_EXAMPLES]


# --------------------------------------------------------------------------------------------
# valid examples


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_valid_example_outcome_and_record_set(path: Path, run: Run) -> None:
    outcome = run(path.read_bytes())
    assert outcome.response == "ok"
    assert outcome.dead_letter is None
    assert outcome.decision is not None
    status, pharmacy = EXPECTED_STATUS[path.name]
    assert (outcome.decision.status.value, outcome.decision.pharmacy_ods) == (status, pharmacy)
    kinds = [r.kind for r in outcome.records]
    if status == "not-referred":
        assert kinds == ["findings", "ack"]
        assert outcome.referral_id is None
    else:
        assert kinds == ["referral", "findings", "ack"]  # the ack goes last
        assert outcome.referral_id is not None


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_ack_is_a_valid_fhir_response_to_the_input_header(path: Path, run: Run) -> None:
    raw = path.read_bytes()
    outcome = run(raw)
    ack = value(outcome, "ack")
    Bundle.model_validate(ack)
    header = header_of(ack)
    assert header["resourceType"] == "MessageHeader"
    input_header = json.loads(raw)["entry"][0]["resource"]
    assert header["response"]["identifier"] == input_header["id"]
    assert header["response"]["code"] == "ok"
    assert header["destination"] == [{"endpoint": input_header["source"]["endpoint"]}]
    assert ack["timestamp"] == "2026-11-18T15:00:00+00:00"
    oo = ack["entry"][1]["resource"]
    assert header["response"]["details"]["reference"] == ack["entry"][1]["fullUrl"]
    assert oo["resourceType"] == "OperationOutcome"
    summary = oo["issue"][-1]
    assert summary["severity"] == "information"
    assert summary["details"]["coding"][0]["code"] == f"referral-{outcome.decision.status.value}"  # type: ignore[union-attr]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_findings_event_and_each_detected_issue_are_valid(path: Path, run: Run) -> None:
    outcome = run(path.read_bytes())
    event = value(outcome, "findings")
    assert event["schema"] == "tcam.safety.findings.v1"
    assert event["message_id"] == outcome.message_id
    assert event["message_header_id"] == outcome.correlation_id
    assert event["referral_id"] == outcome.referral_id
    assert event["referral_status"] == outcome.decision.status.value  # type: ignore[union-attr]
    assert event["evaluated_at"] == "2026-11-18T15:00:00+00:00"
    assert [r["id"] for r in event["rules"]] == [r.meta.id for r in default_rules()]
    assert outcome.evaluation is not None
    assert len(event["findings"]) == len(outcome.evaluation.findings)
    for finding in event["findings"]:
        issue = DetectedIssue.model_validate(finding["detected_issue"])
        assert issue.severity == finding["severity"]
        assert finding["detected_issue"]["patient"]["reference"] == outcome.discharge.patient.ref  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "path",
    [p for p in VALID_EXAMPLES if EXPECTED_STATUS[p.name][0] != "not-referred"],
    ids=lambda p: p.name,
)
def test_referral_is_a_valid_fhir_message(path: Path, run: Run) -> None:
    outcome = run(path.read_bytes())
    referral = value(outcome, "referral")
    Bundle.model_validate(referral)
    assert referral["type"] == "message"
    header = header_of(referral)
    assert header["resourceType"] == "MessageHeader"
    assert header["eventCoding"]["code"] == "servicerequest-request"
    assert header["eventCoding"]["system"] == t.BARS_MESSAGE_EVENTS
    resources = [e["resource"] for e in referral["entry"]]
    (sr,) = [r for r in resources if r["id"] == outcome.referral_id]
    assert sr["resourceType"] == "ServiceRequest"
    (task,) = [r for r in resources if r["resourceType"] == "Task"]
    assert sr["id"] == outcome.referral_id
    assert header["focus"] == [{"reference": f"urn:uuid:{outcome.referral_id}"}]
    assert task["focus"] == {"reference": f"urn:uuid:{outcome.referral_id}"}
    assert task["restriction"]["period"]["end"] == (NOW + timedelta(hours=72)).isoformat()
    assert task["restriction"]["period"]["end"] == "2026-11-21T15:00:00+00:00"
    full_urls = [e["fullUrl"] for e in referral["entry"]]
    assert len(full_urls) == len(set(full_urls))
    # no input MessageHeader copied in: only ours
    assert sum(r["resourceType"] == "MessageHeader" for r in resources) == 1


@pytest.mark.parametrize(
    "path",
    [p for p in VALID_EXAMPLES if EXPECTED_STATUS[p.name][0] == "routed"],
    ids=lambda p: p.name,
)
def test_routed_referral_task_is_requested_and_owned_by_the_pharmacy(path: Path, run: Run) -> None:
    outcome = run(path.read_bytes())
    referral = value(outcome, "referral")
    resources = [e["resource"] for e in referral["entry"]]
    (sr,) = [r for r in resources if r["id"] == outcome.referral_id]
    assert sr["resourceType"] == "ServiceRequest"
    (task,) = [r for r in resources if r["resourceType"] == "Task"]
    ods = EXPECTED_STATUS[path.name][1]
    assert task["status"] == "requested"
    assert sr["status"] == "active"
    assert task["owner"]["identifier"]["value"] == ods
    assert sr["performer"][0]["identifier"]["value"] == ods
    assert by_kind(outcome, "referral")[0].topic == f"tcam.pharmacy.{ods}.referrals.v1"


@pytest.mark.parametrize(
    "path",
    [p for p in VALID_EXAMPLES if EXPECTED_STATUS[p.name][0] == "unrouted"],
    ids=lambda p: p.name,
)
def test_unrouted_referral_is_a_draft_with_the_reasons(path: Path, run: Run) -> None:
    outcome = run(path.read_bytes())
    referral = value(outcome, "referral")
    resources = [e["resource"] for e in referral["entry"]]
    (sr,) = [r for r in resources if r["id"] == outcome.referral_id]
    assert sr["resourceType"] == "ServiceRequest"
    (task,) = [r for r in resources if r["resourceType"] == "Task"]
    assert task["status"] == "draft" and sr["status"] == "draft"
    held = [c["code"] for c in task["statusReason"]["coding"]]
    assert held == [r.code for r in outcome.decision.held_because]  # type: ignore[union-attr]
    assert by_kind(outcome, "referral")[0].topic == "tcam.referrals.unrouted.v1"


@pytest.mark.parametrize(
    "path",
    [p for p in VALID_EXAMPLES if EXPECTED_STATUS[p.name][0] != "not-referred"],
    ids=lambda p: p.name,
)
def test_every_medicine_in_the_referral_carries_the_change_extension(path: Path, run: Run) -> None:
    outcome = run(path.read_bytes())
    referral = value(outcome, "referral")
    expected = {c.medicine.ref: c for c in outcome.changes}
    seen = set()
    for e in referral["entry"]:
        res = e["resource"]
        if res["resourceType"] not in ("MedicationRequest", "MedicationStatement"):
            continue
        exts = [x for x in res.get("extension", []) if x["url"] == CANONICAL.change_extension]
        if e["fullUrl"] not in expected:
            continue  # the paired statement: its change is on the discharge item
        assert len(exts) == 1, e["fullUrl"]
        parts = {p["url"]: p for p in exts[0]["extension"]}
        change = expected[e["fullUrl"]]
        assert parts["change"]["valueCode"] == change.kind.value
        assert parts["inferred"]["valueBoolean"] is (not change.explicit)
        seen.add(e["fullUrl"])
    assert seen == set(expected)


def test_processing_does_not_modify_the_input_resources(run: Run) -> None:
    raw = (EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes()
    outcome = run(raw)
    assert outcome.discharge is not None
    for resource in outcome.discharge.resources.values():
        urls = [x.get("url") for x in resource.get("extension", [])]
        assert CANONICAL.change_extension not in urls
    again = run(raw)
    referral = value(again, "referral")
    for e in referral["entry"]:
        urls = [x["url"] for x in e["resource"].get("extension", [])]
        assert urls.count(CANONICAL.change_extension) <= 1


# --------------------------------------------------------------------------------------------
# ids


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_record_ids_are_deterministic_across_runs_at_different_times(path: Path, run: Run) -> None:
    raw = path.read_bytes()
    first = run(raw)
    later = run(raw, now=NOW + timedelta(days=3, minutes=7))
    assert first.referral_id == later.referral_id
    assert value(first, "ack")["id"] == value(later, "ack")["id"]
    assert value(first, "findings")["event_id"] == value(later, "findings")["event_id"]
    if first.referral_id is not None:
        assert value(first, "referral")["id"] == value(later, "referral")["id"]
    assert value(first, "ack")["timestamp"] != value(later, "ack")["timestamp"]


def test_different_messages_get_different_ids(run: Run) -> None:
    a = run(discharge_bundle(requests=[request()]))
    b = run(discharge_bundle(requests=[request()]))
    assert a.referral_id is not None and b.referral_id is not None
    assert a.referral_id != b.referral_id
    assert value(a, "ack")["id"] != value(b, "ack")["id"]


def test_ids_within_one_outcome_are_distinct(run: Run) -> None:
    outcome = run((EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes())
    ids = [
        outcome.referral_id,
        value(outcome, "ack")["id"],
        value(outcome, "findings")["event_id"],
        value(outcome, "referral")["id"],
        header_of(value(outcome, "ack"))["id"],
        header_of(value(outcome, "referral"))["id"],
    ]
    assert len(set(ids)) == len(ids)


# --------------------------------------------------------------------------------------------
# privacy of keys, headers and acks


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_keys_and_headers_never_carry_name_or_birth_date(path: Path, run: Run) -> None:
    raw = path.read_bytes()
    nhs, names, birth_date = patient_details(raw)
    outcome = run(raw, key=nhs.encode())
    for record in outcome.records:
        texts = [record.key or b"", *(v for _, v in record.headers)]
        for text in texts:
            for secret in [*names, birth_date]:
                assert secret.encode() not in text
        for _, header_value in record.headers:
            assert nhs.encode() not in header_value
    (findings,) = by_kind(outcome, "findings")
    assert findings.key == outcome.message_id.encode()  # type: ignore[union-attr]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_ack_never_carries_patient_data(path: Path, run: Run) -> None:
    raw = path.read_bytes()
    nhs, names, birth_date = patient_details(raw)
    (ack,) = by_kind(run(raw), "ack")
    for secret in [nhs, *names, birth_date]:
        assert secret.encode() not in ack.value


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_rejected_example_gives_a_fatal_error_ack_and_a_dead_letter(path: Path, run: Run) -> None:
    raw = path.read_bytes()
    outcome = run(raw)
    assert outcome.response == "fatal-error"
    assert [r.kind for r in outcome.records] == ["ack"]
    ack = value(outcome, "ack")
    Bundle.model_validate(ack)
    header = header_of(ack)
    assert header["response"] == {
        "identifier": outcome.correlation_id,
        "code": "fatal-error",
        "details": {"reference": ack["entry"][1]["fullUrl"]},
    }
    assert outcome.dead_letter is not None
    assert outcome.dead_letter.error_class == "validation"
    for issue in outcome.issues:
        assert f"{issue.reason} at {issue.expression}" in outcome.dead_letter.reason


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in INVALID_EXAMPLES
        if p.suffix == ".json" and p.name not in ("not-a-bundle.json", "missing-patient.json")
    ],
    ids=lambda p: p.name,
)
def test_dead_letter_reason_and_ack_never_carry_patient_data(path: Path, run: Run) -> None:
    raw = path.read_bytes()
    nhs, names, birth_date = patient_details(raw)
    outcome = run(raw, key=nhs.encode())
    assert outcome.dead_letter is not None
    (ack,) = by_kind(outcome, "ack")
    for secret in [nhs, *names, birth_date]:
        assert secret not in outcome.dead_letter.reason
        assert secret.encode() not in ack.value
        for _, v in ack.headers:
            assert secret.encode() not in v


def test_bad_nhs_number_is_not_in_the_dead_letter_reason(run: Run) -> None:
    outcome = run((EXAMPLES / "invalid" / "bad-nhs-number.json").read_bytes())
    assert outcome.dead_letter is not None
    assert "9990000019" not in outcome.dead_letter.reason
    assert outcome.dead_letter.reason == (
        "nhs-number-check-digit at Bundle.entry[2].resource.identifier[0].value"
    )


def test_too_large_message_is_dead_lettered_as_too_large(run: Run, config: CoreConfig) -> None:
    import dataclasses

    small = dataclasses.replace(config, limits=Limits(max_bytes=100))
    outcome = run(to_bytes(discharge_bundle()), config=small)
    assert outcome.dead_letter is not None
    assert outcome.dead_letter.error_class == "too-large"
    assert outcome.dead_letter.reason == "message-too-large at Bundle"


def test_rejected_ack_answers_the_input_header_and_goes_to_the_sender(run: Run) -> None:
    b = discharge_bundle(timestamp=None)
    outcome = run(b)
    ack = value(outcome, "ack")
    header = header_of(ack)
    assert header["response"]["identifier"] == b["entry"][0]["resource"]["id"]
    assert header["destination"] == [{"endpoint": b["entry"][0]["resource"]["source"]["endpoint"]}]
    (record,) = outcome.records
    # a rejection is keyed by the bytes: a corrected re-send under the same id gets a new ack
    digest = hashlib.sha256(to_bytes(b)).hexdigest()
    assert dict(record.headers)["tcam-message-id"] == f"sha256:{digest}".encode()
    assert dict(record.headers)["tcam-correlation-id"] == outcome.correlation_id.encode()
    assert outcome.message_id == b["identifier"]["value"]


def test_rejected_ack_for_unreadable_bytes_answers_the_digest(run: Run) -> None:
    outcome = run(b"\x00\x01 not a message")
    header = header_of(value(outcome, "ack"))
    assert header["response"]["identifier"] == outcome.correlation_id
    assert outcome.correlation_id.startswith("sha256-")
    assert "destination" not in header
    (record,) = outcome.records
    assert dict(record.headers)["tcam-message-id"].startswith(b"sha256:")


def test_record_headers_name_the_kind_and_content_type(run: Run) -> None:
    outcome = run((EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes())
    for record in outcome.records:
        headers = dict(record.headers)
        assert headers["tcam-kind"] == record.kind.encode()
        expected = b"application/json" if record.kind == "findings" else b"application/fhir+json"
        assert headers["content-type"] == expected
    (referral,) = by_kind(outcome, "referral")
    assert dict(referral.headers)["tcam-referral-id"] == outcome.referral_id.encode()  # type: ignore[union-attr]
    assert outcome.decision is not None
    assert outcome.decision.status is ReferralStatus.ROUTED


@pytest.mark.parametrize("path", VALID_EXAMPLES + INVALID_EXAMPLES, ids=lambda p: p.name)
def test_output_bytes_are_what_the_standard_library_would_write(
    run: Callable[..., Outcome], path: Path
) -> None:
    """``dumps`` uses pydantic-core's encoder for speed; the bytes must be the standard
    library's compact UTF-8 form, so consumers and snapshots see no difference."""
    from tcam_bridge.core.process import dumps

    for record in run(path.read_bytes()).records:
        value = json.loads(record.value)
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        assert record.value == expected
        assert dumps(value) == expected


def test_dumps_leaves_what_it_cannot_encode_to_the_standard_library() -> None:
    from tcam_bridge.core.process import dumps

    assert (
        dumps({"a": "\u00e9", "b": [1, 2.5, None, True]})
        == '{"a":"é","b":[1,2.5,null,true]}'.encode()
    )
    with pytest.raises(TypeError, match="not JSON serializable"):  # json.dumps's own error
        dumps({"y": object()})
