"""Spec tests for GI_P3F: aspirin with another antiplatelet, no PPI or H2 antagonist."""

from __future__ import annotations

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.gi_p3f import META, AspirinWithAntiplateletNoGastroprotection
from tests.unit.rules.builders import context, drug

RULE = AspirinWithAntiplateletNoGastroprotection()

# dm+d codes and terms from aspirin-pincer-dmd.csv, antiplatelets-excl-aspirin-pincer-dmd.csv,
# nsaids-oral-pincer-dmd.csv and ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv
ASPIRIN = ("Aspirin 75mg dispersible tablets", "319773006")
ASPIRIN_DIPYRIDAMOLE = (
    "Dipyridamole 200mg modified-release / Aspirin 25mg capsules",
    "36069911000001109",
)
CLOPIDOGREL = ("Clopidogrel 75mg tablets", "319799004")
TICAGRELOR = ("Ticagrelor 90mg tablets", "704465002")
PRASUGREL = ("Prasugrel 10mg tablets", "443469008")
NAPROXEN = ("Naproxen 250mg tablets", "329806007")
ARTHROTEC = ("Arthrotec 50 gastro-resistant tablets (Pfizer Ltd)", "3159911000001101")
OMEPRAZOLE = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
FAMOTIDINE = ("Famotidine 20mg tablets", "317275005")
RANITIDINE = ("Ranitidine 150mg tablets", "317249006")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple), result
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def assert_finding(f: Finding, names: list[str], *, unverified: bool = False) -> None:
    assert f.rule_id == "GI_P3F"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.MODERATE
    assert f.title == META.title
    assert f.act_code == "DRUG"
    assert [i.name for i in f.implicated] == names
    assert f.unverified is unverified
    assert f.detail and f.action
    for name in names:
        assert name in f.detail
        assert name in f.action
    assert "No PPI or H2 antagonist prescribed" in f.evidence


@pytest.mark.parametrize("other", [CLOPIDOGREL, TICAGRELOR, PRASUGREL])
def test_aspirin_with_another_antiplatelet_is_one_moderate_finding(
    other: tuple[str, str],
) -> None:
    f = one(context(on_discharge=[drug(*ASPIRIN), drug(*other)]))
    assert_finding(f, [ASPIRIN[0], other[0]])


@pytest.mark.parametrize("protection", [OMEPRAZOLE, FAMOTIDINE, RANITIDINE])
def test_ppi_or_h2_antagonist_protects(protection: tuple[str, str]) -> None:
    ctx = context(on_discharge=[drug(*ASPIRIN), drug(*CLOPIDOGREL), drug(*protection)])
    assert run(ctx) == ()


def test_ppi_continued_from_before_admission_protects() -> None:
    ctx = context(
        on_discharge=[drug(*ASPIRIN), drug(*TICAGRELOR)],
        before=[drug(*OMEPRAZOLE)],
    )
    assert run(ctx) == ()


def test_misoprostol_does_not_protect() -> None:
    ctx = context(
        on_discharge=[
            drug(*ASPIRIN),
            drug(*CLOPIDOGREL),
            drug("Misoprostol 200microgram tablets"),
        ]
    )
    assert_finding(one(ctx), [ASPIRIN[0], CLOPIDOGREL[0]])


def test_aspirin_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*ASPIRIN)])) == ()


def test_clopidogrel_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*CLOPIDOGREL)])) == ()


def test_nsaid_is_not_an_antiplatelet_here() -> None:
    assert run(context(on_discharge=[drug(*ASPIRIN), drug(*NAPROXEN)])) == ()
    assert run(context(on_discharge=[drug(*ASPIRIN), drug(*ARTHROTEC)])) == ()


def test_aspirin_with_dipyridamole_in_one_product_alone_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*ASPIRIN_DIPYRIDAMOLE)])) == ()
    assert run(context(on_discharge=[drug(ASPIRIN_DIPYRIDAMOLE[0])])) == ()


def test_aspirin_dipyridamole_product_with_clopidogrel_counts() -> None:
    f = one(context(on_discharge=[drug(*ASPIRIN_DIPYRIDAMOLE), drug(*CLOPIDOGREL)]))
    assert_finding(f, [ASPIRIN_DIPYRIDAMOLE[0], CLOPIDOGREL[0]])


def test_aspirin_marked_stopped_does_not_count() -> None:
    ctx = context(on_discharge=[drug(*CLOPIDOGREL)], before=[drug(*ASPIRIN, status="stopped")])
    assert run(ctx) == ()


def test_clopidogrel_stopped_on_the_discharge_list_does_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*ASPIRIN), drug(*CLOPIDOGREL, status="stopped")],
        before=[drug(*CLOPIDOGREL)],
    )
    assert run(ctx) == ()


def test_pre_admission_aspirin_left_active_but_not_on_discharge_list_counts() -> None:
    ctx = context(on_discharge=[drug(*TICAGRELOR)], before=[drug(*ASPIRIN)])
    f = one(ctx)
    assert_finding(f, [ASPIRIN[0], TICAGRELOR[0]])
    assert "not marked stopped" in f.detail


def test_text_only_antiplatelet_matches_unverified() -> None:
    f = one(context(on_discharge=[drug(*ASPIRIN), drug("Clopidogrel 75mg tablets")]))
    assert_finding(f, [ASPIRIN[0], "Clopidogrel 75mg tablets"], unverified=True)
