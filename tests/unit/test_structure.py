"""The compiled FHIR structure check (core/structure.py) against the models it is built from.

The one property that matters: whatever the compiled check accepts, ``Bundle.model_validate``
accepts (otherwise the pipeline would skip validation the contract promises). Checked on every
example, on generated workload messages, on every R4B resource type, on a seeded corpus of
thousands of mutations and on Hypothesis mutations. The corpus test also asserts that the
check takes the fast path often enough for the soundness check not to be vacuous.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pydantic
import pytest
from benchmarks.workload import build
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcam_bridge.core.structure import structure_check
from tests.unit.conftest import INVALID_EXAMPLES, VALID_EXAMPLES
from tests.unit.test_properties import _paths, json_values

CHECK = structure_check()
EXAMPLES = [json.loads(p.read_bytes()) for p in VALID_EXAMPLES]


def models_accept(doc: Any) -> bool:
    try:
        Bundle.model_validate(doc)
    except (pydantic.ValidationError, ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


def assert_sound(doc: Any) -> bool:
    """Fails if the compiled check accepts what the models reject; returns its verdict."""
    accepted = CHECK.accepts(doc)
    if accepted:
        assert models_accept(doc), f"compiled check accepted a bundle the models reject: {doc}"
    return accepted


# --- the fast path is taken for the messages we expect ------------------------------------------


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_every_valid_example_takes_the_fast_path(path: Any) -> None:
    doc = json.loads(path.read_bytes())
    assert CHECK.deferral(doc) is None
    assert CHECK.accepts(doc)
    assert models_accept(doc)


def test_generated_workload_messages_take_the_fast_path() -> None:
    for index in range(60):
        doc = build(7, index)
        assert CHECK.deferral(doc) is None, index
        assert models_accept(doc)


@pytest.mark.parametrize(
    "path", [p for p in INVALID_EXAMPLES if p.suffix == ".json"], ids=lambda p: p.name
)
def test_invalid_examples_never_accepted_beyond_the_models(path: Any) -> None:
    assert_sound(json.loads(path.read_bytes()))


# --- precise deferrals ------------------------------------------------------------------------


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(resources)],
    }


OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "eGFR"}}


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({**OBSERVATION, "status": None}, "resource(Observation).status: null"),
        ({k: v for k, v in OBSERVATION.items() if k != "code"}, "(Observation).code: required"),
        ({k: v for k, v in OBSERVATION.items() if k != "status"}, "(Observation).status: required"),
        ({**OBSERVATION, "valueString": "a", "valueBoolean": True}, "choice valueBoolean"),
        ({**OBSERVATION, "valueInteger": "5"}, "valueInteger: primitive value not accepted"),
        ({**OBSERVATION, "valueInteger": 2**31}, "valueInteger: primitive value not accepted"),
        ({**OBSERVATION, "valueBoolean": 1}, "valueBoolean: primitive value not accepted"),
        ({**OBSERVATION, "issued": "2026-11-18"}, "issued: primitive value not accepted"),
        ({**OBSERVATION, "effectiveDateTime": "2026-13-01"}, "primitive value not accepted"),
        ({**OBSERVATION, "status": " final"}, "status: primitive value not accepted"),
        ({**OBSERVATION, "note": []}, "note: not a non-empty array"),
        ({**OBSERVATION, "note": {"text": "x"}}, "note: not a non-empty array"),
        ({**OBSERVATION, "code": [{"text": "x"}]}, "code: not a JSON object"),
        ({**OBSERVATION, "_status": {"id": "x"}}, "_status: not an element"),
        ({**OBSERVATION, "fhir_comments": "x"}, "fhir_comments: not an element"),
        ({**OBSERVATION, "valueQuantity": {"value": 1, "unitt": "x"}}, "unitt: not an element"),
        ({**OBSERVATION, "resourceType": "Observatio"}, "not a resource with a known"),
        ({"status": "final", "code": {"text": "x"}}, "not a resource with a known"),
        ({**OBSERVATION, "code": {"text": "x", "resourceType": "CodeableConcept"}}, "resourceType"),
    ],
)
def test_the_check_defers_what_it_is_not_sure_of(resource: dict[str, Any], where: str) -> None:
    doc = _bundle(resource)
    reason = CHECK.deferral(doc)
    assert reason is not None and where in reason, reason
    assert not CHECK.accepts(doc)


def test_a_contained_resource_is_checked_by_its_own_type() -> None:
    med = {"resourceType": "Medication", "id": "m1", "code": {"text": "Aspirin"}}
    request = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationReference": {"reference": "#m1"},
        "contained": [med],
    }
    assert CHECK.accepts(_bundle(request)) and models_accept(_bundle(request))
    request["contained"] = [{**med, "code": "Aspirin"}]
    assert CHECK.deferral(_bundle(request)) == (
        "Bundle.entry[0].resource(MedicationRequest).contained[0](Medication).code: "
        "not a JSON object"
    )


def test_deep_nesting_defers_instead_of_raising() -> None:
    ext: dict[str, Any] = {"url": "http://example.org/x", "valueString": "leaf"}
    for _ in range(2000):
        ext = {"url": "http://example.org/x", "extension": [ext]}
    doc = _bundle({**OBSERVATION, "extension": [ext]})
    assert CHECK.accepts(doc) is False


# --- every R4B resource type --------------------------------------------------------------------


def _resource_type_names() -> list[str]:
    from fhir.resources.R4B import fhirtypes

    names = []
    for attr in dir(fhirtypes):
        if not attr.endswith("Type"):
            continue
        name = attr[: -len("Type")]
        try:
            model = get_fhir_model_class(name)
        except (KeyError, ValueError, AttributeError, ImportError):
            continue
        if model.has_resource_base() and model.get_resource_type() == name:
            names.append(name)
    return sorted(set(names))


RESOURCE_TYPES = _resource_type_names()


def test_every_resource_type_is_known() -> None:
    assert len(RESOURCE_TYPES) > 140  # 143 concrete resource types in the R4B models


@pytest.mark.parametrize("name", RESOURCE_TYPES)
def test_every_resource_type_agrees_with_the_models(name: str) -> None:
    minimal = {"resourceType": name, "id": "r1", "meta": {"versionId": "1"}, "language": "en"}
    with_text = {
        **minimal,
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    }
    for resource in (minimal, with_text, {**minimal, "id": "not valid!"}, {**minimal, "x": 1}):
        doc = _bundle(resource)
        accepted = assert_sound(doc)
        if models_accept(doc) and "text" not in resource:
            # Completeness, for the plain case: a resource with no required elements takes the
            # fast path.
            assert accepted, CHECK.deferral(doc)


# --- mutations --------------------------------------------------------------------------------

CHOICE_KEYS = [
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueQuantity",
    "valueCodeableConcept",
    "valueDateTime",
    "medicationReference",
    "medicationCodeableConcept",
    "effectivePeriod",
    "effectiveDateTime",
    "deceasedBoolean",
    "asNeededBoolean",
    "asNeededCodeableConcept",
    "eventUri",
    "eventCoding",
]
ELEMENT_KEYS = [
    *CHOICE_KEYS,
    "code",
    "system",
    "display",
    "text",
    "extension",
    "url",
    "id",
    "period",
    "start",
    "end",
    "coding",
    "reference",
    "status",
    "intent",
    "dosage",
    "timing",
    "value",
    "unit",
    "given",
    "line",
    "when",
    "frequency",
    "resourceType",
    "contained",
]
TRICKY = [
    None,
    "",
    " ",
    "x",
    " x",
    "x ",
    "a\tb",
    "5",
    "-1",
    "1.0",
    "true",
    "2026",
    "2026-11",
    "2026-11-18",
    "2026-13-01",
    "2026-02-30",
    "2026-11-18T14:30:00",
    "2026-11-18T14:30:00Z",
    "2026-11-18T14:30:00+00:00",
    "2026-11-18T25:30:00Z",
    "14:30:00",
    "urn:uuid:0e4c2f58-1f53-4bd2-b7f3-2b1f0a7e9c11",
    "http://snomed.info/sct",
    "a b  c",
    "\u00e9",
    0,
    1,
    -1,
    2**31,
    -(2**31) - 1,
    2**63,
    1.0,
    1.5,
    -0.0,
    1e300,
    True,
    False,
    [],
    {},
    [None],
    ["x"],
    [1],
    [{}],
    {"text": "x"},
    {"reference": "Patient/p"},
    {"url": "http://example.org/e"},
]


def mutate(doc: Any, rng: random.Random) -> Any:
    """One to three structural or value mutations of a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(doc)
        if not paths:
            break
        path = rng.choice(paths)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        op = rng.choice(["drop", "tricky", "graft", "rename", "add", "wrap", "unwrap"])
        if op == "drop":
            del parent[last]
        elif op == "tricky":
            parent[last] = copy.deepcopy(rng.choice(TRICKY))
        elif op == "graft":  # a value from elsewhere in the document
            source = rng.choice(paths)
            value: Any = doc
            for step in source:
                value = value[step]
            parent[last] = copy.deepcopy(value)
        elif op == "rename" and isinstance(parent, dict):
            parent[rng.choice(ELEMENT_KEYS)] = parent.pop(last)
        elif op == "add" and isinstance(parent, dict):
            parent[rng.choice(ELEMENT_KEYS)] = copy.deepcopy(rng.choice(TRICKY))
        elif op == "wrap":
            parent[last] = [parent[last]]
        elif op == "unwrap" and isinstance(parent[last], list) and parent[last]:
            parent[last] = parent[last][0]
    return doc


