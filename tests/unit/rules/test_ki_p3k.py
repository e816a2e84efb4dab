"""Spec tests for KI_P3K: an oral NSAID with eGFR below 45 (PINCER)."""

from __future__ import annotations

from datetime import date

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable
from tcam_bridge.rules.ki_p3k import LowEgfrNsaid
from tests.unit.rules.builders import DISCHARGED, context, drug, observation

RULE = LowEgfrNsaid()

EGFR = "1011481000000105"  # eGFR using creatinine CKD-EPI per 1.73m2 (pincer/egfr)
GFR = "80274001"  # Glomerular filtration rate (pincer/egfr)
SERUM_CREATININE = "1000731000000107"  # renal function test, not an eGFR
IBUPROFEN = ("Ibuprofen 400mg tablets", "329653008")
TESTED = date(2026, 10, 2)


def evaluate(ctx: Context) -> tuple[Finding, ...] | NotAssessable:
    return RULE.evaluate(ctx)


def with_egfr(value: float | None, comparator: str | None = None, on: date = TESTED) -> Context:
    return context(
        on_discharge=[drug(*IBUPROFEN)], observations=[observation(EGFR, on, value, comparator)]
    )


def test_egfr_38_and_ibuprofen_is_one_high_finding() -> None:
    result = evaluate(with_egfr(38))
    assert isinstance(result, tuple)
    (f,) = result
    assert f.rule_id == "KI_P3K"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.HIGH
    assert f.act_code == "DRUG"
    assert f.unverified is False
    assert [i.code for i in f.implicated] == ["329653008"]
    assert "Latest eGFR 38 mL/min/1.73m2 on 2026-10-02" in f.evidence
    assert "Ibuprofen 400mg tablets" in f.detail


@pytest.mark.parametrize(
    ("value", "comparator", "fires"),
    [
        (44, None, True),
        (44.9, None, True),
        (45, None, False),
        (60, None, False),
        (30, "<", True),
        (45, "<", True),
        (90, ">", False),
        (90, ">=", False),
    ],
)
def test_threshold_and_comparators(value: float, comparator: str | None, fires: bool) -> None:
    result = evaluate(with_egfr(value, comparator))
    assert isinstance(result, tuple)
    assert len(result) == (1 if fires else 0)


@pytest.mark.parametrize(
    ("value", "comparator"),
    [(40, "~"), (1, "<"), (0.5, None), (None, None), (30, ">"), (60, "<")],
)
def test_values_pincer_excludes_or_that_cannot_be_compared_are_not_assessable(
    value: float | None, comparator: str | None
) -> None:
    result = evaluate(with_egfr(value, comparator))
    assert isinstance(result, NotAssessable)
    assert "eGFR" in result.reason


def test_no_egfr_with_nsaid_is_not_assessable() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)], observations=[observation(SERUM_CREATININE, TESTED, 150)]
    )
    assert evaluate(ctx) == NotAssessable("no eGFR result in the message")


def test_no_nsaid_does_not_fire_and_is_not_reported_even_without_egfr() -> None:
    assert evaluate(context(on_discharge=[drug("Paracetamol 500mg tablets")])) == ()
    assert (
        evaluate(
            context(
                on_discharge=[drug("Paracetamol 500mg tablets")],
                observations=[observation(EGFR, TESTED, 20)],
            )
        )
        == ()
    )


def test_latest_egfr_decides_a_newer_normal_value_clears_an_older_low_one() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)],
        observations=[observation(EGFR, date(2026, 1, 5), 30), observation(GFR, TESTED, 62)],
    )
    assert evaluate(ctx) == ()


def test_latest_egfr_decides_a_newer_low_value_fires() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)],
        observations=[observation(GFR, TESTED, 40), observation(EGFR, date(2026, 1, 5), 70)],
    )
    result = evaluate(ctx)
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_egfr_dated_after_discharge_is_ignored() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)],
        observations=[observation(EGFR, TESTED, 70), observation(EGFR, date(2026, 12, 1), 30)],
    )
    assert evaluate(ctx) == ()


def test_egfr_on_the_discharge_date_counts() -> None:
    result = evaluate(with_egfr(40, on=DISCHARGED))
    assert isinstance(result, tuple)
    assert len(result) == 1


def test_nsaid_marked_stopped_does_not_count() -> None:
    ctx = context(
        before=[drug(*IBUPROFEN, status="stopped", started=date(2026, 1, 1))],
        observations=[observation(EGFR, TESTED, 30)],
    )
    assert evaluate(ctx) == ()


def test_text_only_nsaid_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Nurofen 200mg tablets")], observations=[observation(EGFR, TESTED, 30)]
    )
    result = evaluate(ctx)
    assert isinstance(result, tuple)
    (f,) = result
    assert f.unverified is True
