"""The rule engine, drug classes and high-risk groups."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tcam_bridge.codelists import load_drug_classes
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.high_risk import high_risk_group
from tcam_bridge.core.medicine import Medicine, MedicineCode, MedicineSource
from tcam_bridge.core.rule import (
    Context,
    NotAssessable,
    RuleFailure,
    RuleMeta,
    RuleResult,
    evaluate,
)
from tcam_bridge.rules import default_rules
from tests.unit.factories import context_of


def _meta(rule_id: str) -> RuleMeta:
    return RuleMeta(rule_id, "0.1.0", rule_id, FindingSeverity.LOW, "test", "test")


@dataclass(frozen=True)
class _Fixed:
    rule_id: str
    result: RuleResult

    @property
    def meta(self) -> RuleMeta:
        return _meta(self.rule_id)

    def evaluate(self, ctx: Context) -> RuleResult:
        return self.result


@dataclass(frozen=True)
class _Broken:
    @property
    def meta(self) -> RuleMeta:
        return _meta("BROKEN")

    def evaluate(self, ctx: Context) -> RuleResult:
        raise KeyError("boom")


def _finding(rule_id: str) -> Finding:
    return Finding(rule_id, "0.1.0", FindingSeverity.LOW, "t", "d", "a", ())


def test_engine_collects_findings_not_assessable_and_failures_and_keeps_going() -> None:
    rules = [
        _Fixed("A", (_finding("A"),)),
        _Broken(),
        _Fixed("B", NotAssessable("no eGFR")),
        _Fixed("C", (_finding("C"), _finding("C"))),
    ]
    ev = evaluate(rules, context_of())
    assert [f.rule_id for f in ev.findings] == ["A", "C", "C"]
    assert ev.not_assessable == (("B", "no eGFR"),)
    assert ev.failures == (RuleFailure("BROKEN", "KeyError"),)
    assert [m.id for m in ev.rules] == ["A", "BROKEN", "B", "C"]


def test_default_rules_have_unique_ids() -> None:
    ids = [r.meta.id for r in default_rules()]
    assert ids == sorted(set(ids), key=ids.index)
    assert "TCAM_DUP_ANTICOAG" in ids


def _medicine(name: str, code: str | None = None) -> Medicine:
    mc = MedicineCode(code, name, "https://dmd.nhs.uk") if code else None
    return Medicine(
        "urn:uuid:x", "Bundle.entry[4].resource", MedicineSource.DISCHARGE, mc, name, "active"
    )


@pytest.mark.parametrize(
    ("name", "code", "ingredient", "verified"),
    [
        ("Warfarin 3mg tablets", "319734006", "warfarin", True),
        (
            "Eliquis 2.5mg tablets (Bristol-Myers Squibb Pharmaceuticals Ltd)",
            "19506911000001105",
            "apixaban",
            True,
        ),
        ("Dabigatran etexilate 110mg capsules", "13532811000001109", "dabigatran", True),
        ("Rivaroxaban 20mg tablets", None, "rivaroxaban", False),
        ("Pradaxa 150mg capsules", None, "dabigatran", False),
        ("Apixaban 5mg tablets", "99999999999999999", "apixaban", False),  # code not in list
    ],
)
def test_anticoagulant_class_match(
    name: str, code: str | None, ingredient: str, verified: bool
) -> None:
    match = load_drug_classes()["oral-anticoagulant"].match(_medicine(name, code))
    assert match is not None
    assert (match.ingredient, match.verified) == (ingredient, verified)


@pytest.mark.parametrize("name", ["Omeprazole 20mg capsules", "Warfarinish", "Clopidogrel 75mg"])
def test_anticoagulant_class_does_not_match_other_medicines(name: str) -> None:
    assert load_drug_classes()["oral-anticoagulant"].match(_medicine(name)) is None


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("Warfarin 3mg tablets", "anticoagulant"),
        ("Enoxaparin 40mg/0.4ml solution for injection", "anticoagulant"),
        ("Lithium carbonate 400mg modified-release tablets", "lithium"),
        ("Priadel 400mg modified-release tablets", "lithium"),
        ("Methotrexate 2.5mg tablets", "methotrexate"),
        ("Amiodarone 200mg tablets", "amiodarone"),
        ("Insulin glargine 100units/ml", "insulin"),
        ("Morphine sulfate 10mg/5ml oral solution", "opioid"),
        ("Lamotrigine 100mg tablets", "antiepileptic"),
        ("Digoxin 125microgram tablets", "digoxin"),
        ("Clozapine 100mg tablets", "antipsychotic"),
        ("Omeprazole 20mg gastro-resistant capsules", None),
        ("Ramipril 5mg capsules", None),
    ],
)
def test_high_risk_groups(name: str, group: str | None) -> None:
    assert high_risk_group(_medicine(name), load_drug_classes()) == group


def test_supplier_name_essential_is_not_lithium() -> None:
    # Regression: 'essential' (the supplier Essential Pharma) was once listed as a lithium brand.
    medicine = _medicine("Omeprazole 20mg gastro-resistant capsules (Essential Pharma Ltd)")
    assert high_risk_group(medicine, load_drug_classes()) is None


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("Co-codamol 30mg/500mg tablets", "opioid"),
        ("Zomorph 10mg modified-release capsules", "opioid"),
        ("Humalog KwikPen 100units/ml", "insulin"),
        ("Epilim Chrono 200 tablets", "antiepileptic"),
        ("Lanoxin 125microgram tablets", "digoxin"),
        ("Insulin pen needles 4mm", None),
        ("Paracetamol 500mg tablets", None),
    ],
)
def test_high_risk_groups_recognise_brands_and_not_sundries(name: str, group: str | None) -> None:
    from tcam_bridge.codelists import load_drug_classes

    medicine = Medicine(
        "urn:uuid:x", "Bundle.entry[4].resource", MedicineSource.DISCHARGE, None, name, "active"
    )
    assert high_risk_group(medicine, load_drug_classes()) == group


def test_voltarol_emulgel_is_not_an_oral_nsaid_by_name() -> None:
    from tcam_bridge.codelists import load_drug_classes

    gel = Medicine(
        "urn:uuid:x", "p", MedicineSource.DISCHARGE, None, "Voltarol Emulgel 1% gel", "active"
    )
    assert load_drug_classes()["oral-nsaid"].match(gel) is None