def test_seeded_mutation_corpus_is_sound_and_mostly_fast() -> None:
    """3,000 seeded mutations of the examples and workload: no accepted bundle is one the models
    reject, and enough are accepted that the comparison means something."""
    rng = random.Random(20261122)
    bases = EXAMPLES + [build(3, i) for i in range(10)]
    accepted = valid = 0
    for _ in range(3000):
        doc = mutate(rng.choice(bases), rng)
        accepted += assert_sound(doc)
        valid += models_accept(doc)
    # About one mutation in six is still valid FHIR; the comparison means something only if
    # there are many of those, and the check should take the fast path for most of them (the
    # rest are non-canonical forms it defers: empty arrays, nulls, strings for numbers).
    assert valid > 300, valid
    assert accepted > 0.8 * valid, (accepted, valid)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    base = draw(st.sampled_from(EXAMPLES))
    doc = mutate(base, random.Random(draw(st.integers(0, 2**32))))
    if draw(st.booleans()):
        paths = [p for p in _paths(doc) if p]
        if paths:
            path = draw(st.sampled_from(paths))
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = draw(json_values)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_hypothesis_mutations_are_sound(doc: Any) -> None:
    assert_sound(doc)


def test_the_service_builds_the_check_and_freezes_the_start_up_heap() -> None:
    """``tcam run`` builds the check before the first message and moves the start-up heap (FHIR
    models, code lists, the check) out of the collector's reach: full collections over it
    paused the pipeline for 40 to 90 ms, the tail of the referral latency."""
    import gc

    from tcam_bridge.pipeline.app import settle_heap

    structure_check.cache_clear()
    try:
        settle_heap()
        assert structure_check.cache_info().currsize == 1
        assert gc.get_freeze_count() > 10_000  # the models' classes and their schemas at least
    finally:
        gc.unfreeze()
