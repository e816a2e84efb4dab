"""Inputs that have made ``process`` raise instead of answering with a fatal-error ack."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tcam_bridge.core.process import Outcome
from tests.unit.factories import discharge_bundle, to_bytes

Run = Callable[..., Outcome]


@pytest.mark.xfail(
    strict=True,
    reason="BUG: json.loads raises ValueError (not JSONDecodeError) for an integer literal of "
    "more than 4300 digits (CPython int max_str_digits); fhir_in._decode only catches "
    "JSONDecodeError and RecursionError, so a 5 kB message makes process() raise.",
)
def test_huge_integer_literal_is_rejected_not_raised(run: Run) -> None:
    outcome = run(b"1" * 5000)
    assert outcome.response == "fatal-error"


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a JSON escape for a lone surrogate (\\ud800) in Bundle.identifier.value is "
    "kept as the message id of the rejection and then encoded to UTF-8 for the ack's "
    "tcam-message-id header, raising UnicodeEncodeError in process().",
)
def test_lone_surrogate_in_message_identifier_is_rejected_not_raised(run: Run) -> None:
    outcome = run(b'{"resourceType": "Bundle", "identifier": {"value": "\\ud800"}}')
    assert outcome.response == "fatal-error"


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a lone surrogate escape in MessageHeader.id becomes the rejection's "
    "correlation id; encoding the ack (dumps(...).encode('utf-8')) raises UnicodeEncodeError.",
)
def test_lone_surrogate_in_message_header_id_is_rejected_not_raised(run: Run) -> None:
    b = discharge_bundle(timestamp=None)
    header_id = b["entry"][0]["resource"]["id"]
    raw = to_bytes(b).replace(f'"id": "{header_id}"'.encode(), b'"id": "\\udc00"', 1)
    assert raw != to_bytes(b)
    outcome = run(raw)
    assert outcome.response == "fatal-error"


@pytest.mark.xfail(
    strict=True,
    reason="BUG: an entry whose resourceType is not a known FHIR resource type (a typo such as "
    "'patient', or null) makes fhir_core raise KeyError / TypeError inside "
    "Bundle.model_validate; fhir_in._check_structure only catches pydantic.ValidationError "
    "and RecursionError, so process() raises instead of rejecting the message.",
)
@pytest.mark.parametrize("resource_type", ["patient", "Patinet", "", None, 5, ["Patient"]])
def test_unknown_resource_type_in_an_entry_is_rejected_not_raised(
    run: Run, resource_type: object
) -> None:
    b = discharge_bundle()
    b["entry"][2]["resource"]["resourceType"] = resource_type
    outcome = run(b)
    assert outcome.response == "fatal-error"
    assert outcome.issues[0].reason == "fhir-structure"


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
