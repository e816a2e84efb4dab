"""Spec tests for MO_P13: age 75+, long-term ACE inhibitor or loop diuretic, no renal and
electrolyte monitoring in 15 months (PINCER)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from tcam_bridge.core.clinical import months_before
from tcam_bridge.core.discharge import Observation
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable
from tcam_bridge.rules.mo_p13 import ElderlyAceiOrLoopDiureticNoRenalMonitoring
from tests.unit.rules.builders import DISCHARGED, context, drug, observation

RULE = ElderlyAceiOrLoopDiureticNoRenalMonitoring()

RAMIPRIL = ("Ramipril 5mg capsules", "318902004")
LOSARTAN = ("Losartan 50mg tablets", "318956006")
FUROSEMIDE = ("Furosemide 40mg tablets", "317972000")
SPIRONOLACTONE = ("Spironolactone 25mg tablets", "318056008")  # in pincer/diur, not a loop
SERUM_CREATININE = "1000731000000107"  # Serum creatinine level (pincer/renal)
UE = "1000971000000107"  # Urea and electrolytes level (pincer/electro)

WINDOW = months_before(DISCHARGED, 15)  # 2025-08-18
LONG_AGO = months_before(DISCHARGED, 16)
RECENT = DISCHARGED - timedelta(days=60)


def evaluate(ctx: Context) -> tuple[Finding, ...] | NotAssessable:
    return RULE.evaluate(ctx)


def on(
    medicine: tuple[str, str] = RAMIPRIL,
    *,
    started: date | None = LONG_AGO,
    age: int | None = 80,
    observations: Sequence[Observation] = (),
    status: str = "active",
) -> Context:
    return context(
        on_discharge=[drug(*medicine)],
        before=[drug(*medicine, started=started, status=status)],
        observations=observations,
        age=age,
    )


def both_tests(on_day: date = RECENT) -> list[Observation]:
    return [observation(SERUM_CREATININE, on_day, 90), observation(UE, on_day)]


def test_long_term_ramipril_at_80_with_no_tests_is_one_moderate_finding() -> None:
    result = evaluate(on())
    assert isinstance(result, tuple)
    (f,) = result
    assert f.rule_id == "MO_P13"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.MODERATE
    assert f.act_code is None
    assert f.unverified is False
    assert [i.code for i in f.implicated] == ["318902004"]
    assert "Ramipril 5mg capsules" in f.detail
    assert "renal function test" in f.detail
    assert "electrolytes test" in f.detail
    assert "not proof" in f.detail
    assert "No renal function test (creatinine or eGFR) recorded since 2025-08-18" in f.evidence


def test_both_tests_in_window_does_not_fire() -> None:
    assert evaluate(on(observations=both_tests())) == ()


def test_only_renal_test_fires_naming_the_missing_electrolytes() -> None:
    result = evaluate(on(observations=[observation(SERUM_CREATININE, RECENT, 90)]))
    assert isinstance(result, tuple)
    (f,) = result
    assert "electrolytes test" in f.detail
    assert "renal function test" not in f.detail


def test_only_electrolytes_test_fires_naming_the_missing_renal_test() -> None:
    result = evaluate(on(observations=[observation(UE, RECENT)]))
    assert isinstance(result, tuple)
    (f,) = result
    assert "renal function test" in f.detail
    assert "electrolytes test" not in f.detail


def test_tests_on_the_first_day_of_the_window_count_the_day_before_does_not() -> None:
    assert evaluate(on(observations=both_tests(WINDOW))) == ()
    result = evaluate(on(observations=both_tests(WINDOW - timedelta(days=1))))
    assert isinstance(result, tuple)
    (f,) = result
    day_before = (WINDOW - timedelta(days=1)).isoformat()
    assert any(e.startswith("Last renal function test") and day_before in e for e in f.evidence)


def test_age_74_does_not_fire_age_75_does() -> None:
    assert evaluate(on(age=74)) == ()
    result = evaluate(on(age=75))
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_started_14_months_ago_does_not_fire_16_months_ago_does() -> None:
    assert evaluate(on(started=months_before(DISCHARGED, 14))) == ()
    result = evaluate(on(started=months_before(DISCHARGED, 16)))
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_started_exactly_15_months_ago_counts() -> None:
    result = evaluate(on(started=WINDOW))
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_loop_diuretic_counts() -> None:
    result = evaluate(on(FUROSEMIDE))
    assert isinstance(result, tuple)
    assert [i.code for i in result[0].implicated] == ["317972000"]


def test_arb_in_the_pincer_acei_list_counts() -> None:
    result = evaluate(on(LOSARTAN))
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_spironolactone_from_the_wide_pincer_diuretic_list_does_not_count() -> None:
    assert evaluate(on(SPIRONOLACTONE)) == ()


def test_no_start_date_is_not_assessable() -> None:
    result = evaluate(on(started=None))
    assert result == NotAssessable("no start date for Ramipril 5mg capsules")


def test_no_start_date_but_tests_done_is_simply_no_finding() -> None:
    assert evaluate(on(started=None, observations=both_tests())) == ()


def test_no_date_of_birth_is_not_assessable() -> None:
    result = evaluate(on(age=None))
    assert isinstance(result, NotAssessable)
    assert "date of birth" in result.reason


def test_medicine_marked_stopped_does_not_count() -> None:
    ctx = context(before=[drug(*RAMIPRIL, started=LONG_AGO, status="stopped")], age=80)
    assert evaluate(ctx) == ()


def test_new_medicine_started_in_hospital_does_not_count() -> None:
    ctx = context(on_discharge=[drug(*RAMIPRIL, started=date(2026, 11, 10))], age=80)
    assert evaluate(ctx) == ()


def test_text_only_medicine_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Lisinopril 10mg tablets")],
        before=[drug("Lisinopril 10mg tablets", started=LONG_AGO)],
        age=80,
    )
    result = evaluate(ctx)
    assert isinstance(result, tuple)
    (f,) = result
    assert f.unverified is True
