"""Spec tests for TCAM_DUP_CLASS (two medicines of one therapeutic class)."""

from __future__ import annotations

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.medicine import Dosage
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.tcam_dup_class import META, TherapeuticDuplication
from tests.unit.rules.builders import context, dose, drug

RULE = TherapeuticDuplication()

OMEPRAZOLE_20MG = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
LANSOPRAZOLE_30MG = ("Lansoprazole 30mg gastro-resistant capsules", "317309001")
RAMIPRIL_2_5MG = ("Ramipril 2.5mg capsules", "318901006")
RAMIPRIL_5MG = ("Ramipril 5mg capsules", "318902004")
LISINOPRIL_10MG = ("Lisinopril 10mg tablets", "318859000")
CANDESARTAN_8MG = ("Candesartan 8mg tablets", "318979007")
LOSARTAN_50MG = ("Losartan 50mg tablets", "318956006")
FUROSEMIDE_40MG = ("Furosemide 40mg tablets", "317972000")
BUMETANIDE_1MG = ("Bumetanide 1mg tablets", "318021009")
IBUPROFEN_400MG = ("Ibuprofen 400mg tablets", "329653008")
NAPROXEN_500MG = ("Naproxen 500mg tablets", "329807003")
PROPRANOLOL_40MG = ("Propranolol 40mg tablets", "318353009")
CARVEDILOL_12_5MG = ("Carvedilol 12.5mg tablets", "318631003")
TIMOLOL_EYE_DROPS = ("Timolol 0.5% eye drops", "330721008")
WARFARIN_3MG = ("Warfarin 3mg tablets", "319734006")
APIXABAN_5MG = ("Apixaban 5mg tablets", "703908001")

PRN = Dosage(text="One tablet up to three times a day when required", as_needed=True)


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def test_two_ppis_on_the_discharge_list() -> None:
    f = one(context(on_discharge=[drug(*OMEPRAZOLE_20MG), drug(*LANSOPRAZOLE_30MG)]))
    assert (f.rule_id, f.rule_version) == ("TCAM_DUP_CLASS", "1.0.0")
    assert f.severity is FindingSeverity.MODERATE
    assert f.act_code == "DUPTHPY"
    assert f.unverified is False
    assert "proton pump inhibitors" in f.detail
    assert "Omeprazole 20mg gastro-resistant capsules" in f.detail
    assert "Lansoprazole 30mg gastro-resistant capsules" in f.detail
    assert {i.code for i in f.implicated} == {"317291008", "317309001"}
    assert "cancel its repeat prescription" in f.action


def test_two_strengths_of_one_drug_are_not_a_duplication() -> None:
    assert run(context(on_discharge=[drug(*RAMIPRIL_2_5MG), drug(*RAMIPRIL_5MG)])) == ()


def test_two_ace_inhibitors_are() -> None:
    f = one(context(on_discharge=[drug(*RAMIPRIL_5MG), drug(*LISINOPRIL_10MG)]))
    assert "ACE inhibitors" in f.detail


def test_switch_with_old_medicine_not_marked_stopped() -> None:
    ctx = context(on_discharge=[drug(*OMEPRAZOLE_20MG)], before=[drug(*LANSOPRAZOLE_30MG)])
    f = one(ctx)
    assert "not marked stopped" in f.detail
    assert {i.change for i in f.implicated} == {"new", "stopped"}


def test_switch_with_old_medicine_marked_stopped_is_fine() -> None:
    ctx = context(
        on_discharge=[drug(*OMEPRAZOLE_20MG)],
        before=[drug(*LANSOPRAZOLE_30MG, status="stopped", reason="Switched")],
    )
    assert run(ctx) == ()


def test_one_finding_per_class() -> None:
    ctx = context(
        on_discharge=[
            drug(*OMEPRAZOLE_20MG),
            drug(*LANSOPRAZOLE_30MG),
            drug(*FUROSEMIDE_40MG),
            drug(*BUMETANIDE_1MG),
        ]
    )
    result = run(ctx)
    assert len(result) == 2
    assert "proton pump inhibitors" in result[0].detail
    assert "loop diuretics" in result[1].detail


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (CANDESARTAN_8MG, LOSARTAN_50MG),
        (PROPRANOLOL_40MG, CARVEDILOL_12_5MG),
        (IBUPROFEN_400MG, NAPROXEN_500MG),
    ],
)
def test_other_coded_classes(first: tuple[str, str], second: tuple[str, str]) -> None:
    f = one(context(on_discharge=[drug(*first), drug(*second)]))
    assert f.unverified is False


def test_statins_match_by_name_and_are_unverified() -> None:
    f = one(
        context(
            on_discharge=[drug("Atorvastatin 40mg tablets")],
            before=[drug("Simvastatin 40mg tablets")],
        )
    )
    assert f.unverified is True
    assert "statins" in f.detail
    assert "atorvastatin and simvastatin" in f.detail


def test_ssris_citalopram_and_escitalopram_are_two_ingredients() -> None:
    f = one(
        context(on_discharge=[drug("Citalopram 20mg tablets"), drug("Escitalopram 10mg tablets")])
    )
    assert "SSRIs" in f.detail
    assert f.unverified is True


def test_one_ssri_brand_and_generic_is_one_ingredient() -> None:
    ctx = context(on_discharge=[drug("Sertraline 50mg tablets"), drug("Lustral 100mg tablets")])
    assert run(ctx) == ()


def test_aspirin_with_clopidogrel_is_not_flagged() -> None:
    ctx = context(
        on_discharge=[drug("Aspirin 75mg dispersible tablets"), drug("Clopidogrel 75mg tablets")]
    )
    assert run(ctx) == ()


def test_anticoagulants_are_left_to_tcam_dup_anticoag() -> None:
    assert run(context(on_discharge=[drug(*WARFARIN_3MG), drug(*APIXABAN_5MG)])) == ()


def test_as_needed_item_is_skipped() -> None:
    ctx = context(
        on_discharge=[
            drug(*IBUPROFEN_400MG, dosage=[PRN]),
            drug(*NAPROXEN_500MG, dosage=[dose("500mg twice a day")]),
        ]
    )
    assert run(ctx) == ()


def test_item_with_a_regular_and_an_as_needed_dose_counts() -> None:
    ctx = context(
        on_discharge=[
            drug(*IBUPROFEN_400MG, dosage=[dose("400mg at night"), PRN]),
            drug(*NAPROXEN_500MG),
        ]
    )
    assert len(run(ctx)) == 1


def test_topical_nsaid_by_name_is_not_a_duplicate() -> None:
    ctx = context(on_discharge=[drug("Ibuprofen 5% gel"), drug(*NAPROXEN_500MG)])
    assert run(ctx) == ()


def test_timolol_eye_drops_are_not_a_systemic_beta_blocker() -> None:
    ctx = context(on_discharge=[drug(*TIMOLOL_EYE_DROPS), drug(*PROPRANOLOL_40MG)])
    assert run(ctx) == ()


def test_single_medicine_gives_no_finding() -> None:
    assert run(context(on_discharge=[drug(*OMEPRAZOLE_20MG)])) == ()


def test_meta() -> None:
    assert RULE.meta is META
