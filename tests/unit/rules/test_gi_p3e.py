"""Spec tests for GI_P3E: warfarin or a DOAC with an antiplatelet, no PPI or H2 antagonist."""

from __future__ import annotations

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.gi_p3e import META, AnticoagulantWithAntiplateletNoGastroprotection
from tests.unit.rules.builders import context, drug

RULE = AnticoagulantWithAntiplateletNoGastroprotection()

# dm+d codes and terms from oral-anticoagulants-warfarin-doac-pincer-dmd.csv,
# antiplatelets-incl-aspirin-pincer-dmd.csv and ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv
WARFARIN = ("Warfarin 3mg tablets", "319734006")
APIXABAN = ("Apixaban 5mg tablets", "703908001")
ASPIRIN = ("Aspirin 75mg dispersible tablets", "319773006")
CLOPIDOGREL = ("Clopidogrel 75mg tablets", "319799004")
NAPROXEN = ("Naproxen 250mg tablets", "329806007")
ARTHROTEC = ("Arthrotec 50 gastro-resistant tablets (Pfizer Ltd)", "3159911000001101")
OMEPRAZOLE = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
LANSOPRAZOLE = ("Lansoprazole 30mg gastro-resistant capsules", "317309001")
FAMOTIDINE = ("Famotidine 20mg tablets", "317275005")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple), result
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def assert_finding(f: Finding, names: list[str], *, unverified: bool = False) -> None:
    assert f.rule_id == "GI_P3E"
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
    assert "No PPI or H2 antagonist prescribed" in f.evidence


def test_warfarin_with_aspirin_without_ppi_is_one_high_finding() -> None:
    f = one(context(on_discharge=[drug(*WARFARIN), drug(*ASPIRIN)]))
    assert_finding(f, [WARFARIN[0], ASPIRIN[0]])
    assert f.implicated[0].code == WARFARIN[1]


def test_apixaban_with_clopidogrel_counts() -> None:
    f = one(context(on_discharge=[drug(*APIXABAN), drug(*CLOPIDOGREL)]))
    assert_finding(f, [APIXABAN[0], CLOPIDOGREL[0]])


@pytest.mark.parametrize("protection", [OMEPRAZOLE, LANSOPRAZOLE, FAMOTIDINE])
def test_ppi_or_h2_antagonist_protects(protection: tuple[str, str]) -> None:
    ctx = context(on_discharge=[drug(*APIXABAN), drug(*CLOPIDOGREL), drug(*protection)])
    assert run(ctx) == ()


def test_misoprostol_does_not_protect() -> None:
    ctx = context(
        on_discharge=[
            drug(*WARFARIN),
            drug(*ASPIRIN),
            drug("Misoprostol 200microgram tablets"),
        ]
    )
    assert_finding(one(ctx), [WARFARIN[0], ASPIRIN[0]])


def test_arthrotec_is_not_an_antiplatelet_and_does_not_protect() -> None:
    assert run(context(on_discharge=[drug(*WARFARIN), drug(*ARTHROTEC)])) == ()
    ctx = context(on_discharge=[drug(*WARFARIN), drug(*ASPIRIN), drug(*ARTHROTEC)])
    assert_finding(one(ctx), [WARFARIN[0], ASPIRIN[0]])


def test_anticoagulant_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*WARFARIN)])) == ()


def test_antiplatelet_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*ASPIRIN), drug(*CLOPIDOGREL)])) == ()


def test_nsaid_is_not_an_antiplatelet_here() -> None:
    assert run(context(on_discharge=[drug(*WARFARIN), drug(*NAPROXEN)])) == ()


def test_aspirin_marked_stopped_before_admission_does_not_count() -> None:
    ctx = context(on_discharge=[drug(*APIXABAN)], before=[drug(*ASPIRIN, status="stopped")])
    assert run(ctx) == ()


def test_ppi_marked_stopped_does_not_protect() -> None:
    ctx = context(
        on_discharge=[drug(*APIXABAN), drug(*ASPIRIN)],
        before=[drug(*OMEPRAZOLE, status="stopped")],
    )
    assert len(run(ctx)) == 1


def test_aspirin_left_active_when_anticoagulant_started_counts() -> None:
    ctx = context(on_discharge=[drug(*APIXABAN)], before=[drug(*ASPIRIN)])
    f = one(ctx)
    assert_finding(f, [APIXABAN[0], ASPIRIN[0]])
    assert "not marked stopped" in f.detail
    assert any(e.startswith(ASPIRIN[0] + ": active before admission") for e in f.evidence)


def test_text_only_antiplatelet_matches_unverified() -> None:
    f = one(context(on_discharge=[drug(*WARFARIN), drug("Aspirin 75mg tablets")]))
    assert_finding(f, [WARFARIN[0], "Aspirin 75mg tablets"], unverified=True)
