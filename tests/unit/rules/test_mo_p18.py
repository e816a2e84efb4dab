"""Spec tests for MO_P18: amiodarone for 6 months or more, no thyroid function test in 6 months
(PINCER)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from tcam_bridge.core.clinical import months_before
from tcam_bridge.core.discharge import Observation
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable
from tcam_bridge.rules.mo_p18 import AmiodaroneNoThyroidTest
from tests.unit.rules.builders import DISCHARGED, context, drug, observation

RULE = AmiodaroneNoThyroidTest()

AMIODARONE = ("Amiodarone 200mg tablets", "318187007")
TSH = "1022791000000101"  # Serum thyroid stimulating hormone level (pincer/tft)
FREE_T4 = "1016971000000106"  # Serum free T4 level (pincer/tft)
LFT = "997531000000108"  # Liver function test: not a thyroid test

WINDOW = months_before(DISCHARGED, 6)  # 2026-05-18
LONG_TERM_START = months_before(DISCHARGED, 7)
RECENT = DISCHARGED - timedelta(days=60)


def evaluate(ctx: Context) -> tuple[Finding, ...] | NotAssessable:
    return RULE.evaluate(ctx)


def on(
    *,
    started: date | None = LONG_TERM_START,
    observations: Sequence[Observation] = (),
) -> Context:
    return context(
        on_discharge=[drug(*AMIODARONE)],
        before=[drug(*AMIODARONE, started=started)],
        observations=observations,
    )


def findings(ctx: Context) -> tuple[Finding, ...]:
    result = evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def test_amiodarone_for_7_months_with_no_tft_is_one_moderate_finding() -> None:
    (f,) = findings(on())
    assert f.rule_id == "MO_P18"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.MODERATE
    assert f.act_code is None
    assert f.unverified is False
    assert [i.code for i in f.implicated] == ["318187007"]
    assert "Amiodarone 200mg tablets" in f.detail
    assert "thyroid function test" in f.detail
    assert "not proof" in f.detail
    assert "No thyroid function test recorded since 2026-05-18" in f.evidence


def test_tsh_or_free_t4_in_window_does_not_fire() -> None:
    assert findings(on(observations=[observation(TSH, RECENT, 2.0)])) == ()
    assert findings(on(observations=[observation(FREE_T4, RECENT, 15)])) == ()


def test_other_tests_do_not_count() -> None:
    assert len(findings(on(observations=[observation(LFT, RECENT)]))) == 1


def test_test_on_the_first_day_of_the_window_counts_the_day_before_does_not() -> None:
    assert findings(on(observations=[observation(TSH, WINDOW, 2.0)])) == ()
    day_before = WINDOW - timedelta(days=1)
    (f,) = findings(on(observations=[observation(TSH, day_before, 2.0)]))
    assert f"Last thyroid function test in the message: {day_before.isoformat()}" in f.evidence


def test_started_5_months_ago_does_not_fire_7_months_ago_does() -> None:
    assert findings(on(started=months_before(DISCHARGED, 5))) == ()
    assert len(findings(on(started=months_before(DISCHARGED, 7)))) == 1


def test_started_exactly_6_months_ago_counts_a_day_later_does_not() -> None:
    assert len(findings(on(started=WINDOW))) == 1
    assert findings(on(started=WINDOW + timedelta(days=1))) == ()


def test_no_start_date_is_not_assessable() -> None:
    assert evaluate(on(started=None)) == NotAssessable("no start date for Amiodarone 200mg tablets")


def test_amiodarone_marked_stopped_does_not_count() -> None:
    ctx = context(before=[drug(*AMIODARONE, started=date(2024, 1, 1), status="stopped")])
    assert evaluate(ctx) == ()


def test_amiodarone_stopped_on_the_discharge_list_does_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*AMIODARONE, status="stopped")],
        before=[drug(*AMIODARONE, started=date(2024, 1, 1))],
    )
    assert evaluate(ctx) == ()


def test_text_only_medicine_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Amiodarone 100mg tablets (unlicensed import)")],
        before=[drug("Amiodarone 100mg tablets (unlicensed import)", started=date(2024, 1, 1))],
    )
    (f,) = findings(ctx)
    assert f.unverified is True
