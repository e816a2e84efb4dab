"""Spec tests for MO_P15: methotrexate for 3 months or more, no full blood count and/or no
liver function test in 3 months (PINCER)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from tcam_bridge.core.clinical import months_before
from tcam_bridge.core.discharge import Observation
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable
from tcam_bridge.rules.mo_p15 import MethotrexateNoBloodMonitoring
from tests.unit.rules.builders import DISCHARGED, context, drug, observation

RULE = MethotrexateNoBloodMonitoring()

METHOTREXATE = ("Methotrexate 2.5mg tablets", "326874007")
FBC = "1022441000000101"  # Full blood count (pincer/fbc)
LFT = "997531000000108"  # Liver function test (pincer/lft)

WINDOW = months_before(DISCHARGED, 3)  # 2026-08-18
LONG_TERM_START = months_before(DISCHARGED, 4)
RECENT = DISCHARGED - timedelta(days=30)


def evaluate(ctx: Context) -> tuple[Finding, ...] | NotAssessable:
    return RULE.evaluate(ctx)


def on(
    *,
    started: date | None = LONG_TERM_START,
    observations: Sequence[Observation] = (),
    status: str = "active",
) -> Context:
    return context(
        on_discharge=[drug(*METHOTREXATE)],
        before=[drug(*METHOTREXATE, started=started, status=status)],
        observations=observations,
    )


def findings(ctx: Context) -> tuple[Finding, ...]:
    result = evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def test_no_fbc_and_no_lft_is_two_moderate_findings_one_per_test() -> None:
    fbc, lft = findings(on())
    for f in (fbc, lft):
        assert f.rule_id == "MO_P15"
        assert f.rule_version == "1.0.0"
        assert f.severity is FindingSeverity.MODERATE
        assert f.act_code is None
        assert f.unverified is False
        assert [i.code for i in f.implicated] == ["326874007"]
        assert "Methotrexate 2.5mg tablets" in f.detail
        assert "not proof" in f.detail
    assert "full blood count" in fbc.title
    assert "full blood count" in fbc.detail
    assert "No full blood count recorded since 2026-08-18" in fbc.evidence
    assert "liver function test" in lft.title
    assert "liver function test" in lft.action
    assert "No liver function test recorded since 2026-08-18" in lft.evidence


def test_both_tests_in_window_does_not_fire() -> None:
    assert findings(on(observations=[observation(FBC, RECENT), observation(LFT, RECENT)])) == ()


def test_only_fbc_missing_is_one_fbc_finding() -> None:
    (f,) = findings(on(observations=[observation(LFT, RECENT)]))
    assert "full blood count" in f.title


def test_only_lft_missing_is_one_lft_finding() -> None:
    (f,) = findings(on(observations=[observation(FBC, RECENT)]))
    assert "liver function test" in f.title


def test_test_on_the_first_day_of_the_window_counts_the_day_before_does_not() -> None:
    assert findings(on(observations=[observation(FBC, WINDOW), observation(LFT, WINDOW)])) == ()
    day_before = WINDOW - timedelta(days=1)
    result = findings(on(observations=[observation(FBC, day_before), observation(LFT, WINDOW)]))
    (f,) = result
    assert "full blood count" in f.title
    assert f"Last full blood count in the message: {day_before.isoformat()}" in f.evidence


def test_window_is_three_calendar_months_not_90_days() -> None:
    # 2026-11-18 minus 3 months is 2026-08-18: 92 days, so tests 89 and 91 days back count.
    assert (DISCHARGED - WINDOW).days == 92
    for days in (89, 91, 92):
        tested = DISCHARGED - timedelta(days=days)
        ctx = on(observations=[observation(FBC, tested), observation(LFT, tested)])
        assert findings(ctx) == (), days
    tested = DISCHARGED - timedelta(days=93)
    assert len(findings(on(observations=[observation(FBC, tested), observation(LFT, tested)]))) == 2


def test_started_2_months_ago_does_not_fire_4_months_ago_does() -> None:
    assert findings(on(started=months_before(DISCHARGED, 2))) == ()
    assert len(findings(on(started=months_before(DISCHARGED, 4)))) == 2


def test_started_exactly_3_months_ago_counts_a_day_later_does_not() -> None:
    assert len(findings(on(started=WINDOW))) == 2
    assert findings(on(started=WINDOW + timedelta(days=1))) == ()


def test_no_start_date_is_not_assessable() -> None:
    assert evaluate(on(started=None)) == NotAssessable(
        "no start date for Methotrexate 2.5mg tablets"
    )


def test_no_start_date_but_tests_done_is_simply_no_finding() -> None:
    ctx = on(started=None, observations=[observation(FBC, RECENT), observation(LFT, RECENT)])
    assert evaluate(ctx) == ()


def test_methotrexate_marked_stopped_does_not_count() -> None:
    ctx = context(before=[drug(*METHOTREXATE, started=date(2024, 1, 1), status="stopped")])
    assert evaluate(ctx) == ()


def test_methotrexate_dropped_without_being_marked_stopped_still_counts() -> None:
    ctx = context(before=[drug(*METHOTREXATE, started=date(2024, 1, 1))])
    assert len(findings(ctx)) == 2


def test_text_only_medicine_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Metoject 15mg/0.3ml solution for injection pre-filled pen")],
        before=[
            drug(
                "Metoject 15mg/0.3ml solution for injection pre-filled pen",
                started=date(2024, 1, 1),
            )
        ],
    )
    fbc, lft = findings(ctx)
    assert fbc.unverified is True
    assert lft.unverified is True
