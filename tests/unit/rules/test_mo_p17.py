"""Spec tests for MO_P17: lithium for 3 months or more, no lithium level in 3 months (PINCER)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from tcam_bridge.core.clinical import months_before
from tcam_bridge.core.discharge import Observation
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable
from tcam_bridge.rules.mo_p17 import LithiumNoLevel
from tests.unit.rules.builders import DISCHARGED, context, drug, observation

RULE = LithiumNoLevel()

LITHIUM = ("Lithium carbonate 400mg modified-release tablets", "13177001000001108")
PRIADEL = ("Priadel 400mg modified-release tablets (Essential Pharma M)", "766311000001100")
LITHIUM_LEVEL = "1006681000000100"  # Serum lithium level (pincer/lith_lev)
TSH = "1022791000000101"  # Serum thyroid stimulating hormone level: not a lithium level

WINDOW = months_before(DISCHARGED, 3)  # 2026-08-18
LONG_TERM_START = months_before(DISCHARGED, 4)
RECENT = DISCHARGED - timedelta(days=30)


def evaluate(ctx: Context) -> tuple[Finding, ...] | NotAssessable:
    return RULE.evaluate(ctx)


def on(
    medicine: tuple[str, str] = LITHIUM,
    *,
    started: date | None = LONG_TERM_START,
    observations: Sequence[Observation] = (),
) -> Context:
    return context(
        on_discharge=[drug(*medicine)],
        before=[drug(*medicine, started=started)],
        observations=observations,
    )


def findings(ctx: Context) -> tuple[Finding, ...]:
    result = evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def test_lithium_for_4_months_with_no_level_is_one_moderate_finding() -> None:
    (f,) = findings(on())
    assert f.rule_id == "MO_P17"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.MODERATE
    assert f.act_code is None
    assert f.unverified is False
    assert [i.code for i in f.implicated] == ["13177001000001108"]
    assert "Lithium carbonate 400mg modified-release tablets" in f.detail
    assert "lithium level" in f.detail
    assert "not proof" in f.detail
    assert "No lithium level recorded since 2026-08-18" in f.evidence


def test_brand_counts() -> None:
    (f,) = findings(on(PRIADEL))
    assert f.unverified is False


def test_level_in_window_does_not_fire_whatever_the_result() -> None:
    assert findings(on(observations=[observation(LITHIUM_LEVEL, RECENT, 1.4)])) == ()


def test_other_tests_do_not_count_as_a_lithium_level() -> None:
    assert len(findings(on(observations=[observation(TSH, RECENT, 2.1)]))) == 1


def test_level_on_the_first_day_of_the_window_counts_the_day_before_does_not() -> None:
    assert findings(on(observations=[observation(LITHIUM_LEVEL, WINDOW, 0.6)])) == ()
    day_before = WINDOW - timedelta(days=1)
    (f,) = findings(on(observations=[observation(LITHIUM_LEVEL, day_before, 0.6)]))
    assert f"Last lithium level in the message: {day_before.isoformat()}" in f.evidence


def test_window_is_three_calendar_months_not_90_days() -> None:
    assert (DISCHARGED - WINDOW).days == 92
    for days in (89, 91):
        level = observation(LITHIUM_LEVEL, DISCHARGED - timedelta(days=days), 0.6)
        assert findings(on(observations=[level])) == (), days


def test_started_2_months_ago_does_not_fire_4_months_ago_does() -> None:
    assert findings(on(started=months_before(DISCHARGED, 2))) == ()
    assert len(findings(on(started=months_before(DISCHARGED, 4)))) == 1


def test_started_exactly_3_months_ago_counts_a_day_later_does_not() -> None:
    assert len(findings(on(started=WINDOW))) == 1
    assert findings(on(started=WINDOW + timedelta(days=1))) == ()


def test_no_start_date_is_not_assessable() -> None:
    result = evaluate(on(started=None))
    assert result == NotAssessable(
        "no start date for Lithium carbonate 400mg modified-release tablets"
    )


def test_new_lithium_started_at_discharge_with_a_date_does_not_fire() -> None:
    ctx = context(on_discharge=[drug(*LITHIUM, started=date(2026, 11, 1))])
    assert findings(ctx) == ()


def test_lithium_marked_stopped_does_not_count() -> None:
    ctx = context(before=[drug(*LITHIUM, started=date(2024, 1, 1), status="stopped")])
    assert evaluate(ctx) == ()


def test_text_only_medicine_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Camcolit 400 tablets")],
        before=[drug("Camcolit 400 tablets", started=date(2024, 1, 1))],
    )
    (f,) = findings(ctx)
    assert f.unverified is True
