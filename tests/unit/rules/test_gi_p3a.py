"""Spec tests for GI_P3A: oral NSAID, age 65 or over, no PPI or H2 antagonist."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable
from tcam_bridge.rules.gi_p3a import META, NsaidElderlyNoGastroprotection
from tests.unit.rules.builders import context, drug

RULE = NsaidElderlyNoGastroprotection()

# dm+d codes and terms from nsaids-oral-pincer-dmd.csv and
# ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv
NAPROXEN = ("Naproxen 250mg tablets", "329806007")
IBUPROFEN = ("Ibuprofen 400mg tablets", "329653008")
CELECOXIB = ("Celecoxib 200mg capsules", "330169002")
ARTHROTEC = ("Arthrotec 50 gastro-resistant tablets (Pfizer Ltd)", "3159911000001101")
DICLOFENAC_MISOPROSTOL = (
    "Diclofenac sodium 50mg gastro-resistant / Misoprostol 200microgram tablets",
    "329598005",
)
NAPROXEN_ESOMEPRAZOLE = (
    "Naproxen 500mg / Esomeprazole 20mg modified-release tablets",
    "18245811000001107",
)
IBUPROFEN_TOPICAL = ("Ibuprofen in topical dosage form", "350322005")
OMEPRAZOLE = ("Omeprazole 20mg gastro-resistant capsules", "317291008")
LANSOPRAZOLE = ("Lansoprazole 30mg gastro-resistant capsules", "317309001")
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
    assert f.rule_id == "GI_P3A"
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


def test_naproxen_at_78_without_ppi_is_one_moderate_finding() -> None:
    f = one(context(on_discharge=[drug(*NAPROXEN)], age=78))
    assert_finding(f, [NAPROXEN[0]])
    assert f.implicated[0].code == NAPROXEN[1]
    assert f.implicated[0].change == "new"
    assert f.evidence[0] == "Age 78 on 2026-11-18"
    assert f.act_code == "AGE"
    assert "78" in f.detail
    assert "PPI" in f.action


def test_celecoxib_cox2_counts_as_an_oral_nsaid() -> None:
    assert_finding(one(context(on_discharge=[drug(*CELECOXIB)], age=70)), [CELECOXIB[0]])


def test_two_nsaids_are_one_finding_implicating_both() -> None:
    f = one(context(on_discharge=[drug(*NAPROXEN), drug(*IBUPROFEN)], age=80))
    assert_finding(f, [NAPROXEN[0], IBUPROFEN[0]])
    assert "NSAIDs, are prescribed" in f.detail


@pytest.mark.parametrize(("age", "fires"), [(64, False), (65, True), (66, True), (18, False)])
def test_age_boundary_is_65_on_the_discharge_date(age: int, fires: bool) -> None:
    assert len(run(context(on_discharge=[drug(*NAPROXEN)], age=age))) == int(fires)


def with_birth_date(ctx: Context, birth: date | None) -> Context:
    patient = replace(ctx.discharge.patient, birth_date=birth)
    return replace(ctx, discharge=replace(ctx.discharge, patient=patient))


def test_65th_birthday_the_day_after_discharge_is_still_64() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN)])
    assert run(with_birth_date(ctx, date(1961, 11, 18))) != ()  # 65 today
    assert run(with_birth_date(ctx, date(1961, 11, 19))) == ()  # 65 tomorrow


def test_unknown_age_with_unprotected_nsaid_is_not_assessable() -> None:
    result = RULE.evaluate(context(on_discharge=[drug(*NAPROXEN)], age=None))
    assert isinstance(result, NotAssessable)
    assert "birth date" in result.reason


def test_unknown_age_without_nsaid_is_simply_no_finding() -> None:
    assert RULE.evaluate(context(on_discharge=[drug(*OMEPRAZOLE)], age=None)) == ()


def test_unknown_age_with_nsaid_and_ppi_is_no_finding() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN), drug(*OMEPRAZOLE)], age=None)
    assert RULE.evaluate(ctx) == ()


@pytest.mark.parametrize("protection", [OMEPRAZOLE, LANSOPRAZOLE, FAMOTIDINE, RANITIDINE])
def test_a_ppi_or_h2_antagonist_on_discharge_protects(protection: tuple[str, str]) -> None:
    assert run(context(on_discharge=[drug(*NAPROXEN), drug(*protection)], age=80)) == ()


def test_a_ppi_continued_from_before_admission_and_not_stopped_protects() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN)], before=[drug(*OMEPRAZOLE)], age=80)
    assert run(ctx) == ()


def test_a_ppi_marked_stopped_does_not_protect() -> None:
    ctx = context(
        on_discharge=[drug(*NAPROXEN)], before=[drug(*OMEPRAZOLE, status="stopped")], age=80
    )
    assert_finding(one(ctx), [NAPROXEN[0]])


def test_text_only_ppi_protects() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN), drug("Omeprazole 20mg capsules")], age=80)
    assert run(ctx) == ()


@pytest.mark.parametrize("nsaid", [ARTHROTEC, DICLOFENAC_MISOPROSTOL])
def test_misoprostol_combination_alone_is_not_gastroprotection(nsaid: tuple[str, str]) -> None:
    f = one(context(on_discharge=[drug(*nsaid)], age=72))
    assert_finding(f, [nsaid[0]])
    assert any("Misoprostol" in e for e in f.evidence)


def test_separate_misoprostol_is_not_gastroprotection() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN), drug("Misoprostol 200microgram tablets")], age=72)
    assert_finding(one(ctx), [NAPROXEN[0]])


def test_nsaid_with_ppi_combination_product_protects_itself() -> None:
    assert run(context(on_discharge=[drug(*NAPROXEN_ESOMEPRAZOLE)], age=80)) == ()


def test_nsaid_marked_stopped_before_admission_does_not_count() -> None:
    assert run(context(before=[drug(*NAPROXEN, status="stopped")], age=80)) == ()


def test_nsaid_stopped_on_the_discharge_list_does_not_count() -> None:
    ctx = context(on_discharge=[drug(*NAPROXEN, status="stopped")], before=[drug(*NAPROXEN)])
    assert run(ctx) == ()


def test_nsaid_on_hold_does_not_count() -> None:
    assert run(context(on_discharge=[drug(*NAPROXEN, status="on-hold")], age=80)) == ()


def test_pre_admission_nsaid_left_active_but_not_on_discharge_list_counts() -> None:
    f = one(context(on_discharge=[drug("Paracetamol 500mg tablets")], before=[drug(*IBUPROFEN)]))
    assert_finding(f, [IBUPROFEN[0]])
    assert "not marked stopped" in f.detail
    assert any("not on the discharge list" in e for e in f.evidence)


def test_text_only_nsaid_matches_unverified() -> None:
    f = one(context(on_discharge=[drug("Naproxen 250mg tablets")], age=80))
    assert_finding(f, ["Naproxen 250mg tablets"], unverified=True)
    assert f.implicated[0].code is None
    assert any("unverified" in e for e in f.evidence)


def test_brand_name_only_nsaid_matches_unverified() -> None:
    f = one(context(on_discharge=[drug("Nurofen 200mg tablets")], age=80))
    assert_finding(f, ["Nurofen 200mg tablets"], unverified=True)


@pytest.mark.parametrize(
    "topical",
    [
        drug("Ibuprofen 5% gel"),
        drug("Diclofenac diethylammonium 1.16% gel"),
        drug("Flurbiprofen 0.03% eye drops"),
        drug(*IBUPROFEN_TOPICAL),
    ],
)
def test_topical_or_eye_nsaid_is_not_an_oral_nsaid(topical: tuple) -> None:  # type: ignore[type-arg]
    assert run(context(on_discharge=[topical], age=80)) == ()


def test_no_medicines_is_no_finding() -> None:
    assert run(context(age=90)) == ()
