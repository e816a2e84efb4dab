"""Spec tests for GI_P3D: warfarin or a DOAC with an oral NSAID (a PPI does not exempt)."""

from __future__ import annotations

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.gi_p3d import META, AnticoagulantWithNsaid
from tests.unit.rules.builders import context, drug

RULE = AnticoagulantWithNsaid()

# dm+d codes and terms from oral-anticoagulants-warfarin-doac-pincer-dmd.csv,
# nsaids-oral-pincer-dmd.csv and ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv
WARFARIN = ("Warfarin 3mg tablets", "319734006")
APIXABAN = ("Apixaban 5mg tablets", "703908001")
RIVAROXABAN = ("Rivaroxaban 20mg tablets", "19842211000001107")
NAPROXEN = ("Naproxen 250mg tablets", "329806007")
IBUPROFEN = ("Ibuprofen 400mg tablets", "329653008")
ARTHROTEC = ("Arthrotec 50 gastro-resistant tablets (Pfizer Ltd)", "3159911000001101")
IBUPROFEN_TOPICAL = ("Ibuprofen in topical dosage form", "350322005")
OMEPRAZOLE = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
FAMOTIDINE = ("Famotidine 20mg tablets", "317275005")
ASPIRIN = ("Aspirin 75mg dispersible tablets", "319773006")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple), result
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def assert_finding(f: Finding, names: list[str], *, unverified: bool = False) -> None:
    assert f.rule_id == "GI_P3D"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.HIGH
    assert f.title == META.title
    assert f.act_code == "DRUG"
    assert [i.name for i in f.implicated] == names
    assert f.unverified is unverified
    assert f.detail and f.action
    for name in names:
        assert name in f.detail
        assert name in f.action


@pytest.mark.parametrize("anticoagulant", [WARFARIN, APIXABAN, RIVAROXABAN])
def test_anticoagulant_with_naproxen_is_one_high_finding(anticoagulant: tuple[str, str]) -> None:
    f = one(context(on_discharge=[drug(*anticoagulant), drug(*NAPROXEN)]))
    assert_finding(f, [anticoagulant[0], NAPROXEN[0]])
    assert f.evidence == (
        f"{anticoagulant[0]}: new on the discharge list; matched by dm+d code",
        f"{NAPROXEN[0]}: new on the discharge list; matched by dm+d code",
    )


def test_age_does_not_matter() -> None:
    assert len(run(context(on_discharge=[drug(*WARFARIN), drug(*NAPROXEN)], age=19))) == 1


@pytest.mark.parametrize("protection", [OMEPRAZOLE, FAMOTIDINE])
def test_a_ppi_or_h2_antagonist_does_not_exempt(protection: tuple[str, str]) -> None:
    ctx = context(on_discharge=[drug(*APIXABAN), drug(*IBUPROFEN), drug(*protection)])
    assert_finding(one(ctx), [APIXABAN[0], IBUPROFEN[0]])


def test_arthrotec_is_an_nsaid() -> None:
    ctx = context(on_discharge=[drug(*WARFARIN), drug(*ARTHROTEC)])
    assert_finding(one(ctx), [WARFARIN[0], ARTHROTEC[0]])


def test_anticoagulant_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*WARFARIN)])) == ()


def test_nsaid_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*NAPROXEN)])) == ()


def test_aspirin_is_not_an_nsaid_here() -> None:
    assert run(context(on_discharge=[drug(*WARFARIN), drug(*ASPIRIN)])) == ()


def test_nsaid_marked_stopped_before_admission_does_not_count() -> None:
    ctx = context(on_discharge=[drug(*WARFARIN)], before=[drug(*NAPROXEN, status="stopped")])
    assert run(ctx) == ()


def test_anticoagulant_stopped_on_the_discharge_list_does_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*WARFARIN, status="stopped"), drug(*NAPROXEN)],
        before=[drug(*WARFARIN)],
    )
    assert run(ctx) == ()


def test_pre_admission_nsaid_left_active_but_not_on_discharge_list_counts() -> None:
    ctx = context(on_discharge=[drug(*APIXABAN)], before=[drug(*IBUPROFEN)])
    f = one(ctx)
    assert_finding(f, [APIXABAN[0], IBUPROFEN[0]])
    assert "not marked stopped" in f.detail
    assert f.implicated[1].change == "stopped"  # the core's kind for "left off, not stopped"


def test_text_only_medicine_matches_unverified() -> None:
    f = one(context(on_discharge=[drug(*WARFARIN), drug("Naproxen 250mg tablets")]))
    assert_finding(f, [WARFARIN[0], "Naproxen 250mg tablets"], unverified=True)


def test_text_only_doac_brand_matches_unverified() -> None:
    f = one(context(on_discharge=[drug("Eliquis 5mg tablets"), drug(*NAPROXEN)]))
    assert_finding(f, ["Eliquis 5mg tablets", NAPROXEN[0]], unverified=True)


@pytest.mark.parametrize(
    "topical",
    [
        drug("Ibuprofen 5% gel"),
        drug("Voltarol 12 Hour Emulgel P 2.32% gel"),
        drug(*IBUPROFEN_TOPICAL),
    ],
)
def test_topical_nsaid_is_not_an_oral_nsaid(topical: tuple) -> None:  # type: ignore[type-arg]
    assert run(context(on_discharge=[drug(*WARFARIN), topical])) == ()
