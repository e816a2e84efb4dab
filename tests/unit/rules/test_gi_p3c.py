"""Spec tests for GI_P3C: peptic ulcer or GI bleed history, antiplatelet, no gastroprotection."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.gi_p3c import META, AntiplateletUlcerHistoryNoGastroprotection
from tests.unit.rules.builders import DISCHARGED, condition, context, drug

RULE = AntiplateletUlcerHistoryNoGastroprotection()

# dm+d codes and terms from antiplatelets-incl-aspirin-pincer-dmd.csv, nsaids-oral-pincer-dmd.csv
# and ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv
ASPIRIN = ("Aspirin 75mg dispersible tablets", "319773006")
CLOPIDOGREL = ("Clopidogrel 75mg tablets", "319799004")
TICAGRELOR = ("Ticagrelor 90mg tablets", "704465002")
NAPROXEN = ("Naproxen 250mg tablets", "329806007")
ARTHROTEC = ("Arthrotec 50 gastro-resistant tablets (Pfizer Ltd)", "3159911000001101")
OMEPRAZOLE = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
FAMOTIDINE = ("Famotidine 20mg tablets", "317275005")
# SNOMED CT codes from peptic-ulcer-pincer-snomed.csv and gi-bleed-pincer-snomed.csv
PEPTIC_ULCER = "13200003"  # Peptic ulcer
UPPER_GI_BLEED = "37372002"  # Upper gastrointestinal hemorrhage
HAEMATEMESIS = "8765009"  # Hematemesis

ULCER = condition(PEPTIC_ULCER, date(2023, 5, 10), text="Peptic ulcer")
BLEED = condition(UPPER_GI_BLEED, date(2025, 2, 1), text="Upper GI bleed")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple), result
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def assert_finding(f: Finding, names: list[str], *, unverified: bool = False) -> None:
    assert f.rule_id == "GI_P3C"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.MODERATE
    assert f.title == META.title
    assert [i.name for i in f.implicated] == names
    assert f.unverified is unverified
    assert f.detail and f.action
    for name in names:
        assert name in f.detail
        assert name in f.action
    assert "No PPI or H2 antagonist prescribed" in f.evidence


def test_aspirin_after_peptic_ulcer_without_ppi_is_one_moderate_finding() -> None:
    f = one(context(on_discharge=[drug(*ASPIRIN)], conditions=[ULCER]))
    assert_finding(f, [ASPIRIN[0]])
    assert f.evidence[0] == "History: Peptic ulcer (2023-05-10)"
    assert f.act_code == "COND"
    assert "PPI" in f.action


@pytest.mark.parametrize("antiplatelet", [CLOPIDOGREL, TICAGRELOR])
def test_non_aspirin_antiplatelet_after_gi_bleed_counts(antiplatelet: tuple[str, str]) -> None:
    f = one(context(on_discharge=[drug(*antiplatelet)], conditions=[BLEED]))
    assert_finding(f, [antiplatelet[0]])
    assert "History: Upper GI bleed (2025-02-01)" in f.evidence


def test_haematemesis_code_counts_as_gi_bleed() -> None:
    ctx = context(on_discharge=[drug(*ASPIRIN)], conditions=[condition(HAEMATEMESIS)])
    assert len(run(ctx)) == 1


def test_aspirin_and_clopidogrel_are_one_finding_implicating_both() -> None:
    f = one(context(on_discharge=[drug(*ASPIRIN), drug(*CLOPIDOGREL)], conditions=[ULCER]))
    assert_finding(f, [ASPIRIN[0], CLOPIDOGREL[0]])
    assert "antiplatelets, are prescribed" in f.detail


def test_no_history_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*ASPIRIN)])) == ()


def test_history_without_antiplatelet_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*NAPROXEN)], conditions=[ULCER])) == ()


def test_condition_dated_after_discharge_does_not_count() -> None:
    later = condition(PEPTIC_ULCER, DISCHARGED + timedelta(days=3))
    assert run(context(on_discharge=[drug(*ASPIRIN)], conditions=[later])) == ()


@pytest.mark.parametrize("protection", [OMEPRAZOLE, FAMOTIDINE])
def test_ppi_or_h2_antagonist_protects(protection: tuple[str, str]) -> None:
    ctx = context(on_discharge=[drug(*CLOPIDOGREL), drug(*protection)], conditions=[ULCER])
    assert run(ctx) == ()


def test_ppi_continued_from_before_admission_protects() -> None:
    ctx = context(on_discharge=[drug(*ASPIRIN)], before=[drug(*OMEPRAZOLE)], conditions=[ULCER])
    assert run(ctx) == ()


def test_misoprostol_in_arthrotec_does_not_protect_the_antiplatelet() -> None:
    ctx = context(on_discharge=[drug(*ASPIRIN), drug(*ARTHROTEC)], conditions=[ULCER])
    assert_finding(one(ctx), [ASPIRIN[0]])


def test_antiplatelet_marked_stopped_does_not_count() -> None:
    ctx = context(before=[drug(*CLOPIDOGREL, status="stopped")], conditions=[ULCER])
    assert run(ctx) == ()


def test_pre_admission_aspirin_left_active_but_not_on_discharge_list_counts() -> None:
    ctx = context(
        on_discharge=[drug("Paracetamol 500mg tablets")],
        before=[drug(*ASPIRIN)],
        conditions=[BLEED],
    )
    f = one(ctx)
    assert_finding(f, [ASPIRIN[0]])
    assert "not marked stopped" in f.detail


def test_text_only_antiplatelet_matches_unverified() -> None:
    f = one(context(on_discharge=[drug("Clopidogrel 75mg tablets")], conditions=[ULCER]))
    assert_finding(f, ["Clopidogrel 75mg tablets"], unverified=True)
