"""Inputs that have made ``process`` raise instead of answering with a fatal-error ack."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tcam_bridge.core.process import Outcome
from tests.unit.factories import discharge_bundle, request, to_bytes

Run = Callable[..., Outcome]


def test_huge_integer_literal_is_rejected_not_raised(run: Run) -> None:
    outcome = run(b"1" * 5000)
    assert outcome.response == "fatal-error"


def test_lone_surrogate_in_message_identifier_is_rejected_not_raised(run: Run) -> None:
    # Regression: the identifier used to become the ack's tcam-message-id header (UTF-8 error).
    outcome = run(b'{"resourceType": "Bundle", "identifier": {"value": "\\ud800"}}')
    assert outcome.response == "fatal-error"


def test_lone_surrogate_in_message_header_id_is_rejected_not_raised(run: Run) -> None:
    b = discharge_bundle(timestamp=None)
    header_id = b["entry"][0]["resource"]["id"]
    raw = to_bytes(b).replace(f'"id": "{header_id}"'.encode(), b'"id": "\\udc00"', 1)
    assert raw != to_bytes(b)
    outcome = run(raw)
    assert outcome.response == "fatal-error"
    assert outcome.issues[0].reason == "invalid-unicode"


@pytest.mark.parametrize("resource_type", ["patient", "Patinet", "", None, 5, ["Patient"]])
def test_unknown_resource_type_in_an_entry_is_rejected_not_raised(
    run: Run, resource_type: object
) -> None:
    b = discharge_bundle()
    b["entry"][2]["resource"]["resourceType"] = resource_type
    outcome = run(b)
    assert outcome.response == "fatal-error"
    assert outcome.issues[0].reason == "unknown-resource-type"
    assert outcome.issues[0].expression == "Bundle.entry[2].resource.resourceType"


@pytest.mark.parametrize("endpoint", [7, True, ["https://example.org"], {"url": "x"}])
def test_non_string_url_element_is_rejected_not_raised(run: Run, endpoint: object) -> None:
    b = discharge_bundle()
    b["entry"][0]["resource"]["source"]["endpoint"] = endpoint
    outcome = run(b)
    assert outcome.response == "fatal-error"
    assert outcome.issues[0].reason == "fhir-structure"


def test_medicine_with_null_extension_does_not_crash_the_referral(run: Run) -> None:
    b = discharge_bundle(requests=[request()])
    b["entry"][4]["resource"]["extension"] = None
    outcome = run(b)
    assert outcome.response == "ok"
    assert [r.kind for r in outcome.records] == ["referral", "findings", "ack"]


def test_known_but_misplaced_resource_type_is_rejected(run: Run) -> None:
    b = discharge_bundle()
    b["entry"][2]["resource"] = {"resourceType": "Quantity"}
    assert run(b).response == "fatal-error"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xef\xbb\xbf",
        b"NaN",
        b'{"resourceType": "Bundle", "entry": [1, "x", null]}',
        b'{"resourceType": "Bundle", "entry": {"resource": {}}}',
        b'{"resourceType": "Bundle", "identifier": 7, "entry": [{"resource": '
        b'{"resourceType": "MessageHeader", "id": 12}}]}',
        b'{"resourceType": ["Bundle"]}',
        b'{"resourceType": "Bundle", "type": "message", "entry": [{"resource": '
        b'{"resourceType": "MessageHeader", "id": "' + b"x" * 1000 + b'"}}]}',
    ],
)
def test_odd_inputs_are_rejected_not_raised(run: Run, raw: bytes) -> None:
    outcome = run(raw)
    assert outcome.response == "fatal-error"
    assert [r.kind for r in outcome.records] == ["ack"]
