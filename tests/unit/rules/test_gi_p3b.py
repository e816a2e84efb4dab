"""Spec tests for GI_P3B: peptic ulcer or GI bleed history, oral NSAID, no PPI or H2 antagonist."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.gi_p3b import META, NsaidUlcerHistoryNoGastroprotection
from tests.unit.rules.builders import DISCHARGED, condition, context, drug

RULE = NsaidUlcerHistoryNoGastroprotection()

# dm+d codes and terms from nsaids-oral-pincer-dmd.csv and
# ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv
NAPROXEN = ("Naproxen 250mg tablets", "329806007")
IBUPROFEN = ("Ibuprofen 400mg tablets", "329653008")
ARTHROTEC = ("Arthrotec 50 gastro-resistant tablets (Pfizer Ltd)", "3159911000001101")
NAPROXEN_ESOMEPRAZOLE = (
    "Naproxen 500mg / Esomeprazole 20mg modified-release tablets",
    "18245811000001107",
)
OMEPRAZOLE = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
FAMOTIDINE = ("Famotidine 20mg tablets", "317275005")
# SNOMED CT codes from peptic-ulcer-pincer-snomed.csv and gi-bleed-pincer-snomed.csv
PEPTIC_ULCER = "13200003"  # Peptic ulcer
GASTRIC_ULCER = "397825006"  # Gastric ulcer
UPPER_GI_BLEED = "37372002"  # Upper gastrointestinal hemorrhage
HAEMATEMESIS = "8765009"  # Hematemesis
ASTHMA = "195967001"  # Asthma: not in either list

ULCER_2024 = condition(GASTRIC_ULCER, date(2024, 3, 1), text="Gastric ulcer")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple), result
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def assert_finding(f: Finding, names: list[str], *, unverified: bool = False) -> None:
    assert f.rule_id == "GI_P3B"
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


def test_naproxen_after_gastric_ulcer_without_ppi_is_one_moderate_finding() -> None:
    f = one(context(on_discharge=[drug(*NAPROXEN)], conditions=[ULCER_2024], age=40))
    assert_finding(f, [NAPROXEN[0]])
    assert f.evidence[0] == "History: Gastric ulcer (2024-03-01)"
    assert "Gastric ulcer" in f.detail
    assert f.act_code == "COND"


@pytest.mark.parametrize("code", [PEPTIC_ULCER, GASTRIC_ULCER, UPPER_GI_BLEED, HAEMATEMESIS])
def test_peptic_ulcer_and_gi_bleed_codes_both_count(code: str) -> None:
    ctx = context(on_discharge=[drug(*IBUPROFEN)], conditions=[condition(code, date(2020, 1, 1))])
    f = one(ctx)
    assert_finding(f, [IBUPROFEN[0]])
    assert f.evidence[0] == f"History: SNOMED CT {code} (2020-01-01)"


def test_age_does_not_matter() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN)], conditions=[ULCER_2024], age=30)
    assert len(run(ctx)) == 1


def test_no_history_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*NAPROXEN)], age=90)) == ()


def test_unrelated_condition_is_no_finding() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN)], conditions=[condition(ASTHMA, date(2020, 1, 1))])
    assert run(ctx) == ()


def test_history_without_nsaid_is_no_finding() -> None:
    assert run(context(on_discharge=[drug(*OMEPRAZOLE)], conditions=[ULCER_2024])) == ()


def test_condition_dated_after_discharge_does_not_count() -> None:
    later = condition(PEPTIC_ULCER, DISCHARGED + timedelta(days=1))
    assert run(context(on_discharge=[drug(*NAPROXEN)], conditions=[later])) == ()


def test_condition_diagnosed_on_the_discharge_date_counts() -> None:
    today = condition(UPPER_GI_BLEED, DISCHARGED)
    assert len(run(context(on_discharge=[drug(*NAPROXEN)], conditions=[today]))) == 1


def test_undated_condition_counts() -> None:
    f = one(context(on_discharge=[drug(*NAPROXEN)], conditions=[condition(PEPTIC_ULCER)]))
    assert "(date not recorded)" in f.evidence[0]


def test_condition_entered_in_error_does_not_count() -> None:
    wrong = condition(PEPTIC_ULCER, date(2024, 1, 1), status="entered-in-error")
    assert run(context(on_discharge=[drug(*NAPROXEN)], conditions=[wrong])) == ()


def test_resolved_ulcer_is_still_a_history() -> None:
    healed = condition(PEPTIC_ULCER, date(2015, 1, 1), status="resolved")
    assert len(run(context(on_discharge=[drug(*NAPROXEN)], conditions=[healed]))) == 1


def test_ulcer_and_bleed_history_give_one_finding_with_both_in_evidence() -> None:
    bleed = condition(HAEMATEMESIS, date(2025, 6, 1), text="Haematemesis")
    f = one(context(on_discharge=[drug(*NAPROXEN)], conditions=[ULCER_2024, bleed]))
    assert "History: Gastric ulcer (2024-03-01)" in f.evidence
    assert "History: Haematemesis (2025-06-01)" in f.evidence


@pytest.mark.parametrize("protection", [OMEPRAZOLE, FAMOTIDINE])
def test_ppi_or_h2_antagonist_protects(protection: tuple[str, str]) -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN), drug(*protection)], conditions=[ULCER_2024])
    assert run(ctx) == ()


def test_arthrotec_misoprostol_does_not_protect() -> None:
    f = one(context(on_discharge=[drug(*ARTHROTEC)], conditions=[ULCER_2024]))
    assert_finding(f, [ARTHROTEC[0]])
    assert any("Misoprostol" in e for e in f.evidence)


def test_nsaid_ppi_combination_product_protects_itself() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN_ESOMEPRAZOLE)], conditions=[ULCER_2024])
    assert run(ctx) == ()


def test_stopped_ppi_does_not_protect() -> None:
    ctx = context(
        on_discharge=[drug(*NAPROXEN)],
        before=[drug(*OMEPRAZOLE, status="stopped")],
        conditions=[ULCER_2024],
    )
    assert len(run(ctx)) == 1


def test_nsaid_marked_stopped_does_not_count() -> None:
    ctx = context(before=[drug(*NAPROXEN, status="stopped")], conditions=[ULCER_2024])
    assert run(ctx) == ()


def test_pre_admission_nsaid_left_active_but_not_on_discharge_list_counts() -> None:
    ctx = context(
        on_discharge=[drug("Paracetamol 500mg tablets")],
        before=[drug(*IBUPROFEN)],
        conditions=[ULCER_2024],
    )
    f = one(ctx)
    assert_finding(f, [IBUPROFEN[0]])
    assert "not marked stopped" in f.detail


def test_text_only_nsaid_matches_unverified() -> None:
    f = one(context(on_discharge=[drug("Naproxen 250mg tablets")], conditions=[ULCER_2024]))
    assert_finding(f, ["Naproxen 250mg tablets"], unverified=True)


def test_topical_nsaid_gel_is_not_an_oral_nsaid() -> None:
    ctx = context(on_discharge=[drug("Ibuprofen 5% gel")], conditions=[ULCER_2024])
    assert run(ctx) == ()
