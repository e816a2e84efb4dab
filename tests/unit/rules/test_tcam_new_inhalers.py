"""Spec tests for TCAM_NEW_INHALERS (two or more inhalers started or changed at discharge)."""

from __future__ import annotations

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.medicine import Medicine, MedicineSource
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.tcam_new_inhalers import META, NewInhalers, is_inhaler
from tests.unit.rules.builders import context, dose, drug

RULE = NewInhalers()

SERETIDE_250 = ("Seretide 250 Accuhaler (GlaxoSmithKline UK Ltd)", "3187211000001106")
TIOTROPIUM_TEXT = ("Tiotropium 18microgram inhalation powder capsules", None)
SALBUTAMOL = ("Salbutamol 100micrograms/dose inhaler CFC free", "39113611000001102")

SERETIDE_DOSE = dose("One puff twice a day")
TIOTROPIUM_DOSE = dose("Inhale the contents of one capsule once a day")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def test_incident_seretide_and_tiotropium_both_new() -> None:
    ctx = context(
        on_discharge=[
            drug(*SERETIDE_250, change="added", dosage=[SERETIDE_DOSE]),
            drug(*TIOTROPIUM_TEXT, dosage=[TIOTROPIUM_DOSE]),
            drug("Prednisolone 5mg tablets", dosage=[dose("30mg once a day for 5 days")]),
            drug(*SALBUTAMOL, dosage=[dose("Two puffs when required")]),
        ],
        before=[drug(*SALBUTAMOL, dosage=[dose("Two puffs when required")])],
    )
    (f,) = run(ctx)
    assert (f.rule_id, f.rule_version) == ("TCAM_NEW_INHALERS", "1.0.0")
    assert f.severity is FindingSeverity.MODERATE
    assert f.unverified is False
    assert [(i.name, i.code, i.change) for i in f.implicated] == [
        ("Seretide 250 Accuhaler (GlaxoSmithKline UK Ltd)", "3187211000001106", "new"),
        ("Tiotropium 18microgram inhalation powder capsules", None, "new"),
    ]
    assert "One puff twice a day" in f.detail
    assert "Inhale the contents of one capsule once a day" in f.detail
    assert "also continues: Salbutamol 100micrograms/dose inhaler CFC free" in f.detail
    assert "Prednisolone" not in f.detail
    assert "what it is for" in f.action
    assert "how to use" in f.action
    assert "how often" in f.action
    assert "technique" in f.action


def test_one_new_inhaler_gives_no_finding() -> None:
    ctx = context(
        on_discharge=[drug(*SERETIDE_250, change="added"), drug("Prednisolone 5mg tablets")]
    )
    assert run(ctx) == ()


def test_one_new_and_one_continued_inhaler_give_no_finding() -> None:
    ctx = context(
        on_discharge=[drug(*SERETIDE_250, change="added"), drug(*SALBUTAMOL)],
        before=[drug(*SALBUTAMOL)],
    )
    assert run(ctx) == ()


def test_changed_inhaler_counts() -> None:
    clenil = "Clenil Modulite 100micrograms/dose inhaler"
    ctx = context(
        on_discharge=[
            drug(clenil, dosage=[dose("Four puffs twice a day")]),
            drug("Spiriva Respimat 2.5micrograms/dose inhalation solution cartridge with device"),
        ],
        before=[drug(clenil, dosage=[dose("Two puffs twice a day")])],
    )
    (f,) = run(ctx)
    assert {i.change for i in f.implicated} == {"changed", "new"}
    assert "no directions given" in f.detail


def test_nebuliser_is_not_an_inhaler_here() -> None:
    ctx = context(
        on_discharge=[
            drug(*SERETIDE_250, change="added"),
            drug("Salbutamol 2.5mg/2.5ml nebuliser liquid unit dose vials"),
        ]
    )
    assert run(ctx) == ()


def test_stopped_inhalers_do_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*SERETIDE_250, change="added")],
        before=[drug("Symbicort 200/6 Turbohaler", status="stopped")],
    )
    assert run(ctx) == ()


@pytest.mark.parametrize(
    ("name", "inhaler"),
    [
        ("Seretide 250 Accuhaler (GlaxoSmithKline UK Ltd)", True),
        ("Tiotropium 18microgram inhalation powder capsules", True),
        ("Spiriva 18microgram inhalation powder capsules with HandiHaler", True),
        ("Fostair 100micrograms/dose / 6micrograms/dose inhaler", True),
        ("Relvar Ellipta 92micrograms/dose / 22micrograms/dose dry powder inhaler", True),
        ("Beclometasone 100micrograms/dose pressurised inhalation", True),
        ("Symbicort 200/6 Turbohaler", True),
        ("Salbutamol 100micrograms/dose inhaler CFC free", True),
        ("Salbutamol 2.5mg/2.5ml nebuliser liquid unit dose vials", False),
        ("Beclometasone 50micrograms/dose nasal spray", False),
        ("Prednisolone 5mg tablets", False),
        ("Glycopyrronium bromide 1mg tablets", False),
    ],
)
def test_is_inhaler(name: str, inhaler: bool) -> None:
    medicine = Medicine("urn:uuid:x", "x", MedicineSource.DISCHARGE, None, name, "active")
    assert is_inhaler(medicine) is inhaler


def test_meta() -> None:
    assert RULE.meta is META
